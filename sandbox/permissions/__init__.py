"""The sandbox authorizes calls as AWS does: identity policies, resource policies, KMS
key policies, with the Service Authorization Reference's actions, resource types and
condition keys (sandbox/permissions/catalog.py)."""

from sandbox.permissions.enforcer import (
    Denial,
    PermissionEnforcer,
    SandboxAuthorizationGap,
    acting_as,
    current_principal,
    enforcing,
)
from sandbox.permissions.policy import Principal

__all__ = [
    "Denial",
    "PermissionEnforcer",
    "Principal",
    "SandboxAuthorizationGap",
    "acting_as",
    "current_principal",
    "enforcing",
]
