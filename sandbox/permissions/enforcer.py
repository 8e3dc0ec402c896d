"""Every API call a deployed function, state machine, schedule, alarm or rule makes is
authorized as AWS would, before moto or the emulator sees it.

Who calls is a context variable: the sandbox sets it around a Lambda handler (the
function's execution role), a Step Functions execution (the state machine's role), a
schedule's target (the schedule's role) and a service's delivery (the service
principal, with the resource it acts for). Calls made with no principal set are the
sandbox's own (seeding, the operator's CLI): not checked.

A call on a resource of another account (an ARN naming it) needs both sides, as AWS
evaluates cross-account requests: the caller's identity policies AND the resource's
policy must allow it; within one account either is enough.

A denied call gets AWS's answer: the service's error code and the message shape of an
IAM denial ("User: ... is not authorized to perform: ... on resource: ... because ...").
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from sandbox.permissions import catalog
from sandbox.permissions.policy import Decision, Principal, evaluate, evaluate_cross_account
from sandbox.permissions.requests import UNAUTHORIZED_OPERATIONS, AuthRequest, describe, iam_prefix
from sandbox.permissions.resources import ResourceFacts

if TYPE_CHECKING:
    from sandbox.emulator import CloudHsmWorld

# Every enforcer made in this process (tests check that none refused what they did not expect).
_EVERY_ENFORCER: Final[weakref.WeakSet[PermissionEnforcer]] = weakref.WeakSet()
_PRINCIPAL: Final[ContextVar[Principal | None]] = ContextVar("sandbox_principal", default=None)
_PARAMS_KEY: Final = "sandbox_api_params"

# The error each service answers an IAM denial with, where it is not AccessDeniedException.
_DENIED_CODES = {
    "sns": ("AuthorizationError", 403),
    "sqs": ("AccessDenied", 403),
    "s3": ("AccessDenied", 403),
    "ec2": ("UnauthorizedOperation", 403),
    "cloudwatch": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
}
# ... and a denied use of the KMS key that encrypts the target.
_KMS_DENIED_CODES = {
    "sns": ("KMSAccessDenied", 400),
    "sqs": ("KmsAccessDenied", 400),
    "s3": ("AccessDenied", 403),
}
# What a call does with the KMS key of an encrypted target (the KMS docs of each service).
_KMS_USE = {
    ("sns", "Publish"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("sns", "PublishBatch"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("sqs", "SendMessage"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("sqs", "SendMessageBatch"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("sqs", "ReceiveMessage"): ("kms:Decrypt",),
    ("s3", "PutObject"): ("kms:GenerateDataKey",),
    ("s3", "GetObject"): ("kms:Decrypt",),
}
# Dependent actions the service needs only in some cases, left out of the check:
# the service-linked role exists once the account has any cluster.
_CONDITIONAL_DEPENDENTS = {"iam:createservicelinkedrole"}
# Parameters that pass a role to a service (iam:PassRole), by (prefix, operation).
_PASSED_ROLES: dict[tuple[str, str], Callable[[Mapping[str, Any]], list[str]]] = {
    ("scheduler", "CreateSchedule"): lambda p: [p.get("Target", {}).get("RoleArn", "")],
    ("scheduler", "UpdateSchedule"): lambda p: [p.get("Target", {}).get("RoleArn", "")],
    ("states", "CreateStateMachine"): lambda p: [p.get("roleArn", "")],
    ("lambda", "CreateFunction"): lambda p: [p.get("Role", "")],
    ("events", "PutTargets"): lambda p: [t.get("RoleArn", "") for t in p.get("Targets", [])],
}
_PASSED_TO = {
    "scheduler": "scheduler.amazonaws.com",
    "states": "states.amazonaws.com",
    "lambda": "lambda.amazonaws.com",
    "events": "events.amazonaws.com",
}


@dataclass(frozen=True)
class Denial:
    principal: str
    operation: str  # "cloudhsmv2.DeleteHsm"
    action: str
    resource: str
    reason: str
    region: str

    @property
    def message(self) -> str:
        return (
            f"User: {self.principal} is not authorized to perform: {self.action} on resource: "
            f"{self.resource} {self.reason}"
        )


class SandboxAuthorizationGap(RuntimeError):
    """The sandbox cannot say what a call asks IAM for: fix the sandbox, not the stack."""


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    token = _PRINCIPAL.set(principal)
    try:
        yield
    finally:
        _PRINCIPAL.reset(token)


def current_principal() -> Principal | None:
    return _PRINCIPAL.get()


def every_enforcer() -> list[PermissionEnforcer]:
    return list(_EVERY_ENFORCER)


def active_enforcer() -> PermissionEnforcer | None:
    """The enforcer of the open sandbox, or None when permissions are not enforced."""
    return _ACTIVE[-1] if _ACTIVE else None


class PermissionEnforcer:
    """Authorizes calls in every emulated account (`account` is the deployment's, where
    calls without an account of their own are made); records every denial."""

    def __init__(self, account: str, world: CloudHsmWorld | None = None) -> None:
        self.account = account
        self.facts = ResourceFacts(account, world)
        self.denials: list[Denial] = []
        self.network_refusals: list[str] = []  # connections security groups refused
        self.checked = 0
        self._lock = threading.Lock()
        _EVERY_ENFORCER.add(self)

    # -- the decision ----------------------------------------------------------------

    def check(
        self,
        principal: Principal,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        region: str,
    ) -> tuple[Denial, str, int] | None:
        """None if AWS would let `principal` make the call; else the denial with the
        error code and HTTP status the service answers with."""
        prefix = iam_prefix(service)
        if (prefix, operation) in UNAUTHORIZED_OPERATIONS:
            return None
        # Ids name resources of the caller's own account.
        request = describe(service, operation, params, region, principal.account)
        with self._lock:
            self.checked += 1
        resources = [
            self._canonical(prefix, named, region, principal.account) for named in request.resources
        ]
        label = f"{service}.{operation}"
        for resource in resources:
            denial = self._authorize(principal, request.action, resource, request)
            if denial is not None:
                return self._record(denial, label), *_DENIED_CODES.get(
                    prefix, ("AccessDeniedException", 400)
                )
        for denial, codes in self._dependents(
            principal, prefix, operation, params, request, resources=resources
        ):
            if denial is not None:
                return self._record(denial, label), *codes
        return None

    def authorize_service(
        self, principal: Principal, action: str, resource: str, region: str
    ) -> Denial | None:
        """A service principal's delivery (alarm action, rule target): the same rules."""
        request = AuthRequest(action, (resource,), region, principal.account)
        prefix = action.split(":", maxsplit=1)[0]
        denial = self._authorize(principal, action, resource, request)
        if denial is None:
            for dependent, _ in self._kms_uses(
                principal, prefix, action.split(":")[1], resource, request
            ):
                if dependent is not None:
                    denial = dependent
                    break
        if denial is not None:
            self._record(denial)
        return denial

    def _record(self, denial: Denial, operation: str | None = None) -> Denial:
        """Keep the denial, named by the API operation refused (`service.Operation`)
        when a call was refused, by the action when a service's delivery was."""
        if operation is not None:
            denial = replace(denial, operation=operation)
        with self._lock:
            self.denials.append(denial)
        return denial

    def _authorize(
        self,
        principal: Principal,
        action: str,
        resource: str,
        request: AuthRequest,
        *,
        via: str | None = None,
        extra: Mapping[str, Any] | None = None,
        key_policy: Mapping[str, Any] | None = None,
    ) -> Denial | None:
        info = catalog.action(action)
        prefix = action.split(":", maxsplit=1)[0]
        if resource != "*" and info.resource_types and not info.resource_types_for(resource):
            raise SandboxAuthorizationGap(
                f"{action}: {resource} matches none of its resource types "
                f"{[t.name for t in info.resource_types]}"
            )
        if resource != "*" and not info.resource_types:
            resource = "*"  # AWS authorizes actions without a resource type on "*"
        context = self._context(principal, info, resource, request, via)
        context.update(extra or {})
        identity = self.facts.identity_policies(principal.arn) if principal.kind == "role" else []
        if key_policy is not None:
            resource_policy: Mapping[str, Any] | None = key_policy
        elif resource != "*":
            resource_policy = self.facts.resource_policy(prefix, resource, request.region)
        else:
            resource_policy = None
        owner = resource_account(resource)
        if principal.kind == "role" and owner is not None and owner != principal.account:
            decision = evaluate_cross_account(
                principal,
                action,
                resource,
                context,
                identity_policies=identity,
                resource_policy=resource_policy,
            )
            return (
                None
                if decision.allowed
                else _denial(principal, action, resource, decision, request.region)
            )
        decision = evaluate(
            principal,
            action,
            resource,
            context,
            identity_policies=identity,
            resource_policy=resource_policy,
            key_policy=key_policy is not None,
        )
        return (
            None
            if decision.allowed
            else _denial(principal, action, resource, decision, request.region)
        )

    def _context(
        self,
        principal: Principal,
        info: catalog.ActionInfo,
        resource: str,
        request: AuthRequest,
        via: str | None,
    ) -> dict[str, Any]:
        context: dict[str, Any] = {
            "aws:SecureTransport": "true",  # boto3 speaks HTTPS only
            "aws:RequestedRegion": request.region,
            "aws:PrincipalAccount": principal.account,
            "aws:CurrentTime": datetime.now(UTC).isoformat(),
            "aws:ViaAWSService": "true" if via else "false",
        }
        if via:
            context.update(
                {"aws:CalledVia": [via], "aws:CalledViaFirst": via, "aws:CalledViaLast": via}
            )
        if principal.kind == "role":
            context["aws:PrincipalArn"] = principal.arn
            context["aws:userid"] = principal.session_arn
        else:
            context["aws:PrincipalServiceName"] = principal.arn
            if principal.source_arn:
                context["aws:SourceArn"] = principal.source_arn
                context["aws:SourceAccount"] = principal.account
        prefix = info.name.split(":")[0]
        # Tag keys under every name the reference lists for this request: aws:ResourceTag
        # and a service's own (ec2:ResourceTag/...), each only where it applies.
        listed = [k.split("/", 1)[0] for k in info.condition_keys_for(resource) if "/" in k]
        resource_tag_keys = [k for k in listed if k.lower().endswith(":resourcetag")]
        request_tag_keys = [k for k in listed if k.lower().endswith(":requesttag")]
        if resource != "*" and resource_tag_keys:
            for key, value in self.facts.resource_tags(prefix, resource).items():
                context.update({f"{name}/{key}": value for name in resource_tag_keys})
        if request.request_tags and request_tag_keys:
            for key, value in request.request_tags.items():
                context.update({f"{name}/{key}": value for name in request_tag_keys})
            context["aws:TagKeys"] = list(request.request_tags)
        for key, value in request.keys.items():
            if info.supports_key(key, resource):
                context[key] = value
        return context

    # -- what the call makes the service do as the caller ----------------------------

    def _dependents(
        self,
        principal: Principal,
        prefix: str,
        operation: str,
        params: Mapping[str, Any],
        request: AuthRequest,
        *,
        resources: list[str],
    ) -> Iterator[tuple[Denial | None, tuple[str, int]]]:
        """What the call makes the service do as the caller, for the call's `resources`
        (canonical ARNs)."""
        denied = _DENIED_CODES.get(prefix, ("AccessDeniedException", 400))
        if prefix == "cloudhsm":
            for dependent in catalog.dependent_actions(request.action):
                lowered = dependent.lower()
                if lowered in _CONDITIONAL_DEPENDENTS:
                    continue
                if lowered.startswith("cloudhsm:") and lowered != "cloudhsm:tagresource":
                    continue  # e.g. CopyBackupToRegion lists itself: the call was authorized
                if lowered == "cloudhsm:tagresource":
                    if not request.request_tags:
                        continue
                    target = _new_resource_arn(operation, params, request)
                    yield self._authorize(principal, dependent, target, request), denied
                    continue
                yield (
                    self._authorize(
                        principal, dependent, "*", request, via="cloudhsm.amazonaws.com"
                    ),
                    denied,
                )
        passed = _PASSED_ROLES.get((prefix, operation))
        for role_arn in passed(params) if passed else []:
            if role_arn:
                yield (
                    self._authorize(
                        principal,
                        "iam:PassRole",
                        role_arn,
                        request,
                        extra={"iam:PassedToService": _PASSED_TO[prefix]},
                    ),
                    denied,
                )
        for resource in resources:
            yield from self._kms_uses(
                principal, prefix, operation, resource, request, params=params
            )

    def _kms_uses(
        self,
        principal: Principal,
        prefix: str,
        operation: str,
        resource: str,
        request: AuthRequest,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> Iterator[tuple[Denial | None, tuple[str, int]]]:
        params = params or {}
        key_id: str | None = None
        uses: tuple[str, ...] = _KMS_USE.get((prefix, operation), ())
        if uses and resource != "*":
            key_id = self.facts.encryption_key(prefix, resource, request.region)
        elif prefix == "ssm" and operation in (
            "GetParameter",
            "GetParameters",
            "GetParametersByPath",
        ):
            if params.get("WithDecryption") and resource != "*":
                key_id, uses = self.facts.parameter_key(resource), ("kms:Decrypt",)
        elif prefix == "secretsmanager" and operation == "GetSecretValue":
            found = self.facts.secret(resource, request.region, principal.account)
            if found is not None:
                key_id, uses = found[1] or "alias/aws/secretsmanager", ("kms:Decrypt",)
        if key_id is None:
            return
        # A key named by id or alias is the encrypted resource's account's key.
        key = self.facts.key(
            key_id, request.region, resource_account(resource) or principal.account
        )
        codes = _KMS_DENIED_CODES.get(prefix, ("AccessDeniedException", 400))
        if key is None:
            yield (
                _denial(
                    principal,
                    uses[0],
                    key_id,
                    Decision(False, "because the key does not exist"),
                    request.region,
                ),
                codes,
            )
            return
        via = f"{prefix}.{request.region}.amazonaws.com"
        extra = {"kms:ViaService": via, "kms:CallerAccount": principal.account}
        if principal.kind == "service":
            extra.pop("kms:CallerAccount")
        for use in uses:
            yield (
                self._authorize(
                    principal,
                    use,
                    key.arn,
                    request,
                    via=via.split(".", maxsplit=1)[0] + ".amazonaws.com",
                    extra=extra,
                    key_policy=key.policy,
                ),
                codes,
            )

    def _canonical(self, prefix: str, resource: str, region: str, account: str) -> str:
        """The ARN IAM sees for what a call in `account` names by id, alias or name."""
        if prefix == "kms" and resource != "*":
            key = self.facts.key(resource, region, account)
            return key.arn if key is not None else resource
        if prefix == "secretsmanager" and resource != "*":
            found = self.facts.secret(resource, region, account)
            if found is not None:
                return found[0]
            # No such secret: IAM sees the name as a partial ARN (no random suffix)
            return (
                resource
                if resource.startswith("arn:")
                else (f"arn:aws:secretsmanager:{region}:{account}:secret:{resource}")
            )
        return resource


def resource_account(resource: str) -> str | None:
    """The account an ARN names (None for "*", S3 ARNs and other account-less ones)."""
    parts = resource.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None
    account = parts[4]
    return account if len(account) == 12 and account.isdigit() else None


def _new_resource_arn(operation: str, params: Mapping[str, Any], request: AuthRequest) -> str:
    """The resource a create call tags: its id does not exist before the call."""
    if operation == "CopyBackupToRegion":
        region = str(params.get("DestinationRegion", request.region))
        return f"arn:aws:cloudhsm:{region}:{request.account}:backup/*"
    if operation == "CreateCluster":
        return f"arn:aws:cloudhsm:{request.region}:{request.account}:cluster/*"
    return request.resources[0]


def _denial(
    principal: Principal, action: str, resource: str, decision: Decision, region: str
) -> Denial:
    return Denial(
        principal=principal.session_arn,
        operation=action,
        action=action,
        resource=resource,
        reason=decision.reason.replace("the action", f"the {action} action"),
        region=region,
    )


# -- wiring into botocore and moto ---------------------------------------------------------

_ACTIVE: list[PermissionEnforcer] = []


def _remember_params(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    if _ACTIVE and _PRINCIPAL.get() is not None:
        context[_PARAMS_KEY] = dict(params)


def _authorize_call(
    model: Any, context: dict[str, Any], **_: Any
) -> tuple[Any, dict[str, Any]] | None:
    principal = _PRINCIPAL.get()
    if not _ACTIVE or principal is None:
        return None
    enforcer = _ACTIVE[-1]
    service_model = model.service_model
    service = service_model.service_name
    region = context.get("client_region") or "us-east-1"
    params = context.get(_PARAMS_KEY, {})
    refused = enforcer.check(principal, service, model.name, params, region)
    if refused is None:
        return None
    denial, code, status = refused
    return _error_response(code, status, denial.message)


def _error_response(code: str, status: int, message: str) -> tuple[Any, dict[str, Any]]:
    from botocore.awsrequest import AWSResponse

    request_id = str(uuid.uuid4())
    http = AWSResponse("https://sandbox.invalid/", status, {"x-amzn-RequestId": request_id}, None)
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": request_id},
    }
    return http, parsed


def _install_hooks() -> None:
    from botocore.handlers import BUILTIN_HANDLERS

    for event, handler in (
        ("before-parameter-build", _remember_params),
        ("before-call", _authorize_call),
    ):
        if (event, handler) not in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.append((event, handler))


_install_hooks()  # clients created from now on carry the hooks (inactive until enabled)


@contextmanager
def enforcing(enforcer: PermissionEnforcer) -> Iterator[PermissionEnforcer]:
    """Authorize every call made with a principal set, while open."""
    with principals_follow_executions():
        _ACTIVE.append(enforcer)
        try:
            yield enforcer
        finally:
            _ACTIVE.remove(enforcer)


@contextmanager
def principals_follow_executions() -> Iterator[None]:
    """Executions act as their state machine's role, in its account, and Step
    Functions' threads carry the principal of the code that started them. Part of
    `enforcing`; alone, calls are made in the right account without being checked."""
    with _threads_inherit_principal(), _executions_act_as_their_role():
        yield


@contextmanager
def _threads_inherit_principal() -> Iterator[None]:
    """Step Functions runs each execution, state and branch in threads of its own: they
    carry the principal of the code that started them."""
    original = threading.Thread.start

    def start(self: threading.Thread) -> None:
        context = copy_context()
        run = self.run
        self.run = lambda: context.run(run)  # type: ignore[method-assign]
        original(self)

    threading.Thread.start = start  # type: ignore[method-assign]
    try:
        yield
    finally:
        threading.Thread.start = original  # type: ignore[method-assign]


@contextmanager
def _executions_act_as_their_role() -> Iterator[None]:
    """Every service integration of an execution runs as the state machine's role."""
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original: Callable[[Any], None] = ExecutionWorker._execution_logic

    def logic(self: Any) -> None:
        role = self._evaluation_details.aws_execution_details.role_arn
        with acting_as(Principal.role(role)):
            original(self)

    ExecutionWorker._execution_logic = logic  # type: ignore[method-assign]
    try:
        yield
    finally:
        ExecutionWorker._execution_logic = original  # type: ignore[method-assign]
