"""Plug a CloudHsmWorld into moto: every cloudhsmv2 call inside ``mock_aws`` reaches it,
or the world of its partition that serves the caller's account (``world.for_caller``:
moto names the account from the request's credentials, an assumed role's included).

moto dispatches cloudhsmv2 requests (from test code and from the boto3 clients moto's
Step Functions interpreter creates for ``arn:aws:states:::aws-sdk:cloudhsmv2:*`` tasks)
to ``moto.cloudhsmv2.responses.CloudHSMV2Response``. ``install`` swaps that class's
``call_action`` for one that parses the awsJson1_1 body, calls ``world.handle`` and
answers in awsJson1_1. Two details of moto's Step Functions aws-sdk integration are
adjusted for cloudhsmv2 (see _patch_step_functions), and moto's RAM learns
PromoteResourceShareCreatedFromPolicy for the shares backup policies create
(ram_shares.py). On exit everything is put back.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sandbox.emulator.clock import to_epoch
from sandbox.emulator.errors import CloudHsmError
from sandbox.emulator.world import CloudHsmWorld

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
# Real Step Functions names aws-sdk errors "<Service>.<Exception>"; for cloudhsmv2 the
# service part is "CloudHsmV2" (CloudHsmV2.CloudHsmInvalidRequestException).
SFN_SERVICE_ERROR_NAME = "CloudHsmV2"
_SFN_AWS_SDK_MODULE = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_aws_sdk"
)
_MISSING = object()
_install_lock = threading.Lock()
_installed: list[CloudHsmWorld] = []

Response = tuple[int, dict[str, str], str]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_epoch(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _headers(base: dict[str, str]) -> dict[str, str]:
    return {**base, "Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())}


def _error(base: dict[str, str], status: int, code: str, message: str) -> Response:
    headers = _headers(base)
    headers["x-amzn-ErrorType"] = code
    return status, headers, json.dumps({"__type": code, "message": message})


def serve(
    world: CloudHsmWorld, operation: str, region: str, body: Any, base: dict[str, str]
) -> Response:
    """One awsJson1_1 request -> (status, headers, body)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    try:
        params = json.loads(body) if body else {}
    except ValueError:
        return _error(base, 400, "SerializationException", "Request body is not valid JSON")
    if not isinstance(params, dict):
        return _error(base, 400, "SerializationException", "Request body must be a JSON object")
    try:
        result = world.handle(operation, region, params)
    except CloudHsmError as error:
        return _error(base, error.status, error.code, error.message)
    return 200, _headers(base), json.dumps(result, default=_json_default)


def _call_action(self: Any) -> Response:
    """Replacement for CloudHSMV2Response.call_action (``self`` is moto's response)."""
    world = _installed[-1].for_caller(str(self.current_account))
    base = dict(self.response_headers)
    content_type = str(self.headers.get("Content-Type", ""))
    if "cbor" in content_type:
        # botocore prefers awsJson1_1 for cloudhsmv2; refuse loudly if that ever changes.
        return _error(base, 400, "UnsupportedProtocol", "The emulator speaks awsJson1_1 only")
    return serve(world, str(self._get_action()), str(self.region), self.body, base)


@contextmanager
def install(world: CloudHsmWorld) -> Iterator[CloudHsmWorld]:
    """Route every cloudhsmv2 action to ``world`` until the block exits."""
    with _install_lock:
        if _installed:
            raise RuntimeError("a CloudHsmWorld is already installed")
        undo = [_patch_responder(), _patch_ram(), *_patch_step_functions()]
        _installed.append(world)
    try:
        yield world
    finally:
        with _install_lock:
            for restore in reversed(undo):
                restore()
            _installed.clear()


def _patch_responder() -> Callable[[], None]:
    from moto.cloudhsmv2.responses import CloudHSMV2Response

    original = CloudHSMV2Response.__dict__.get("call_action", _MISSING)
    setattr(CloudHSMV2Response, "call_action", _call_action)  # noqa: B010

    def restore() -> None:
        if original is _MISSING:
            delattr(CloudHSMV2Response, "call_action")
        else:
            setattr(CloudHSMV2Response, "call_action", original)  # noqa: B010

    return restore


_PROMOTE_PATH = "{0}/promoteresourcesharecreatedfrompolicy$"


def _promote(self: Any) -> str:
    """PromoteResourceShareCreatedFromPolicy (``self`` is moto's RAM response)."""
    from moto.core.exceptions import JsonRESTError
    from moto.ram.exceptions import UnknownResourceException

    share_arn = str(self._get_param("resourceShareArn") or "")
    world = _installed[-1].for_caller(str(self.current_account))
    try:
        world.promote_resource_share(str(self.region), share_arn)
    except LookupError as error:
        raise UnknownResourceException(str(error)) from error
    except ValueError as error:
        raise JsonRESTError("OperationNotPermittedException", str(error)) from error
    return json.dumps({"returnValue": True})


def _patch_ram() -> Callable[[], None]:
    from moto.ram import urls
    from moto.ram.responses import ResourceAccessManagerResponse

    method = "promote_resource_share_created_from_policy"
    routes: dict[str, Any] = urls.url_paths
    previous_route = routes.get(_PROMOTE_PATH, _MISSING)
    routes[_PROMOTE_PATH] = ResourceAccessManagerResponse.dispatch
    previous = ResourceAccessManagerResponse.__dict__.get(method, _MISSING)
    setattr(ResourceAccessManagerResponse, method, _promote)

    def restore() -> None:
        if previous_route is _MISSING:
            routes.pop(_PROMOTE_PATH, None)
        else:
            routes[_PROMOTE_PATH] = previous_route
        if previous is _MISSING:
            delattr(ResourceAccessManagerResponse, method)
        else:
            setattr(ResourceAccessManagerResponse, method, previous)

    return restore


def _patch_step_functions() -> list[Callable[[], None]]:
    """Two patches to moto's Step Functions aws-sdk integration, for cloudhsmv2 only:

    - error names: moto looks the service part up in ``_SERVICE_ERROR_NAMES`` (keyed by
      the lower-cased API name) and falls back to "cloudhsmv2"; real Step Functions says
      "CloudHsmV2", as in CloudHsmV2.CloudHsmInvalidRequestException;
    - timestamps: moto keeps boto3's ``datetime`` objects in the state data, which its
      DescribeExecution cannot serialise; Step Functions is understood to hand them on
      as ISO-8601 UTC strings ("2024-05-01T12:00:00.123Z"; UNCONFIRMED), so the
      emulator converts them.
    """
    import importlib

    try:
        module = importlib.import_module(_SFN_AWS_SDK_MODULE)
    except ImportError:  # moto installed without its Step Functions extra
        return []
    undo: list[Callable[[], None]] = []
    table = getattr(module, "_SERVICE_ERROR_NAMES", None)
    if isinstance(table, dict):
        previous = table.get("cloudhsmv2", _MISSING)
        table["cloudhsmv2"] = SFN_SERVICE_ERROR_NAME

        def restore_names() -> None:
            if previous is _MISSING:
                table.pop("cloudhsmv2", None)
            else:
                table["cloudhsmv2"] = previous

        undo.append(restore_names)
    task_class = module.StateTaskServiceAwsSdk
    inherited = task_class._normalise_response

    def normalise_response(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        if str(self.resource.api_name).lower() == "cloudhsmv2":
            _isoformat_timestamps(response)
        inherited(self, response, *args, **kwargs)

    own = task_class.__dict__.get("_normalise_response", _MISSING)
    task_class._normalise_response = normalise_response

    def restore_normaliser() -> None:
        if own is _MISSING:
            delattr(task_class, "_normalise_response")
        else:
            task_class._normalise_response = own

    undo.append(restore_normaliser)
    return undo


def sfn_timestamp(moment: datetime) -> str:
    """Step Functions' rendering of an SDK timestamp: ISO-8601 in UTC with a Z."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond % 1000 == 0 and utc.microsecond:
        text += f".{utc.microsecond // 1000:03d}"
    elif utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def _isoformat_timestamps(value: Any) -> Any:
    """Replace datetimes in a boto3 response in place (dicts and lists)."""
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _isoformat_timestamps(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _isoformat_timestamps(item)
    elif isinstance(value, datetime):
        return sfn_timestamp(value)
    return value
