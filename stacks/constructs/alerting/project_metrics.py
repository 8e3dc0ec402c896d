"""The metrics this project's functions emit, as alarms and dashboards must name them.

Powertools adds the dimension service=<the function's service name> to every metric
it emits (single metrics included), and CloudWatch identifies a metric by its full
set of dimensions: an alarm on {ClusterId} alone would never see a datapoint of a
metric emitted with {ClusterId, service}.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from lambdas.shared.copies import copy_freshness_limit
from lambdas.shared.env import METRICS_NAMESPACE
from stacks.config import DeploymentConfig, ProtectedClusterConfig, schedule_interval_minutes
from stacks.constructs.alerting.alerting import ALARM_PERIOD

ALARM_RED = "#d62728"


def project_metric(
    service: str,
    name: str,
    *,
    dimensions: Mapping[str, str] | None = None,
    statistic: str = "Maximum",
    period: Duration = ALARM_PERIOD,
    region: str | None = None,
    label: str | None = None,
) -> cloudwatch.Metric:
    """A CloudHsmDr metric as the function whose service name is `service` emits it."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={**(dimensions or {}), "service": service},
        statistic=statistic,
        period=period,
        region=region,
        label=label,
    )


def schedule_period(expression: str) -> Duration:
    """One run of a schedule (a day at most): the period of the metrics its function
    emits, so that every period holds one datapoint."""
    return Duration.minutes(min(schedule_interval_minutes(expression), 24 * 60))


def cluster_label(cluster: ProtectedClusterConfig) -> str:
    return f"{cluster.name} ({cluster.id})" if cluster.name else cluster.id


def copy_limit_seconds(config: DeploymentConfig, cluster: ProtectedClusterConfig) -> float:
    """The copy freshness limit of the verification's COPY_MISSING rule, in seconds."""
    backups = config.backup_settings()
    limit = copy_freshness_limit(
        timedelta(hours=cluster.rpo_hours or config.rpo_hours),
        timedelta(minutes=backups.copy_interval_minutes),
        timedelta(minutes=backups.copy_stuck_after_minutes),
    )
    return limit.total_seconds()
