"""A deployed template: look resources up, invoke, run, fire schedules, read messages.

Everything goes through the public AWS APIs (moto behind them), so a state machine
run here is the synthesized definition executed by moto's interpreter, calling the
real handlers through the in-process Lambda dispatcher.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, TypeVar

from sandbox import function_logs, service_delivery
from sandbox.intrinsics import StackEnvironment
from sandbox.lambda_dispatch import (
    DeployedFunction,
    FaultInjector,
    register_functions,
    unregister_functions,
)
from sandbox.message_capture import CapturedMessage, MessageCapture
from sandbox.provisioners import ProvisionContext
from sandbox.results import (
    DeployedResource,
    ExecutionResult,
    FireResult,
    InvokeResult,
    SandboxError,
    SandboxLookupError,
    ScheduleInfo,
    SkippedResource,
)
from sandbox.service_delivery import Delivery, status_change_event

_POLL_SECONDS: Final = 0.05
_STOP_SETTLE_SECONDS: Final = 90  # longer than any retry wait of the stack's workflows
_CDK_HASH_SUFFIX: Final = re.compile(r"[0-9A-F]{8}")
_T = TypeVar("_T")


class Deployment:
    """Open until `close()` (or the end of its `with` block): Lambda dispatch is active."""

    def __init__(
        self,
        *,
        environment: StackEnvironment,
        resources: Mapping[str, DeployedResource],
        skipped: Mapping[str, SkippedResource],
        notes: list[str],
        functions: list[DeployedFunction],
        capture: MessageCapture,
        context: ProvisionContext,
    ) -> None:
        self.environment = environment
        self.resources = dict(resources)
        self.skipped = dict(skipped)
        self.notes = notes  # compromises made while deploying, one line each
        self.functions = list(functions)
        self.faults = FaultInjector()
        self._capture = capture
        self._context = context
        self._open = True
        register_functions(self.functions, self.faults)
        for function in self.functions:
            function_logs.forget(function.function_name)

    def close(self) -> None:
        if self._open:
            unregister_functions(self.functions)
            self._open = False

    def __enter__(self) -> Deployment:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- looking things up ---------------------------------------------------------

    @property
    def region(self) -> str:
        return self.environment.region

    @property
    def account_id(self) -> str:
        return self.environment.account_id

    def client(self, service: str) -> Any:
        """A boto3 client of the deployment's region (calls made as the sandbox)."""
        return self._context.client(service)

    def resources_of_type(self, resource_type: str) -> list[DeployedResource]:
        return self._of_type(resource_type)

    def alarm_names(self) -> list[str]:
        return sorted(r.physical_id for r in self._of_type("AWS::CloudWatch::Alarm"))

    def physical_id(self, logical_id: str) -> str:
        """The Ref value of a resource; a unique prefix of the logical id is enough."""
        skipped = [s for s in self.skipped.values() if s.logical_id.startswith(logical_id)]
        if skipped and not any(lid.startswith(logical_id) for lid in self.resources):
            reasons = {s.logical_id: s.reason for s in skipped}
            raise SandboxLookupError(f"{logical_id!r} was not deployed: {reasons}")
        resource = _find_one(
            "resource", logical_id, self.resources.values(), lambda r: [r.logical_id]
        )
        return resource.physical_id

    def function(self, service_name: str) -> DeployedFunction:
        """By POWERTOOLS_SERVICE_NAME, function name, or logical id (prefix)."""
        return _find_one(
            "function",
            service_name,
            self.functions,
            lambda f: [f.logical_id, f.service_name or "", f.function_name],
        )

    def function_arn(self, service_name: str) -> str:
        return self.function(service_name).function_arn

    def state_machine_arn(self, name: str) -> str:
        machines = self._of_type("AWS::StepFunctions::StateMachine")
        found = _find_one(
            "state machine", name, machines, lambda r: [r.logical_id, r.attributes["Name"]]
        )
        return found.physical_id

    def schedules(self) -> list[ScheduleInfo]:
        """The schedules as the Scheduler API reports them."""
        scheduler = self._context.client("scheduler")
        infos = []
        for resource in self._of_type("AWS::Scheduler::Schedule"):
            group = resource.properties.get("GroupName", "default")
            described = scheduler.get_schedule(Name=resource.physical_id, GroupName=group)
            infos.append(_schedule_info(resource.logical_id, described))
        return infos

    # -- doing things ----------------------------------------------------------------

    def invoke(self, service_name: str, event: Any = None) -> InvokeResult:
        """A synchronous `lambda.invoke` of the function, through moto."""
        function = self.function(service_name)
        return self._invoke_arn(function.function_arn, json.dumps({} if event is None else event))

    def run_state_machine(
        self,
        name: str,
        input: Any = None,
        *,
        timeout: float = 30.0,
        stop_when: Callable[[], bool] | None = None,
    ) -> ExecutionResult:
        """Start an execution and wait until it leaves RUNNING (await_execution)."""
        payload = input if isinstance(input, str) else json.dumps({} if input is None else input)
        return self.await_execution(
            self._start_execution(self.state_machine_arn(name), payload),
            timeout,
            stop_when=stop_when,
        )

    def fire_schedule(self, name: str, *, timeout: float = 30.0) -> FireResult:
        """Do once what EventBridge Scheduler does when the schedule is due.

        Differences from AWS, on purpose: a Lambda target is invoked synchronously (so the
        result can be inspected) and a state machine target is awaited.
        """
        schedule = _find_one("schedule", name, self.schedules(), lambda s: [s.logical_id, s.name])
        if schedule.state != "ENABLED":
            raise SandboxError(f"schedule {schedule.name} is {schedule.state}: it would not fire")
        payload = _with_context_attributes(schedule.input or "{}", schedule.arn)
        service = schedule.target_arn.split(":")[2]
        if service == "lambda":
            with _as_schedule_role(schedule):
                invocation = self._invoke_arn(schedule.target_arn, payload)
            return FireResult(schedule, "lambda", invocation=invocation)
        if service == "states":
            with _as_schedule_role(schedule):
                execution_arn = self._start_execution(schedule.target_arn, payload)
            execution = self.await_execution(execution_arn, timeout)
            return FireResult(schedule, "state_machine", execution=execution)
        if service == "sns":
            with _as_schedule_role(schedule):
                published = self._context.client("sns").publish(
                    TopicArn=schedule.target_arn, Message=payload
                )
            return FireResult(schedule, "sns", message_id=published["MessageId"])
        raise SandboxError(f"schedule {schedule.name}: target {schedule.target_arn} not supported")

    def messages(self, topic_logical_id_prefix: str | None = None) -> list[CapturedMessage]:
        """Every message published to the stack's topics so far, oldest first."""
        captured = self._capture.messages()
        if topic_logical_id_prefix is None:
            return captured
        return [m for m in captured if m.topic_logical_id.startswith(topic_logical_id_prefix)]

    def logs(self, service_name: str) -> list[str]:
        """What the function printed in every invocation so far (its CloudWatch Logs)."""
        return function_logs.lines(self.function(service_name).function_name)

    # -- what services do on their own ---------------------------------------------

    def set_alarm_state(
        self, alarm: str, state: str = "ALARM", reason: str = "sandbox"
    ) -> list[Delivery]:
        """Drive an alarm (name or logical id prefix) to `state` as `aws cloudwatch
        set-alarm-state` does; its actions and event go out through the permission
        checks (sandbox/service_delivery.py)."""
        names = {r.logical_id: r.physical_id for r in self._of_type("AWS::CloudWatch::Alarm")}
        name = alarm if alarm in names.values() else self.physical_id(alarm)
        return service_delivery.set_alarm_state(self, name, state, reason)

    def put_event(self, event: dict[str, Any]) -> list[Delivery]:
        """Send an event to the default bus: every matching rule of this stack delivers it."""
        return service_delivery.put_event(self, event)

    # -- faults ----------------------------------------------------------------------

    def crash_function(
        self, service_name: str, *, times: int | None = None, step: str | None = None
    ) -> None:
        """The `lambda-crash` fault: invocations raise SandboxInjectedCrash until cleared
        (or for the next `times` invocations); with `step`, only invocations whose
        event names that step."""
        self.faults.crash(self.function(service_name).function_name, times, step)

    def clear_crash(self, service_name: str | None = None) -> None:
        name = None if service_name is None else self.function(service_name).function_name
        self.faults.clear(name)

    # -- internals -------------------------------------------------------------------

    def _of_type(self, resource_type: str) -> list[DeployedResource]:
        return [r for r in self.resources.values() if r.resource_type == resource_type]

    def _invoke_arn(self, function_arn: str, payload: str) -> InvokeResult:
        response = self._context.client("lambda").invoke(FunctionName=function_arn, Payload=payload)
        body = response["Payload"].read().decode()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        return InvokeResult(
            function_name=function_arn.split(":")[6],
            status_code=response["StatusCode"],
            payload=parsed,
            function_error=response.get("FunctionError"),
        )

    def _start_execution(self, state_machine_arn: str, payload: str) -> str:
        sfn = self._context.client("stepfunctions")
        return str(
            sfn.start_execution(
                stateMachineArn=state_machine_arn, name=f"sandbox-{uuid.uuid4()}", input=payload
            )["executionArn"]
        )

    def stop_execution(
        self,
        execution_arn: str,
        *,
        error: str = "Sandbox.Abort",
        cause: str = "",
        announce: bool = True,
    ) -> None:
        """StopExecution, as a person would, then what AWS does next: the execution is
        ABORTED, and (unless `announce` is false: the caller delivers it) its status
        change is an event the stack's rules act on (clean-up).
        moto's worker marks it ABORTED only at its next state transition (a retry wait
        can delay that), so the event waits until it has: in AWS nothing could see the
        execution still RUNNING after the stop."""
        sfn = self._context.client("stepfunctions")
        sfn.stop_execution(executionArn=execution_arn, error=error, cause=cause)
        deadline = time.monotonic() + _STOP_SETTLE_SECONDS
        while sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise SandboxError(
                    f"{execution_arn} still RUNNING {_STOP_SETTLE_SECONDS}s after StopExecution"
                )
            time.sleep(_POLL_SECONDS)
        if announce:
            self.put_event(status_change_event(execution_arn, "ABORTED"))

    def await_execution(
        self,
        execution_arn: str,
        timeout: float = 120.0,
        *,
        stop_when: Callable[[], bool] | None = None,
    ) -> ExecutionResult:
        """Wait until an execution (started by anyone) leaves RUNNING; stop it and raise
        TimeoutError if it has not after `timeout` seconds, or as soon as `stop_when()`
        holds while it runs (a run that would outlast any wait, stopped at a point the
        caller can name instead of after a length of wall time)."""
        sfn = self._context.client("stepfunctions")
        deadline = time.monotonic() + timeout
        described = sfn.describe_execution(executionArn=execution_arn)
        while described["status"] == "RUNNING":
            if stop_when is not None and stop_when():
                self.stop_execution(execution_arn, error="Sandbox.Timeout")
                raise TimeoutError(f"{execution_arn} stopped where the caller asked")
            if time.monotonic() > deadline:
                self.stop_execution(execution_arn, error="Sandbox.Timeout")
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout}s")
            time.sleep(_POLL_SECONDS)
            described = sfn.describe_execution(executionArn=execution_arn)
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        output = described.get("output")
        return ExecutionResult(
            execution_arn=execution_arn,
            status=described["status"],
            output=None if output is None else json.loads(output),
            error=described.get("error"),
            cause=described.get("cause"),
            events=events,
        )


@contextmanager
def _as_schedule_role(schedule: ScheduleInfo) -> Iterator[None]:
    """Scheduler calls the target with the schedule's role (and nothing else)."""
    from sandbox.permissions import Principal, acting_as

    role = schedule.target_role_arn
    with acting_as(Principal.role(role) if role else None):
        yield


def _schedule_info(logical_id: str, described: Mapping[str, Any]) -> ScheduleInfo:
    target = described["Target"]
    return ScheduleInfo(
        logical_id=logical_id,
        name=described["Name"],
        group_name=described.get("GroupName", "default"),
        arn=described["Arn"],
        expression=described["ScheduleExpression"],
        timezone=described.get("ScheduleExpressionTimezone"),
        state=described.get("State", "ENABLED"),
        target_arn=target["Arn"],
        target_role_arn=target.get("RoleArn"),
        input=target.get("Input"),
    )


def _with_context_attributes(payload: str, schedule_arn: str) -> str:
    """Scheduler fills these placeholders in a target's Input at delivery time."""
    values = {
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.scheduled-time>": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": "1",
    }
    for placeholder, value in values.items():
        payload = payload.replace(placeholder, value)
    return payload


def _find_one(
    kind: str, query: str, candidates: Iterable[_T], names: Callable[[_T], list[str]]
) -> _T:
    """Exact match on any of a candidate's names, else by construct id, else by prefix.

    The first name is the logical id. CDK makes it from the construct path plus an
    8-hex-digit hash, so "CheckFunction" finds "CheckFunctionC7D05BD4" even though
    "CheckFunctionServiceRoleA0AF3FA3" shares the prefix.
    """
    pool = list(candidates)

    def exact(candidate: _T) -> bool:
        return query in names(candidate)

    def construct_id(candidate: _T) -> bool:
        logical_id = names(candidate)[0]
        suffix = logical_id.removeprefix(query)
        return suffix != logical_id and _CDK_HASH_SUFFIX.fullmatch(suffix) is not None

    def prefix(candidate: _T) -> bool:
        return names(candidate)[0].startswith(query)

    for matches in (exact, construct_id, prefix):
        found = [c for c in pool if matches(c)]
        if len(found) == 1:
            return found[0]
        if found:
            raise SandboxLookupError(
                f"{kind} {query!r} is ambiguous; matches: {_all_names(found, names)}"
            )
    raise SandboxLookupError(f"{kind} {query!r} matches nothing; known: {_all_names(pool, names)}")


def _all_names(pool: list[_T], names: Callable[[_T], list[str]]) -> list[str]:
    return sorted({name for candidate in pool for name in names(candidate) if name})
