"""Starting and following this deployment's state machines on AWS.

State machines have fixed names (`{deployment_name}-on-demand-backup`, ...), so the
CLI finds them from the deployment config alone, with the caller's credentials.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from presentation.phases import live_lines, passed_phase_line, phase_line, progress, workflow_of
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


class Detached(KeyboardInterrupt):
    """Ctrl-C while following: the CLI stops watching; the workflow keeps running."""

    def __init__(self, execution_arn: str) -> None:
        super().__init__(
            f"detached: the workflow keeps running in Step Functions; re-attach with: "
            f"hsmdr follow {execution_arn}"
        )
        self.execution_arn = execution_arn


CLUSTER_ID = re.compile(r"\bcluster-[a-z0-9]{6,}\b")


def cluster_ids(events: list[dict[str, Any]]) -> list[str]:
    """The clusters an execution names in its input and its steps' outputs, in order."""
    found: dict[str, None] = {}
    for event in events:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                for text in (details.get("input"), details.get("output")):
                    found.update(dict.fromkeys(CLUSTER_ID.findall(text or "")))
    return list(found)


def hsm_states(region: str) -> Callable[[list[str]], list[dict[str, str]]]:
    """Each HSM of these clusters with its state (CloudHSM DescribeClusters); nothing
    when the clusters cannot be read (the view goes on without them)."""
    import boto3

    cloudhsm = boto3.client("cloudhsmv2", region_name=region)

    def read(clusters: list[str]) -> list[dict[str, str]]:
        if not clusters:
            return []
        try:
            found = cloudhsm.describe_clusters(Filters={"clusterIds": clusters})["Clusters"]
        except Exception:  # a view: the execution's status still shows without them
            return []
        return [
            {
                "cluster_id": str(c["ClusterId"]),
                "hsm_id": str(h.get("HsmId", "")),
                "zone": str(h.get("AvailabilityZone", "")),
                "state": str(h.get("State", "")),
            }
            for c in found
            for h in c.get("Hsms", [])
        ]

    return read


def follow(
    client: Any,
    execution_arn: str,
    *,
    out: TextIO | None = None,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    hsms: Callable[[list[str]], list[dict[str, str]]] | None = None,
    live: bool | None = None,
) -> dict[str, Any]:
    """Show the run's phase, each HSM's state, the time since the execution started and
    an estimate from the expected durations (presentation/phases.py) until it ends: a
    view redrawn in place on a terminal, one line per phase change otherwise. `out`
    defaults to sys.stderr as it is at the call. Ctrl-C raises Detached."""
    out = out or sys.stderr
    sleep = sleep or time.sleep  # looked up at the call, as `out` is
    live = out.isatty() if live is None else live
    machine = execution_arn.split(":")[6] if execution_arn.count(":") >= 7 else ""
    workflow = workflow_of(machine)
    read_hsms = hsms or hsm_states(execution_arn.split(":")[3])
    drawn = 0
    written = 0  # phases written so far (log output)
    try:
        while True:
            description = client.describe_execution(executionArn=execution_arn)
            events = history(client, execution_arn)
            steps = timeline(events)
            started = _started(description, steps, now)
            seen = progress(workflow, steps, started=started, now=now())
            status = str(description["status"])
            if live:
                lines = live_lines(
                    workflow, seen, status, read_hsms(cluster_ids(events)), execution_arn
                )
                out.write((f"\x1b[{drawn}F\x1b[J" if drawn else "") + "\n".join(lines) + "\n")
                drawn = len(lines)
            elif len(seen.entered) > written:
                # Every phase entered since the last look, the short ones too.
                for name, entered_at in seen.entered[written:-1]:
                    out.write(passed_phase_line(name, entered_at, started) + "\n")
                out.write(phase_line(seen, read_hsms(cluster_ids(events))) + "\n")
                written = len(seen.entered)
            out.flush()
            if status in TERMINAL:
                return execution_document(description, steps)
            sleep(poll_seconds)
    except KeyboardInterrupt:
        if live and drawn:
            out.write("\n")  # below the view, which stays on the screen
        raise Detached(execution_arn) from None


def _started(
    description: dict[str, Any], steps: list[dict[str, Any]], now: Callable[[], datetime]
) -> datetime:
    """When the execution started (not when following began)."""
    value = description.get("startDate")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if steps and steps[0].get("start"):
        return datetime.fromisoformat(str(steps[0]["start"]))
    return now()


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
