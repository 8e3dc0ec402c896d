"""Step Functions and lock-table reads the health check needs, as small typed calls."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdas.shared.errors import InvalidInput

_RECENT_PAGES = 3  # newest first, 100 a page: far more than a day of replacements


def stopped_execution(event: Mapping[str, Any]) -> tuple[str, str]:
    """(execution ARN, status) of the "Step Functions Execution Status Change" event a
    workflow's stopped rule delivers; anything else is refused."""
    detail = event.get("detail") or {}
    execution, status = str(detail.get("executionArn") or ""), str(detail.get("status") or "")
    if not execution.startswith("arn:"):
        raise InvalidInput("detail.executionArn", "an execution status change event is expected")
    return execution, status


# What Step Functions answers for an execution that does not (or cannot) exist.
_NO_SUCH_EXECUTION = frozenset({"ExecutionDoesNotExist", "InvalidArn"})


def execution_running(client: Any, execution_arn: str) -> bool:
    """False for anything that is not a running execution (a manual holder, a stale ARN).
    An execution this role may not read, or a failed read, counts as running: taking
    over the lock of a run in progress is the one mistake a lock exists to prevent."""
    if not execution_arn.startswith("arn:"):
        return False
    from botocore.exceptions import ClientError

    try:
        status = client.describe_execution(executionArn=execution_arn)["status"]
    except ClientError as error:
        return error.response.get("Error", {}).get("Code") not in _NO_SUCH_EXECUTION
    return bool(status == "RUNNING")


def recent_executions(client: Any, state_machine_arn: str, since: datetime) -> list[ExecutionView]:
    """Executions started since `since`, newest first (ListExecutions' own order)."""
    found: list[ExecutionView] = []
    pages = client.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn, PaginationConfig={"PageSize": 100}
    )
    for number, page in enumerate(pages):
        for raw in page["executions"]:
            started = _utc(raw["startDate"])
            if started < since:
                return found
            arn = str(raw["executionArn"])
            name = str(raw.get("name") or arn.rsplit(":", 1)[-1])  # the ARN ends with it
            found.append(ExecutionView(name, arn, raw["status"], started))
        if number + 1 >= _RECENT_PAGES:
            break
    return found


def start_once(
    client: Any, state_machine_arn: str, name: str, execution_input: dict[str, Any]
) -> tuple[str, bool]:
    """(execution ARN, whether this call started it). A name already used (a duplicate
    run of the check in the same time bucket) answers with the existing execution."""
    from botocore.exceptions import ClientError

    try:
        response = client.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
        return execution_arn_of(state_machine_arn, name), False
    return str(response["executionArn"]), True


def state_machine_of(execution_arn: str) -> str:
    """arn:...:execution:MACHINE:NAME -> arn:...:stateMachine:MACHINE."""
    return execution_arn.replace(":execution:", ":stateMachine:", 1).rsplit(":", 1)[0]


def execution_arn_of(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def read_lock(client: Any, table: str, cluster_id: str, now: datetime) -> LockView | None:
    """The cluster lock's holder, or None when free or expired (read-only)."""
    item = client.get_item(
        TableName=table, Key={"cluster_id": {"S": cluster_id}}, ConsistentRead=True
    ).get("Item")
    if item is None or int(item["expires_at"]["N"]) < now.timestamp():
        return None
    return LockView(
        holder=item["holder"]["S"],
        purpose=item["purpose"]["S"],
        acquired_at=datetime.fromtimestamp(int(item["acquired_at"]["N"]), UTC),
    )


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def last_job(client: Any, execution_arn: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the execution's input, the newest `job` a state of it passed on, or None).

    A workflow keeps what it planned and created at `$.job`; the newest state output
    holding one is what the execution knew when it stopped."""
    described = client.describe_execution(executionArn=execution_arn)
    execution_input = _json_object(described.get("input"))
    pages = client.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, reverseOrder=True, includeExecutionData=True
    )
    best: tuple[int, dict[str, Any]] | None = None
    for page in pages:
        events = page["events"]
        for event in events:
            details = event.get("stateExitedEventDetails") or {}
            job = _json_object(details.get("output")).get("job")
            newer = best is None or int(event["id"]) > best[0]
            if newer and isinstance(job, dict) and isinstance(job.get("plan"), dict):
                best = (int(event["id"]), job)
        newest_first = [int(e["id"]) for e in events] == sorted(
            (int(e["id"]) for e in events), reverse=True
        )
        if best is not None and newest_first:
            break  # pages come newest first: nothing later can be newer
    return execution_input, None if best is None else best[1]


def _json_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class LockView:
    holder: str
    purpose: str
    acquired_at: datetime


@dataclass(frozen=True)
class ExecutionView:
    name: str
    execution_arn: str
    status: str
    start_date: datetime
