"""Executions that stop (ABORTED, TIMED_OUT) in the sandbox, and what EventBridge then
does with their "Step Functions Execution Status Change" event: the deployed rules whose
pattern matches it deliver it to their targets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sandbox.deployment import Deployment
from sandbox.service_delivery import Delivery
from sandbox.session import Sandbox


def status_change_event(execution_arn: str, status: str) -> dict[str, Any]:
    region, account = execution_arn.split(":")[3], execution_arn.split(":")[4]
    state_machine = execution_arn.replace(":execution:", ":stateMachine:", 1).rsplit(":", 1)[0]
    return {
        "version": "0",
        "id": "6b3f7a7e-0000-4000-8000-000000000000",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": account,
        "time": datetime.now(UTC).isoformat(),
        "region": region,
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": state_machine,
            "status": status,
        },
    }


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
    sfn.stop_execution(executionArn=arn, error="Sandbox.Abort", cause="aborted by the test")
    return arn


def deliver_stopped(
    deployment: Deployment, execution_arn: str, status: str = "ABORTED"
) -> list[Delivery]:
    """What EventBridge does with the execution's status change: every rule of the
    stack whose pattern matches it delivers it (as events.amazonaws.com)."""
    return deployment.put_event(status_change_event(execution_arn, status))
