"""Daily: how long since the last successful DR drill (DaysSinceSuccessfulDrill)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.drill.watch import (
    DAYS_SINCE_SUCCESSFUL_DRILL,
    DRILL_SUCCEEDED,
    RESOLUTION_SECONDS,
    DrillWatchSettings,
    watch,
)
from lambdas.shared.observability import logger, metrics, tracer


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = DrillWatchSettings.from_env()
    now = datetime.now(UTC)
    points = {region: list(drill_results(settings, region, now)) for region in settings.regions}
    report = watch(settings, points, now)
    metrics.add_metric(DAYS_SINCE_SUCCESSFUL_DRILL, MetricUnit.Count, report.days_since_success)
    result = report.to_dict()
    if report.overdue:
        logger.warning("no successful DR drill within the period", extra=result)
    return result


def drill_results(
    settings: DrillWatchSettings, region: str, now: datetime
) -> Iterator[tuple[datetime, float]]:
    """Hourly Maximum of DrillSucceeded over the lookback window in one region."""
    import boto3

    client = boto3.client("cloudwatch", region_name=region)
    paginator = client.get_paginator("get_metric_data")
    query = {
        "Id": "drill",
        "MetricStat": {
            "Metric": {
                "Namespace": settings.namespace,
                "MetricName": DRILL_SUCCEEDED,
                "Dimensions": [{"Name": k, "Value": v} for k, v in settings.dimensions],
            },
            "Period": RESOLUTION_SECONDS,
            "Stat": "Maximum",
        },
    }
    # The end is one period ahead: the hour in progress holds a drill that just ended.
    end = now + timedelta(seconds=RESOLUTION_SECONDS)
    for page in paginator.paginate(
        MetricDataQueries=[query], StartTime=now - settings.lookback, EndTime=end
    ):
        for result in page["MetricDataResults"]:
            yield from zip(result["Timestamps"], result["Values"], strict=True)
