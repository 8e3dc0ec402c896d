"""The vault verification (scheduled in the vault stack): vault age, failed refreshes,
silent production, vault clusters holding an HSM; findings page on the vault's topic."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.alerting.alerts import Alert
from lambdas.alerting.delivery import Repeat
from lambdas.alerting.memory import AlertMemory, signature
from lambdas.shared import runbooks
from lambdas.shared.executions import recent_executions
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.shared.settings import AlertTopics
from lambdas.shared.severity import PAGE
from lambdas.vault.checks import Execution, VaultFinding, check_vault
from lambdas.vault.settings import (
    VAULT_ALERT_MEMORY_TABLE,
    VAULT_PAGE_TOPIC_ARN,
    VAULT_STATE_MACHINE_ARN,
    VaultSettings,
)

LOOK_BACK = timedelta(days=7)


def vault_alert(deployment: str, findings: list[VaultFinding]) -> Alert:
    lines = [f"- {f.code} {f.subject}: {f.message}. Next: {f.next_step}" for f in findings]
    body = (
        f"The recovery-account vault of {deployment} has {len(findings)} finding(s):\n"
        + "\n".join(lines)
        + f"\nRunbook: {runbooks.VAULT}"
    )
    codes = ", ".join(sorted({f.code for f in findings}))
    return Alert(subject=f"{deployment} vault: {codes}"[:99], body=body, severity=PAGE)


def run_verification(
    settings: VaultSettings,
    gateway: CloudHsmGateway,
    executions: list[Execution],
    now: datetime,
) -> list[VaultFinding]:
    return check_vault(
        deployment=settings.deployment_name,
        cluster_ids=settings.cluster_ids,
        owned=list(gateway.iter_backups()),
        shared=list(gateway.iter_shared_backups()),
        clusters=gateway.describe_clusters(),
        executions=executions,
        rpo=timedelta(hours=settings.rpo_hours),
        silent_after=timedelta(hours=settings.silent_after_hours),
        now=now,
    )


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    import boto3

    settings = VaultSettings.from_env()
    now = datetime.now(UTC)
    states = boto3.client("stepfunctions")
    views = recent_executions(states, os.environ[VAULT_STATE_MACHINE_ARN], now - LOOK_BACK)
    executions = [Execution(v.name, v.status, v.start_date) for v in views]
    gateway = CloudHsmGateway.for_region(settings.region)
    findings = run_verification(settings, gateway, executions, now)
    metrics.add_metric(name="VaultFindings", unit=MetricUnit.Count, value=len(findings))
    table = os.environ.get(VAULT_ALERT_MEMORY_TABLE)
    repeat = Repeat(
        AlertMemory(boto3.client("dynamodb"), table) if table else None,
        "vault",
        timedelta(minutes=settings.repeat_alert_minutes),
    )
    if not findings:
        repeat.clear()
        return {"findings": [], "alert_message_id": None}
    topics = AlertTopics(page=os.environ.get(VAULT_PAGE_TOPIC_ARN))
    sent = repeat.publish(
        vault_alert(settings.deployment_name, findings),
        topics,
        signature=signature(f"{f.code}:{f.subject}" for f in findings),
        now=now,
        scheduled=isinstance(event, dict) and event.get("source") == "schedule",
    )
    return {"findings": [f.to_dict() for f in findings], **sent}
