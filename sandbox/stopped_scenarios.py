"""Executions that stop (ABORTED, TIMED_OUT) in the sandbox, and what EventBridge then
does with their "Step Functions Execution Status Change" event: the deployed rules whose
pattern matches it deliver it to their targets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sandbox.deployment import Deployment
from sandbox.execution_holds import held_at_a_wait
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
    says it reached the point under test; returns its ARN.

    The execution itself asks `ready()` at the end of each of its poll waits and, once
    it holds, waits there until it is stopped: it cannot run past the point while this
    thread looks, however fast the emulator or loaded the machine. (`ready` reads the
    emulated world directly; it runs in the execution's thread.)"""
    import boto3

    sfn = boto3.client("stepfunctions", region_name=sandbox.config.region)
    with held_at_a_wait(ready) as hold:
        arn = str(
            sfn.start_execution(
                stateMachineArn=sandbox.deployment.state_machine_arn(state_machine),
                input=json.dumps(execution_input),
            )["executionArn"]
        )
        deadline = time.monotonic() + timeout
        while not hold.held.wait(0.05):
            if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                raise AssertionError(f"{arn} ended before the point it was to be aborted at")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{arn} did not reach the point to abort it at in {timeout}s")
        sandbox.deployment.stop_execution(arn, cause="aborted by the test", announce=False)
    return arn


def deliver_stopped(
    deployment: Deployment, execution_arn: str, status: str = "ABORTED"
) -> list[Delivery]:
    """What EventBridge does with the execution's status change: every rule of the
    stack whose pattern matches it delivers it (as events.amazonaws.com)."""
    return deployment.put_event(status_change_event(execution_arn, status))
