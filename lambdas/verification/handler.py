"""Scheduled backup verification: read every protected cluster, report, alert."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.alerting.alerts import finding_severity
from lambdas.alerting.delivery import Repeat, memory_of
from lambdas.alerting.memory import findings_signature
from lambdas.shared.env import METRICS_NAMESPACE, Env
from lambdas.shared.errors import InvalidInput
from lambdas.shared.findings import Finding
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.shared.settings import BackupSettings, VerificationSettings
from lambdas.shared.severity import PAGE
from lambdas.verification.alerts import verification_alert
from lambdas.verification.checks import VerificationReport
from lambdas.verification.run import run_verification


@dataclass(frozen=True)
class VerifyBackupsRequest:
    """The event: `{"source": "schedule"}` from the schedule; on-call may narrow it."""

    cluster_ids: tuple[str, ...] | None = None
    publish_alert: bool = True
    scheduled: bool = False  # a scheduled run does not repeat a message it sent lately


def parse_request(event: Any, settings: VerificationSettings) -> VerifyBackupsRequest:
    event = event or {}
    if not isinstance(event, dict):
        raise InvalidInput("event", "must be a JSON object")
    cluster_ids = settings.requested_cluster_ids(event)
    publish_alert = event.get("publish_alert", True)
    if not isinstance(publish_alert, bool):
        raise InvalidInput("publish_alert", "must be true or false")
    return VerifyBackupsRequest(
        cluster_ids=cluster_ids,
        publish_alert=publish_alert,
        scheduled=event.get("source") == "schedule" and cluster_ids is None,
    )


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = VerificationSettings.from_env()
    request = parse_request(event, settings)
    # With DR regions in the config, the same run checks their copies.
    backups = BackupSettings.from_env() if Env.BACKUP_SETTINGS in os.environ else None
    report = run_verification(
        settings, CloudHsmGateway.for_region, cluster_ids=request.cluster_ids, backups=backups
    )
    _emit_metrics(report)
    result = report.to_dict()
    repeat = Repeat(memory_of(settings), "verification", settings.repeat_every)
    if report.status != "SUCCEEDED":
        logger.warning("backup verification found problems", extra={"findings": result["findings"]})
        if request.publish_alert:
            result.update(
                repeat.publish(
                    verification_alert(report),
                    settings.alert_topics,
                    signature=findings_signature(_triples(report.findings)),
                    now=report.checked_at,
                    scheduled=request.scheduled,
                )
            )
    elif request.cluster_ids is None:
        repeat.clear()  # every cluster is fine again
    if repeat.problems:
        logger.warning("alert memory unavailable", extra={"problems": repeat.problems})
        result["alert_memory_problems"] = repeat.problems
    return result


def _triples(findings: Iterable[Finding]) -> list[tuple[str, str, str]]:
    return [(f.code.value, f.cluster_id, f.message) for f in findings]


def _emit_metrics(report: VerificationReport) -> None:
    metrics.add_metric("VerificationFindings", MetricUnit.Count, len(report.findings))
    # What the page alarm watches: findings that put a recovery point at risk.
    paging = [f for f in report.findings if finding_severity(f) == PAGE]
    metrics.add_metric("PagingFindings", MetricUnit.Count, len(paging))
    for cluster in report.clusters:
        _cluster_metric("ClusterFindings", MetricUnit.Count, len(cluster.findings), cluster.spec.id)
        if cluster.backup_age is not None:
            age = cluster.backup_age.total_seconds()
            _cluster_metric("BackupAgeSeconds", MetricUnit.Seconds, age, cluster.spec.id)


def _cluster_metric(name: str, unit: MetricUnit, value: float, cluster_id: str) -> None:
    # One EMF document per value: a single-metric document carries one metric only,
    # and its ClusterId dimension must not leak into the handler's shared metrics.
    with single_metric(name=name, unit=unit, value=value, namespace=METRICS_NAMESPACE) as metric:
        metric.add_dimension("ClusterId", cluster_id)
