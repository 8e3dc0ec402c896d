"""The copy job: copy the newest backups to the DR regions, track and prune the copies,
keep golden backups and the retention policy as the config says."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.alerting.delivery import publish
from lambdas.backups.copy_alerts import copy_job_alert
from lambdas.backups.copy_job import run_copy_job
from lambdas.backups.copy_report import CopyJobReport
from lambdas.shared.env import METRICS_NAMESPACE
from lambdas.shared.errors import InvalidInput
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.shared.settings import BackupSettings, VerificationSettings


@dataclass(frozen=True)
class CopyBackupsRequest:
    """The event: `{"source": "schedule"}` from the schedule; on-call may narrow it."""

    cluster_ids: tuple[str, ...] | None = None
    dry_run: bool = False
    publish_alert: bool = True


def parse_request(event: Any, settings: VerificationSettings) -> CopyBackupsRequest:
    event = event or {}
    if not isinstance(event, dict):
        raise InvalidInput("event", "must be a JSON object")
    cluster_ids = settings.requested_cluster_ids(event)
    flags = {}
    for name, default in (("dry_run", False), ("publish_alert", True)):
        value = event.get(name, default)
        if not isinstance(value, bool):
            raise InvalidInput(name, "must be true or false")
        flags[name] = value
    return CopyBackupsRequest(
        cluster_ids=cluster_ids,
        dry_run=flags["dry_run"],
        publish_alert=flags["publish_alert"],
    )


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = VerificationSettings.from_env()
    backups = BackupSettings.from_env()
    request = parse_request(event, settings)
    report = run_copy_job(
        settings,
        backups,
        CloudHsmGateway.for_region,
        cluster_ids=request.cluster_ids,
        dry_run=request.dry_run,
        log=lambda message, fields: logger.info(message, extra=fields),
    )
    if not request.dry_run:
        report = replace(report, trust_anchor=replicate_trust_anchor(settings, backups))
    _emit_metrics(report)
    result = report.to_dict()
    alerts: list[dict[str, str]] = []
    if report.status != "SUCCEEDED":
        logger.warning("copy job found problems", extra={"findings": result["findings"]})
        # A dry run pages nobody: it only shows what a real run would do.
        if request.publish_alert and not request.dry_run:
            alert = copy_job_alert(report)
            sent = publish(alert, settings.alert_topics)
            if sent is not None:
                alerts.append({"subject": alert.subject, **sent})
    result["alerts"] = alerts
    return result


def replicate_trust_anchor(
    settings: VerificationSettings, backups: BackupSettings
) -> dict[str, dict[str, Any]]:
    """Copy customerCA.crt to every DR region on every run, so a restore there finds it
    even when the primary region is gone (restore.trust_anchor_parameter)."""
    if not backups.trust_anchor_parameter or not backups.dr_regions:
        return {}
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from lambdas.shared.trust_anchor import copy_trust_anchor

    primary = os.environ["AWS_REGION"]  # the main stack's region holds the parameter
    results: dict[str, dict[str, Any]] = {}
    for region in backups.dr_regions:
        try:
            results[region] = copy_trust_anchor(
                parameter=backups.trust_anchor_parameter,
                primary_region=primary,
                target_region=region,
                deployment=settings.deployment_name,
                primary_ssm=boto3.client("ssm", region_name=primary),
                target_ssm=boto3.client("ssm", region_name=region),
            )
        except (ClientError, BotoCoreError) as error:
            results[region] = {
                "status": "FAILED",
                "note": f"trust anchor: could not be written in {region}: {error}",
            }
    return results


def _emit_metrics(report: CopyJobReport) -> None:
    if report.dry_run:
        return  # metrics describe what happened, and a dry run changes nothing
    metrics.add_metric("CopiesCreated", MetricUnit.Count, report.copies_created)
    metrics.add_metric("CopiesFailed", MetricUnit.Count, report.copies_failed)
    metrics.add_metric("CopiesPruned", MetricUnit.Count, report.copies_pruned)
    for cluster_id, region, age in report.newest_copy_ages():
        # One EMF document per value: its dimensions stay out of the shared metrics.
        with single_metric(
            name="NewestCopyAgeSeconds",
            unit=MetricUnit.Seconds,
            value=age.total_seconds(),
            namespace=METRICS_NAMESPACE,
        ) as metric:
            metric.add_dimension("ClusterId", cluster_id)
            metric.add_dimension("Region", region)
