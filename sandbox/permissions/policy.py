"""IAM policy evaluation, as AWS documents it, for one request in one account.

Pure: no AWS calls. The caller gives the policies that apply (the principal's identity
policies, the resource's policy, and for KMS the key policy) and the request context;
`evaluate` returns AWS's answer with the reason AWS would give.

The order is AWS's (policy evaluation logic, same account): an explicit Deny in any
policy wins; otherwise an Allow in an identity policy or a resource policy that names the
principal allows; otherwise the request is implicitly denied. A KMS key policy is the
exception: the key policy must allow, either the principal itself or the account (which
delegates to identity policies).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Policy = Mapping[str, Any]
Context = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an IAM role (its calls carry the assumed-role session) or an
    AWS service principal acting for a resource of the account (`source_arn`)."""

    kind: Literal["role", "service"]
    arn: str  # role ARN, or service principal name
    account: str
    source_arn: str | None = None  # the resource a service principal acts for

    @classmethod
    def role(cls, role_arn: str) -> Principal:
        return cls("role", role_arn, role_arn.split(":")[4])

    @classmethod
    def service(cls, name: str, account: str, source_arn: str | None = None) -> Principal:
        return cls("service", name, account, source_arn)

    @property
    def session_arn(self) -> str:
        """How AWS names a role's caller in an AccessDenied message."""
        if self.kind != "role":
            return self.arn
        name = self.arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{self.account}:assumed-role/{name}/{name}-session"


Effect = Literal["Allow", "Deny"]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # the phrase AWS appends: "because no identity-based policy allows ..."
    matched: tuple[str, ...] = field(default=())  # the statements that decided, for humans


def evaluate(
    principal: Principal,
    action: str,
    resource: str,
    context: Context,
    *,
    identity_policies: Iterable[Policy] = (),
    resource_policy: Policy | None = None,
    key_policy: bool = False,
) -> Decision:
    """AWS's answer for one action on one resource. `key_policy`: `resource_policy` is
    a KMS key policy, which must allow (directly or by delegating to the account)."""
    identity = [
        s for p in (identity_policies if principal.kind == "role" else ()) for s in _statements(p)
    ]
    on_resource = _statements(resource_policy) if resource_policy is not None else []
    request = (action, resource, context)
    denied = _explicit_deny(identity, on_resource, principal, request)
    if denied is not None:
        return denied
    identity_allows = tuple(
        _sid(s) for s in identity if s.get("Effect") == "Allow" and _matches(s, *request)
    )
    direct: list[str] = []
    delegated: list[str] = []
    for statement in on_resource:
        match = _principal_match(statement, principal)
        if statement.get("Effect") == "Allow" and match and _matches(statement, *request):
            (direct if match == "direct" else delegated).append(_sid(statement))
    if direct:
        return Decision(True, "allowed by the resource-based policy", tuple(direct))
    if key_policy:
        return _key_policy_decision(bool(delegated), identity_allows)
    if identity_allows:
        return Decision(True, "allowed by an identity-based policy", identity_allows)
    missing = "resource-based" if principal.kind == "service" else "identity-based"
    return Decision(False, f"because no {missing} policy allows the action")


def evaluate_cross_account(
    principal: Principal,
    action: str,
    resource: str,
    context: Context,
    *,
    identity_policies: Iterable[Policy] = (),
    resource_policy: Policy | None = None,
) -> Decision:
    """AWS's answer when the resource belongs to another account than the caller's:
    an explicit Deny anywhere wins; otherwise the caller's identity policies AND the
    resource's policy (naming the caller or its account) must both allow."""
    identity = [
        s for p in (identity_policies if principal.kind == "role" else ()) for s in _statements(p)
    ]
    on_resource = _statements(resource_policy) if resource_policy is not None else []
    request = (action, resource, context)
    denied = _explicit_deny(identity, on_resource, principal, request)
    if denied is not None:
        return denied
    granted = tuple(
        _sid(s)
        for s in on_resource
        if s.get("Effect") == "Allow" and _principal_match(s, principal) and _matches(s, *request)
    )
    if not granted:
        return Decision(False, "because no resource-based policy allows the action")
    identity_allows = tuple(
        _sid(s) for s in identity if s.get("Effect") == "Allow" and _matches(s, *request)
    )
    if not identity_allows:
        return Decision(False, "because no identity-based policy allows the action")
    return Decision(True, "allowed by the identity-based and resource-based policies", granted)


def _explicit_deny(
    identity: list[Mapping[str, Any]],
    on_resource: list[Mapping[str, Any]],
    principal: Principal,
    request: tuple[str, str, Context],
) -> Decision | None:
    for name, statements, by_principal in (
        ("identity-based policy", identity, False),
        ("resource-based policy", on_resource, True),
    ):
        for statement in statements:
            if statement.get("Effect") != "Deny" or not _matches(statement, *request):
                continue
            if by_principal and not _principal_match(statement, principal):
                continue
            return Decision(False, f"with an explicit deny in a {name}", (_sid(statement),))
    return None


def _key_policy_decision(delegated: bool, identity_allows: tuple[str, ...]) -> Decision:
    """A key policy that names the account delegates to identity policies; one that
    names neither the caller nor the account allows nobody, whatever IAM says."""
    if not delegated:
        return Decision(False, "because no resource-based policy allows the action")
    if identity_allows:
        return Decision(True, "allowed by an identity-based policy", identity_allows)
    return Decision(False, "because no identity-based policy allows the action")


def statement_grants(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    """Action and Resource match (conditions and principal aside): for static checks."""
    return _action_matches(statement, action) and _resource_matches(statement, resource)


# -- statements -------------------------------------------------------------------------


def _statements(policy: Policy) -> list[Mapping[str, Any]]:
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, Mapping) else list(statements)


def _sid(statement: Mapping[str, Any]) -> str:
    return str(statement.get("Sid") or _listed(statement.get("Action", statement.get("NotAction"))))


def _matches(statement: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    return (
        _action_matches(statement, action)
        and _resource_matches(statement, resource)
        and conditions_hold(statement.get("Condition", {}), context)
    )


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def _wildcard(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    """IAM's `*` and `?` (no character classes: `[` is literal)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(
            _wildcard(p, action, case_sensitive=False) for p in _listed(statement["NotAction"])
        )
    return any(_wildcard(p, action, case_sensitive=False) for p in _listed(statement.get("Action")))


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_arn_like(p, resource) for p in _listed(statement["NotResource"]))
    if "Resource" not in statement:  # resource policies may omit it: their own resource
        return True
    return any(_arn_like(p, resource) for p in _listed(statement["Resource"]))


def _arn_like(pattern: str, arn: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own."""
    if pattern == "*":
        return True
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return _wildcard(pattern, arn, case_sensitive=True)
    return all(
        _wildcard(p, a, case_sensitive=True) for p, a in zip(pattern_parts, arn_parts, strict=True)
    )


def _principal_match(
    statement: Mapping[str, Any], principal: Principal
) -> Literal["direct", "account", ""]:
    """How a resource policy statement names the caller: the caller itself ("direct"),
    its account (a delegation to identity policies), or not at all."""
    if "NotPrincipal" in statement:
        return "" if _names(statement["NotPrincipal"], principal) else "direct"
    named = statement.get("Principal")
    if named is None:
        return ""
    return _names(named, principal)


def _names(named: Any, principal: Principal) -> Literal["direct", "account", ""]:
    if named == "*":
        return "direct"
    if not isinstance(named, Mapping):
        return ""
    if principal.kind == "service":
        return "direct" if principal.arn in _listed(named.get("Service")) else ""
    entries = _listed(named.get("AWS"))
    if "*" in entries or principal.arn in entries:
        return "direct"
    root = f"arn:aws:iam::{principal.account}:root"
    return "account" if principal.account in entries or root in entries else ""


# -- conditions -------------------------------------------------------------------------


def conditions_hold(conditions: Mapping[str, Any], context: Context) -> bool:
    """Every operator block, every key in it (AND); any value of a key (OR)."""
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, block in conditions.items():
        for key, expected in block.items():
            if not _condition(operator, key, _listed(expected), lowered.get(key.lower())):
                return False
    return True


_NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "NotIpAddress",
}


def _condition(
    operator: str, key: str, expected: list[str], actual: str | Sequence[str] | None
) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base == "Null":
        is_null = actual is None or (not isinstance(actual, str) and len(actual) == 0)
        return any(str(e).lower() == str(is_null).lower() for e in expected)
    if actual is None:
        if qualifier == "ForAllValues":
            return True
        return if_exists or base in _NEGATED
    values = [actual] if isinstance(actual, str) else list(actual)
    if qualifier == "ForAllValues":
        return all(_compare(base, v, expected) for v in values)
    if base in _NEGATED:  # single-valued negation: none of the expected values matches
        positive = base.replace("Not", "", 1)
        return not any(_compare(positive, v, expected) for v in values)
    return any(_compare(base, v, expected) for v in values)


def _compare(base: str, value: str, expected: list[str]) -> bool:
    comparers: dict[str, Callable[[str], bool]] = {
        "StringEquals": lambda e: value == e,
        "StringEqualsIgnoreCase": lambda e: value.lower() == e.lower(),
        "StringLike": lambda e: _wildcard(e, value, case_sensitive=True),
        "ArnEquals": lambda e: _arn_like(e, value),
        "ArnLike": lambda e: _arn_like(e, value),
        "Bool": lambda e: value.lower() == e.lower(),
        "NumericEquals": lambda e: float(value) == float(e),
        "NumericLessThan": lambda e: float(value) < float(e),
        "NumericLessThanEquals": lambda e: float(value) <= float(e),
        "NumericGreaterThan": lambda e: float(value) > float(e),
        "NumericGreaterThanEquals": lambda e: float(value) >= float(e),
        "DateEquals": lambda e: _date(value) == _date(e),
        "DateLessThan": lambda e: _date(value) < _date(e),
        "DateLessThanEquals": lambda e: _date(value) <= _date(e),
        "DateGreaterThan": lambda e: _date(value) > _date(e),
        "DateGreaterThanEquals": lambda e: _date(value) >= _date(e),
        "IpAddress": lambda e: ipaddress.ip_address(value) in ipaddress.ip_network(e),
    }
    if base not in comparers:
        raise ValueError(f"condition operator {base!r} is not supported by the sandbox")
    return any(comparers[base](e) for e in expected)


def _date(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


__all__ = [
    "Context",
    "Decision",
    "Principal",
    "conditions_hold",
    "evaluate",
    "evaluate_cross_account",
]
