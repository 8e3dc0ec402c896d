"""The vault refresh state machine's step function: one entry point, the `step` field of
the event says which step (lambdas/vault/steps.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.shared.errors import InvalidInput
from lambdas.shared.executions import last_job, stopped_execution
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.observability import logger, tracer
from lambdas.vault import steps
from lambdas.vault.settings import VaultSettings

Step = Callable[..., dict[str, Any]]
# Steps given the whole event, and steps given the job the state machine carries.
EVENT_STEPS: dict[str, Step] = {
    "plan": steps.plan,
    "maintain": steps.maintain,
    "record_capture": steps.record_capture,
}
JOB_STEPS: dict[str, Step] = {
    "create_cluster": steps.create_cluster,
    "check_cluster": steps.check_cluster,
    "plan_hsm": steps.plan_hsm,
    "create_hsm": steps.create_hsm,
    "check_hsm": steps.check_hsm,
    "delete_hsm": steps.delete_hsm,
    "open_capture_network": steps.open_capture_network,
    "tag_backup": steps.tag_backup,
    "finish_cluster": steps.finish_cluster,
    "cleanup": steps.cleanup,
}


def run_step(
    event: dict[str, Any],
    settings: VaultSettings,
    gateway_for: Callable[[str], CloudHsmGateway],
    now: datetime,
) -> dict[str, Any]:
    name = event.get("step") if isinstance(event, dict) else None
    if name in EVENT_STEPS:
        return EVENT_STEPS[name](event, settings, gateway_for, now)
    if name in JOB_STEPS:
        job = event.get("job")
        if not isinstance(job, dict):
            raise InvalidInput("job", "must be the JSON object the previous step returned")
        return JOB_STEPS[name](job, settings=settings, gateway_for=gateway_for, now=now)
    raise InvalidInput("step", f"unknown step {name!r}")


def after_stopped(
    event: dict[str, Any],
    settings: VaultSettings,
    gateway_for: Callable[[str], CloudHsmGateway],
    states: Any,
) -> dict[str, Any]:
    """A TIMED_OUT or ABORTED refresh ran no Catch: run its clean-up from the newest job
    its history holds (the HSM it recorded creating, tags re-read before the delete)."""
    execution, status = stopped_execution(event)
    _, job = last_job(states, execution)
    if job is None or not isinstance(job.get("run"), dict):
        return {"execution": execution, "status": status, "cleanup": None}
    cleaned = steps.cleanup(job, settings=settings, gateway_for=gateway_for)
    return {"execution": execution, "status": status, "cleanup": cleaned}


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = VaultSettings.from_env()
    if isinstance(event, dict) and "detail" in event and "step" not in event:
        import boto3

        result = after_stopped(
            event, settings, CloudHsmGateway.for_region, boto3.client("stepfunctions")
        )
        logger.warning("vault refresh stopped", extra=result)
        return result
    return run_step(event, settings, CloudHsmGateway.for_region, datetime.now(UTC))
