"""The HSM health check: on a schedule, and when an HsmUnhealthy alarm fires.

Compares each protected cluster with its desired topology, starts the replacement
workflow for a failed HSM (when `hsm_replacement.auto_replace` is on and no workflow
holds the cluster), emits per-cluster metrics and sends one alert per run that found
something a person must hear about.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.alerting.delivery import alert_fields, memory_of, publish
from lambdas.alerting.memory import AlertMemory, Remembered
from lambdas.replacement.alerts import health_alert
from lambdas.replacement.health import (
    FAILED_RETRY_AFTER,
    HEALTHY,
    NEEDS_ATTENTION,
    cluster_of_alarm,
)
from lambdas.replacement.health_run import (
    HealthEntry,
    HealthReport,
    entry_signature,
    memory_key,
    run_health_check,
    split_due,
)
from lambdas.replacement.settings import ReplacementSettings
from lambdas.shared.env import METRICS_NAMESPACE, Env
from lambdas.shared.errors import InvalidInput
from lambdas.shared.executions import LockView
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.observability import logger, tracer
from lambdas.shared.settings import VerificationSettings

ALARM_SOURCE = "aws.cloudwatch"


@dataclass(frozen=True)
class HealthRequest:
    cluster_ids: tuple[str, ...] | None
    trigger: str
    auto_replace: bool
    publish_alert: bool


def parse_request(
    event: Any, settings: VerificationSettings, replacement: ReplacementSettings
) -> HealthRequest:
    """`{"source": "schedule"}`, an EventBridge "CloudWatch Alarm State Change" event,
    or an operator's `{"cluster_ids": [...], "auto_replace": false, "publish_alert": false}`."""
    event = event or {}
    if not isinstance(event, dict):
        raise InvalidInput("event", "must be a JSON object")
    known = [c.id for c in settings.clusters]
    if event.get("source") == ALARM_SOURCE:
        name = str((event.get("detail") or {}).get("alarmName", ""))
        cluster_id = cluster_of_alarm(name, known)
        # An alarm we cannot map still checks everything: never ignore a page.
        ids = (cluster_id,) if cluster_id else None
        return HealthRequest(ids, f"alarm {name}", replacement.auto_replace, True)
    cluster_ids = settings.requested_cluster_ids(event)
    flags = {}
    for name, default in (("auto_replace", replacement.auto_replace), ("publish_alert", True)):
        value = event.get(name, default)
        if not isinstance(value, bool):
            raise InvalidInput(name, "must be true or false")
        flags[name] = value
    return HealthRequest(
        cluster_ids=cluster_ids,
        trigger=str(event.get("source") or "manual"),
        # The event can turn automatic replacement off for one run, never on.
        auto_replace=flags["auto_replace"] and replacement.auto_replace,
        publish_alert=flags["publish_alert"],
    )


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    import boto3

    from lambdas.shared.executions import (
        execution_running,
        read_lock,
        recent_executions,
        start_once,
    )

    settings = VerificationSettings.from_env()
    replacement = ReplacementSettings.from_env()
    request = parse_request(event, settings, replacement)
    specs = [
        c for c in settings.clusters if request.cluster_ids is None or c.id in request.cluster_ids
    ]
    machine = os.environ[Env.REPLACE_HSM_STATE_MACHINE_ARN]
    sfn = boto3.client("stepfunctions")
    dynamodb = boto3.client("dynamodb")
    table = os.environ[Env.LOCK_TABLE]
    now = datetime.now(UTC)

    def live_lock(cluster_id: str) -> LockView | None:
        lock = read_lock(dynamodb, table, cluster_id, now)
        # A holder whose execution ended left a stale lock: the next workflow takes it over.
        if lock is None or not execution_running(sfn, lock.holder):
            return None
        return lock

    report = run_health_check(
        specs,
        deployment_name=settings.deployment_name,
        trigger=request.trigger,
        auto_replace=request.auto_replace,
        gateway_for=CloudHsmGateway.for_region,
        lock_of=live_lock,
        recent=lambda: recent_executions(sfn, machine, now - FAILED_RETRY_AFTER),
        start=lambda name, data: start_once(sfn, machine, name, data),
        now=now,
    )
    _emit_metrics(report)
    result = report.to_dict()
    result.update(alert_fields(None))
    result["alerts_held_back"] = []
    memory = memory_of(settings)
    if memory is not None:
        _forget_recovered(report, memory)
    if report.alerting and request.publish_alert:
        result.update(
            _alert(
                report,
                request,
                memory=memory,
                now=now,
                settings=settings,
            )
        )
    if memory is not None and memory.problems:
        logger.warning("alert memory unavailable", extra={"problems": memory.problems})
        result["alert_memory_problems"] = list(memory.problems)
    if report.status != "SUCCEEDED":
        logger.warning("HSM health problems", extra={"clusters": result["clusters"]})
    return result


def _alert(
    report: HealthReport,
    request: HealthRequest,
    *,
    memory: AlertMemory | None,
    now: datetime,
    settings: VerificationSettings,
) -> dict[str, Any]:
    """Send what is due; remember what was sent. A person running the check by hand
    always gets the message."""
    repeat_after = settings.repeat_every
    send: tuple[HealthEntry, ...] = report.alerting
    held: tuple[HealthEntry, ...] = ()
    if request.trigger != "manual" and memory is not None:
        send, held = split_due(report.alerting, memory.recall, now, repeat_after)
    fields: dict[str, Any] = {"alerts_held_back": [e.health.spec.id for e in held]}
    if held:
        logger.info(
            "still the same problem, paged less than the repeat interval ago",
            extra={"clusters": fields["alerts_held_back"]},
        )
    if not send:
        return fields
    fields.update(alert_fields(publish(health_alert(report, send), settings.alert_topics)))
    for entry in send:
        if memory is not None and entry.decision.status == NEEDS_ATTENTION:
            sent = Remembered(entry_signature(entry), now)
            memory.remember(memory_key(entry), sent, keep_for=2 * repeat_after)
    return fields


def _forget_recovered(report: HealthReport, memory: AlertMemory) -> None:
    """A healthy cluster's next problem is news, even if it looks like the last one."""
    for entry in report.entries:
        if entry.decision.status == HEALTHY and memory.recall(memory_key(entry)):
            memory.forget(memory_key(entry))


def _emit_metrics(report: HealthReport) -> None:
    for entry in report.entries:
        health = entry.health
        for name, value in (
            ("HealthyHsms", health.healthy_hsms),
            ("DesiredHsms", health.desired_hsms),
            ("DegradedHsms", health.degraded_hsms),
        ):
            # One EMF document per value, with the ClusterId dimension the alarms use.
            with single_metric(
                name=name, unit=MetricUnit.Count, value=value, namespace=METRICS_NAMESPACE
            ) as metric:
                metric.add_dimension("ClusterId", health.spec.id)
