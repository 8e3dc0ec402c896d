"""The sandbox authorizes calls as AWS does: identity policies, resource policies, KMS
key policies, with the Service Authorization Reference's actions, resource types and
condition keys (sandbox/permissions/catalog.py); each call in its caller's account
(sandbox/permissions/accounts.py), with cross-account calls needing both sides."""

from sandbox.permissions.accounts import bind_client, calling_account, in_account
from sandbox.permissions.enforcer import (
    Denial,
    PermissionEnforcer,
    SandboxAuthorizationGap,
    acting_as,
    current_principal,
    enforcing,
    principals_follow_executions,
)
from sandbox.permissions.policy import Principal

__all__ = [
    "Denial",
    "PermissionEnforcer",
    "Principal",
    "SandboxAuthorizationGap",
    "acting_as",
    "bind_client",
    "calling_account",
    "current_principal",
    "enforcing",
    "in_account",
    "principals_follow_executions",
]
