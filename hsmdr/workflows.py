"""Starting and following this deployment's state machines on AWS.

State machines have fixed names (`{deployment_name}-on-demand-backup`, ...), so the
CLI finds them from the deployment config alone, with the caller's credentials.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from presentation.timeline import timeline

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def state_machine_arn(client: Any, name: str) -> str:
    for page in client.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    raise LookupError(
        f"state machine {name} not found: is the stack deployed in this account and region?"
    )


def history(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in client.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


def follow(
    client: Any,
    execution_arn: str,
    *,
    out: TextIO | None = None,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Print each state as it starts, with the elapsed time, until the execution ends.
    `out` defaults to sys.stderr as it is at the call, not as it was at import."""
    out = out or sys.stderr
    started = time.monotonic()
    shown = 0
    while True:
        description = client.describe_execution(executionArn=execution_arn)
        steps = timeline(history(client, execution_arn))
        for step in steps[shown:]:
            elapsed = int(time.monotonic() - started)
            out.write(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {step['state']}\n")
        shown = len(steps)
        out.flush()
        if description["status"] in TERMINAL:
            return execution_document(description, steps)
        sleep(poll_seconds)


def started_or_ended(client: Any, execution_arn: str) -> dict[str, Any]:
    """The document of an execution started without --follow: status STARTED while it
    runs (never SUCCEEDED: nothing has succeeded yet), with how to follow it."""
    description = client.describe_execution(executionArn=execution_arn)
    document = execution_document(description, timeline(history(client, execution_arn)))
    if description["status"] == "RUNNING":
        document["status"] = "STARTED"
        document["follow_command"] = f"hsmdr follow {execution_arn}"
    return document


def started_text(document: dict[str, Any], what: str) -> str:
    return (
        f"{what}: STARTED  ({document['execution_arn']})\n"
        f"It is running. Follow it with: {document['follow_command']}"
    )


def execution_document(description: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    output = description.get("output")
    return {
        "status": "SUCCEEDED" if description["status"] == "SUCCEEDED" else "FAILED",
        "execution_status": description["status"],
        "execution_arn": description["executionArn"],
        "error": description.get("error"),
        "cause": description.get("cause"),
        "output": json.loads(output) if output else None,
        "timeline": steps,
    }
