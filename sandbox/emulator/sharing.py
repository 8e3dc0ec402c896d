"""Backup sharing: what a backup's resource policy lets another account do, and what
PutResourcePolicy accepts.

The service itself decides who may use a shared backup from its resource policy (the
caller's identity policies are IAM's part, checked by sandbox/permissions when the
sandbox enforces them). The service sees the calling account, not the principal, so
a statement counts for an account when its Principal is "*", {"AWS": "*"}, the account
id, its root ARN or an ARN of the account (a role or user there). A statement with a
Condition is not evaluated here: an Allow with one does not count, a Deny with one
does (the emulator refuses rather than grants what it cannot check).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sandbox.emulator.errors import CloudHsmInvalidRequestException

MAX_POLICY_CHARS = 20000
EFFECTS = ("Allow", "Deny")


def validated_policy(text: str) -> Mapping[str, Any]:
    """A resource policy as PutResourcePolicy accepts it: a JSON object with a non-empty
    Statement, each statement with an Effect, a Principal and cloudhsm actions. (The API
    reference documents the 20000-character limit; the statement checks are IAM's
    grammar for resource-based policies.)"""
    if len(text) > MAX_POLICY_CHARS:
        raise CloudHsmInvalidRequestException(
            f"Policy is longer than {MAX_POLICY_CHARS} characters"
        )
    try:
        policy = json.loads(text)
    except ValueError as error:
        raise CloudHsmInvalidRequestException("Policy is not valid JSON") from error
    if not isinstance(policy, dict):
        raise CloudHsmInvalidRequestException("Policy must be a JSON object")
    statements = _statements(policy)
    if not statements:
        raise CloudHsmInvalidRequestException("Policy has no Statement")
    for index, statement in enumerate(statements):
        where = f"Policy Statement[{index}]"
        if not isinstance(statement, dict):
            raise CloudHsmInvalidRequestException(f"{where} must be a JSON object")
        if statement.get("Effect") not in EFFECTS:
            raise CloudHsmInvalidRequestException(f"{where}.Effect must be Allow or Deny")
        if "Principal" not in statement:
            raise CloudHsmInvalidRequestException(
                f"{where} has no Principal: a resource policy must name who it applies to"
            )
        actions = _listed(statement.get("Action"))
        if not actions:
            raise CloudHsmInvalidRequestException(f"{where} has no Action")
        for action in actions:
            if action != "*" and not action.lower().startswith("cloudhsm:"):
                raise CloudHsmInvalidRequestException(
                    f"{where}.Action {action!r} is not a cloudhsm action"
                )
    return policy


def allows(policy_text: str | None, account_id: str, action: str, resource_arn: str) -> bool:
    """Whether the policy lets `account_id` perform `action` on the backup: an Allow
    that applies and no Deny that applies."""
    if not policy_text:
        return False
    try:
        policy = json.loads(policy_text)
    except ValueError:
        return False
    allowed = False
    for statement in _statements(policy):
        if not isinstance(statement, dict) or not _applies(
            statement, account_id, action, resource_arn
        ):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow" and "Condition" not in statement:
            allowed = True
    return allowed


def _applies(statement: Mapping[str, Any], account_id: str, action: str, arn: str) -> bool:
    return (
        _names_account(statement.get("Principal"), account_id)
        and any(
            _wildcard(p, action, case_sensitive=False) for p in _listed(statement.get("Action"))
        )
        and (
            "Resource" not in statement
            or any(_wildcard(p, arn, case_sensitive=True) for p in _listed(statement["Resource"]))
        )
    )


def _names_account(principal: Any, account_id: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for entry in _listed(principal.get("AWS")):
        if entry in ("*", account_id) or entry.split(":")[4:5] == [account_id]:
            return True
    return False


def _statements(policy: Mapping[str, Any]) -> list[Any]:
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, Mapping) else list(statements)


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def _wildcard(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None
