"""Executions that stop (ABORTED, TIMED_OUT) in the sandbox, and what EventBridge then
does with their "Step Functions Execution Status Change" event: the deployed rules whose
pattern matches it deliver it to their targets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sandbox.deployment import Deployment
from sandbox.service_delivery import Delivery, status_change_event
from sandbox.session import Sandbox


def abort_when(
    sandbox: Sandbox,
    state_machine: str,
    execution_input: dict[str, Any],
    ready: Callable[[], bool],
    *,
    timeout: float = 120,
) -> str:
    """Start an execution and abort it (StopExecution, as a person would) once `ready()`
    says it reached the point under test; returns its ARN."""
    import boto3

    sfn = boto3.client("stepfunctions", region_name=sandbox.config.region)
    arn = str(
        sfn.start_execution(
            stateMachineArn=sandbox.deployment.state_machine_arn(state_machine),
            input=json.dumps(execution_input),
        )["executionArn"]
    )
    deadline = time.monotonic() + timeout
    while not ready():
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            raise AssertionError(f"{arn} ended before the point it was to be aborted at")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{arn} did not reach the point to abort it at in {timeout}s")
        time.sleep(0.2)
    sandbox.deployment.stop_execution(arn, cause="aborted by the test", announce=False)
    return arn


def deliver_stopped(
    deployment: Deployment, execution_arn: str, status: str = "ABORTED"
) -> list[Delivery]:
    """What EventBridge does with the execution's status change: every rule of the
    stack whose pattern matches it delivers it (as events.amazonaws.com)."""
    return deployment.put_event(status_change_event(execution_arn, status))
