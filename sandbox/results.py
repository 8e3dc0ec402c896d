"""What the sandbox reports back: deployed resources, invocations, executions, schedules."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class SandboxError(Exception):
    """The sandbox cannot do what was asked (not a failure of the code under test)."""


class SandboxLookupError(SandboxError, LookupError):
    """No (or more than one) deployed resource answers to the given name."""


@dataclass(frozen=True)
class DeployedResource:
    logical_id: str
    resource_type: str
    physical_id: str
    attributes: dict[str, Any]
    properties: dict[str, Any]  # with intrinsics resolved, as sent to the API


@dataclass(frozen=True)
class SkippedResource:
    logical_id: str
    resource_type: str
    reason: str


@dataclass(frozen=True)
class InvokeResult:
    """A Lambda invocation as the caller sees it."""

    function_name: str
    status_code: int
    payload: Any
    function_error: str | None = None  # the x-amz-function-error header: "Unhandled"

    @property
    def ok(self) -> bool:
        return self.function_error is None

    @property
    def error_type(self) -> str | None:
        return self._error_field("errorType")

    @property
    def error_message(self) -> str | None:
        return self._error_field("errorMessage")

    def _error_field(self, name: str) -> str | None:
        if self.ok or not isinstance(self.payload, dict):
            return None
        value = self.payload.get(name)
        return None if value is None else str(value)


@dataclass(frozen=True)
class ExecutionResult:
    """A finished (or timed-out) Step Functions execution."""

    execution_arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def entered_states(self) -> list[str]:
        """Names of the states the execution went through, in order."""
        return [
            event["stateEnteredEventDetails"]["name"]
            for event in self.events
            if "stateEnteredEventDetails" in event
        ]


@dataclass(frozen=True)
class ScheduleInfo:
    logical_id: str
    name: str
    group_name: str
    arn: str
    expression: str
    timezone: str | None
    state: str
    target_arn: str
    target_role_arn: str | None
    input: str | None

    @property
    def input_json(self) -> Any:
        return None if self.input is None else json.loads(self.input)


@dataclass(frozen=True)
class FireResult:
    """What happened when the sandbox did the scheduler's job once."""

    schedule: ScheduleInfo
    target_kind: str  # "lambda" | "state_machine" | "sns"
    invocation: InvokeResult | None = None
    execution: ExecutionResult | None = None
    message_id: str | None = None

    @property
    def succeeded(self) -> bool:
        if self.invocation is not None:
            return self.invocation.ok
        if self.execution is not None:
            return self.execution.succeeded
        return self.message_id is not None
