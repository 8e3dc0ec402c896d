"""Run deployed Lambda functions in-process, behind moto's Lambda API.

With `{"lambda": {"use_docker": False}}` moto answers every invocation from
`LambdaSimpleBackend.invoke` with a canned payload. The sandbox replaces that method
while a deployment is open, so both `lambda.invoke` and Step Functions Lambda tasks
(which call the same API) reach the real handler named by the function's `Handler`,
with the function's environment and a Lambda-shaped context. Failures come back the
way Lambda reports them (`x-amz-function-error: Unhandled` and an errorType payload),
so a Step Functions Catch on the exception class name works as in AWS.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sandbox import emf_metrics, function_logs
from sandbox.results import SandboxError

if TYPE_CHECKING:
    from moto.awslambda_simple.models import LambdaSimpleBackend

LOGGER: Final = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]
# The function whose handler is running (its network settings decide what it reaches).
CURRENT_FUNCTION: Final[ContextVar[DeployedFunction | None]] = ContextVar(
    "sandbox_function", default=None
)


class SandboxInjectedCrash(Exception):  # the class name is the Step Functions error name
    """Raised in place of a handler's work while a `lambda-crash` fault is active."""


@dataclass(frozen=True)
class DeployedFunction:
    """A function created from the template, with what its invocation needs."""

    logical_id: str
    function_name: str
    function_arn: str
    handler: str
    runtime: str
    environment: Mapping[str, str]
    memory_mb: int
    timeout_seconds: int
    region: str
    account_id: str
    role_arn: str | None = None  # the execution role every call of the handler runs as
    security_group_ids: tuple[str, ...] = ()  # VpcConfig: what its network traffic may reach
    subnet_ids: tuple[str, ...] = ()

    @property
    def service_name(self) -> str | None:
        return self.environment.get("POWERTOOLS_SERVICE_NAME")


class FaultInjector:
    """Which functions must crash on their next invocations (the `lambda-crash` fault).

    A crash can target one step of a step-dispatching function (`event["step"]`),
    so a test can break a workflow in the middle and watch its clean-up run. Crashes of
    different steps of one function are separate faults; `fired()` counts each one's
    injected crashes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (function name, step or None for any) -> crashes left, or None for "until cleared"
        self._crashes: dict[tuple[str, str | None], int | None] = {}
        self._fired: dict[tuple[str, str | None], int] = {}

    def crash(self, function_name: str, times: int | None = None, step: str | None = None) -> None:
        with self._lock:
            self._crashes[(function_name, step)] = times

    def clear(self, function_name: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._crashes if function_name in (None, k[0])]:
                del self._crashes[key]

    @property
    def crashing(self) -> frozenset[str]:
        with self._lock:
            return frozenset(name for name, _ in self._crashes)

    def fired(self) -> dict[tuple[str, str | None], int]:
        """Crashes injected so far, by (function name, step or None)."""
        with self._lock:
            return dict(self._fired)

    def consume(self, function_name: str, event: Any = None) -> bool:
        """True if this invocation must crash; counts down limited faults."""
        named = event.get("step") if isinstance(event, dict) else None
        step = named if isinstance(named, str) else None
        with self._lock:
            key = next(
                (k for k in ((function_name, step), (function_name, None)) if k in self._crashes),
                None,
            )
            if key is None:
                return False
            left = self._crashes[key]
            if left is not None:
                if left <= 1:
                    del self._crashes[key]
                else:
                    self._crashes[key] = left - 1
            self._fired[key] = self._fired.get(key, 0) + 1
            return True


@dataclass
class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_stream_name: str = "sandbox/[$LATEST]in-process"
    _started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass(frozen=True)
class _Route:
    function: DeployedFunction
    faults: FaultInjector


# os.environ is process-wide and Step Functions runs executions in threads: one
# invocation at a time. Reentrant because a handler may itself invoke a function.
_INVOCATION_LOCK: Final = threading.RLock()
_ROUTES_LOCK: Final = threading.Lock()
_ROUTES: dict[tuple[str, str, str], _Route] = {}  # (account, region, function name)
_original_invoke: Callable[..., Any] | None = None


def register_functions(functions: list[DeployedFunction], faults: FaultInjector) -> None:
    """Route these functions to their handlers; patches moto on first use."""
    global _original_invoke  # noqa: PLW0603 - one patch shared by all open deployments
    from moto.awslambda_simple.models import LambdaSimpleBackend

    with _ROUTES_LOCK:
        keys = {_route_key(function): function for function in functions}
        taken = sorted(key[2] for key in keys if key in _ROUTES)
        if taken:
            raise SandboxError(f"already routed by another open deployment (close it): {taken}")
        for key, function in keys.items():
            _ROUTES[key] = _Route(function, faults)
        if _original_invoke is None and _ROUTES:
            _original_invoke = LambdaSimpleBackend.invoke
            # Class-level on purpose: moto creates backends per account and region lazily.
            LambdaSimpleBackend.invoke = _dispatching_invoke  # type: ignore[method-assign,assignment]


def unregister_functions(functions: list[DeployedFunction]) -> None:
    """Stop routing these functions; restores moto's own invoke once nothing is routed."""
    global _original_invoke  # noqa: PLW0603
    from moto.awslambda_simple.models import LambdaSimpleBackend

    with _ROUTES_LOCK:
        for function in functions:
            route = _ROUTES.get(_route_key(function))
            if route is not None and route.function is function:
                del _ROUTES[_route_key(function)]
        if not _ROUTES and _original_invoke is not None:
            LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]
            _original_invoke = None


def _route_key(function: DeployedFunction) -> tuple[str, str, str]:
    return (function.account_id, function.region, function.function_name)


def _dispatching_invoke(  # noqa: PLR0917 - moto's signature
    backend: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes | str | None:
    """Stands in for LambdaSimpleBackend.invoke (same signature, same contract)."""
    moto_function = backend.get_function(function_name, qualifier)  # raises like Lambda
    route = _ROUTES.get((backend.account_id, backend.region_name, moto_function.function_name))
    if route is None:  # not from an open deployment: moto's canned answer, as before
        assert _original_invoke is not None
        canned: bytes | str | None = _original_invoke(
            backend, function_name, qualifier, body, headers, response_headers
        )
        return canned
    if _header(headers, "X-Amz-Invocation-Type") == "DryRun":
        return b""
    payload, failed = invoke_in_process(route.function, _parse_event(body), route.faults)
    if failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    encoded = json.dumps(payload).encode()
    response_headers["Content-Length"] = str(len(encoded))
    return encoded


def invoke_in_process(
    function: DeployedFunction, event: Any, faults: FaultInjector
) -> tuple[Any, bool]:
    """Call the handler as the Lambda Python runtime would: (payload, failed), in the
    function's account."""
    from sandbox.permissions import in_account

    context = LambdaContext(
        function_name=function.function_name,
        invoked_function_arn=function.function_arn,
        memory_limit_in_mb=function.memory_mb,
        timeout_seconds=function.timeout_seconds,
    )
    with (
        _INVOCATION_LOCK,
        in_account(function.account_id),
        _function_environment(function),
        _service_of(function),
        function_logs.captured(function.function_name) as log,
        _metrics_from(log, function),
    ):
        try:
            if faults.consume(function.function_name, event):
                raise SandboxInjectedCrash(
                    f"sandbox fault lambda-crash injected into {function.function_name}"
                )
            handler = _load_handler(function.handler)
            with _as_execution_role(function):
                result = handler(event, context)
            _ensure_serializable(result)
        except _LambdaRuntimeFailure as runtime_error:
            return _error_payload(runtime_error.error_type, str(runtime_error), context, None), True
        except Exception as error:
            LOGGER.info("%s raised %r", function.function_name, error, exc_info=True)
            return _error_payload(type(error).__name__, str(error), context, error), True
    if context.get_remaining_time_in_millis() == 0:
        LOGGER.warning(
            "%s ran past its %ss timeout", function.function_name, function.timeout_seconds
        )
    return result, False


@contextmanager
def _as_execution_role(function: DeployedFunction) -> Iterator[None]:
    """The handler's AWS calls are authorized as its execution role (sandbox/permissions)."""
    from sandbox.permissions import Principal, acting_as

    token = CURRENT_FUNCTION.set(function)
    try:
        with acting_as(Principal.role(function.role_arn) if function.role_arn else None):
            yield
    finally:
        CURRENT_FUNCTION.reset(token)


@contextmanager
def _service_of(function: DeployedFunction) -> Iterator[None]:
    """Each Lambda function is a process of its own, where Powertools reads
    POWERTOOLS_SERVICE_NAME once. Here every function shares one process, so the shared
    Logger and Metrics (lambdas/shared/observability.py) get this function's service for
    the invocation; otherwise the first function imported would name every metric."""
    shared = sys.modules.get("lambdas.shared.observability")
    service = function.service_name
    if shared is None or not service:
        yield  # not imported yet: it reads the function's environment when it is
        return
    provider, logger = shared.metrics.provider, shared.logger
    saved = (provider.service, logger.service)
    provider.service = logger.service = service
    logger.append_keys(service=service)
    try:
        yield
    finally:
        provider.service, logger.service = saved
        logger.append_keys(service=saved[1])


@contextmanager
def _metrics_from(log: io.StringIO, function: DeployedFunction) -> Iterator[None]:
    """After the handler ran, do what CloudWatch does with its EMF lines."""
    from sandbox.permissions import acting_as

    try:
        yield
    finally:
        with acting_as(None):  # CloudWatch Logs extracts them, not the function's caller
            emf_metrics.put(log.getvalue().splitlines(), function.function_arn.split(":")[3])


class _LambdaRuntimeFailure(Exception):
    """A failure of the runtime itself rather than of the handler (Runtime.* error types)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _ensure_serializable(result: Any) -> None:
    """Lambda serializes the result as JSON and fails the invocation if it cannot."""
    try:
        json.dumps(result)
    except (TypeError, ValueError) as error:
        raise _LambdaRuntimeFailure(
            "Runtime.MarshalError", f"Unable to marshal response: {error}"
        ) from error


def _load_handler(handler_path: str) -> Handler:
    """Import `package.module.function` (relative to the repo root, which is on sys.path)."""
    module_path, _, attribute = handler_path.rpartition(".")
    try:
        module = importlib.import_module(module_path)
    except ImportError as error:
        message = f"Unable to import module '{module_path}': {error}"
        raise _LambdaRuntimeFailure("Runtime.ImportModuleError", message) from error
    handler = getattr(module, attribute, None)
    if not callable(handler):
        message = f"Handler '{attribute}' missing on module '{module_path}'"
        raise _LambdaRuntimeFailure("Runtime.HandlerNotFound", message)
    return handler  # type: ignore[no-any-return]


def environ_copy_at_once(environ: Any) -> dict[str, str]:
    """os.environ.copy() read in one step. The functions share this process, so their
    variables are set and removed around each invocation, while other threads (Step
    Functions tasks, botocore creating a client: its metadata fetcher copies the
    environment) copy it. The standard copy lists the names, then reads each one: a
    name removed in between raised KeyError in that other thread. A copy of the
    underlying dict is one step."""
    data = dict.copy(environ._data)
    return {environ.decodekey(k): environ.decodevalue(v) for k, v in data.items()}


os._Environ.copy = environ_copy_at_once  # type: ignore[assignment,method-assign]


@contextmanager
def _function_environment(function: DeployedFunction) -> Iterator[None]:
    """The function's variables plus the runtime's own, restored afterwards."""
    variables = {
        **function.environment,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
    }
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, previous in saved.items():
            if previous is not None:
                os.environ[name] = previous
            else:
                # Not os.environ.pop(name, None): that reads then deletes, and raises
                # KeyError if anything else in the process removed the name in between.
                with suppress(KeyError):
                    del os.environ[name]


def _error_payload(
    error_type: str, message: str, context: LambdaContext, error: BaseException | None
) -> dict[str, Any]:
    """The body Lambda's Python runtime returns for an unhandled exception."""
    stack = traceback.format_tb(error.__traceback__) if error is not None else []
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": context.aws_request_id,
        "stackTrace": [line.rstrip("\n") for line in stack],
    }


def _parse_event(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode()
    if not body:
        return {}
    return json.loads(body)


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None
