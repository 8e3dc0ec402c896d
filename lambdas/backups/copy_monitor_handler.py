"""The DR region's copy monitor: are fresh READY copies of every protected cluster here?"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.alerting.delivery import Repeat, alert_fields, memory_of
from lambdas.alerting.memory import findings_signature
from lambdas.backups.copy_alerts import copy_monitor_alert
from lambdas.backups.copy_monitor import CopyMonitorReport, monitor_copies
from lambdas.backups.primary_watch import PrimaryWatch, last_report, reporting
from lambdas.shared.env import METRICS_NAMESPACE
from lambdas.shared.errors import InvalidInput
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.shared.settings import BackupSettings, VerificationSettings


def parse_publish_alert(event: Any) -> bool:
    event = event or {}
    if not isinstance(event, dict):
        raise InvalidInput("event", "must be a JSON object")
    publish_alert = event.get("publish_alert", True)
    if not isinstance(publish_alert, bool):
        raise InvalidInput("publish_alert", "must be true or false")
    return publish_alert


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = VerificationSettings.from_env()
    backups = BackupSettings.from_env()
    publish_alert = parse_publish_alert(event)
    scheduled = isinstance(event, dict) and event.get("source") == "schedule"
    # The function's own region: the one whose copies it watches.
    gateway = CloudHsmGateway.for_region(os.environ["AWS_REGION"])
    report = monitor_copies(settings, backups, gateway)
    _emit_metrics(report)
    result = report.to_dict()
    repeat = Repeat(memory_of(settings), f"copy-monitor#{report.region}", settings.repeat_every)
    primary = _primary_reporting(report.checked_at)
    result["primary_verification_last_report"] = primary.isoformat() if primary else None
    if report.status != "SUCCEEDED":
        logger.warning("copy monitor found problems", extra={"findings": result["findings"]})
        if publish_alert and primary is not None:
            # The primary's verification reports these copies: one message, not two.
            result.update(alert_fields(None), alert_held_back=True)
        elif publish_alert:
            result.update(
                repeat.publish(
                    copy_monitor_alert(report),
                    settings.alert_topics,
                    signature=findings_signature(
                        (f.code.value, f.cluster_id, f.message) for f in report.findings
                    ),
                    now=report.checked_at,
                    scheduled=scheduled,
                )
            )
    else:
        repeat.clear()
    if repeat.problems:
        logger.warning("alert memory unavailable", extra={"problems": repeat.problems})
        result["alert_memory_problems"] = repeat.problems
    return result


def _primary_reporting(now: datetime) -> datetime | None:
    """When the primary region's verification last reported, if it still does."""
    watch = PrimaryWatch.from_env()
    if watch is None:
        return None
    last = last_report(watch, now)
    return last if last is not None and reporting(last, now, watch.silent_after) else None


def _emit_metrics(report: CopyMonitorReport) -> None:
    metrics.add_metric("CopyFindings", MetricUnit.Count, len(report.findings))
    for cluster in report.clusters:
        age = cluster.status.newest_age(report.checked_at)
        if age is None:
            continue
        with single_metric(
            name="NewestCopyAgeSeconds",
            unit=MetricUnit.Seconds,
            value=age.total_seconds(),
            namespace=METRICS_NAMESPACE,
        ) as metric:
            metric.add_dimension("ClusterId", cluster.spec.id)
            metric.add_dimension("Region", report.region)
