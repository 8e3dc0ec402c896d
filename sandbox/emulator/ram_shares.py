"""The AWS RAM side of a backup shared by PutResourcePolicy.

AWS: a resource policy put on a backup makes a RAM resource share "created from
policy" (featureSet CREATED_FROM_POLICY) in the owner's account; DescribeBackups
Shared=true lists the backup in the accounts it names only once that share is promoted
to a standard one with RAM's PromoteResourceShareCreatedFromPolicy (botocore's
cloudhsmv2 model, DescribeBackups' Shared member; API_PutResourcePolicy.html).

Here the share is a record in moto's RAM backend of the owner's account and region,
so the owner finds it with ordinary RAM calls (GetResourceShares resourceOwner=SELF,
GetResourceShareAssociations associationType=RESOURCE resourceArn=<backup ARN>); the
moto plug-in adds PromoteResourceShareCreatedFromPolicy, which moto lacks. Promotion
needing no acceptance by the recipient is UNCONFIRMED.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.emulator.core import WorldCore
from sandbox.emulator.models import Backup

CREATED_FROM_POLICY = "CREATED_FROM_POLICY"
STANDARD = "STANDARD"


def _backend(core: WorldCore, region: str) -> Any:
    from moto.ram.models import ram_backends

    return ram_backends[core.account_id][region]


def _principals(policy: str) -> list[str]:
    """The AWS principals the policy's statements name, in order, once each."""
    document = json.loads(policy)
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    named: list[str] = []
    for statement in statements:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        entries = principal.get("AWS") if isinstance(principal, dict) else principal
        for entry in [entries] if isinstance(entries, str) else list(entries or []):
            if str(entry) not in named:
                named.append(str(entry))
    return named


def policy_put(core: WorldCore, backup: Backup, policy: str) -> None:
    """Record (or update) the share created from the backup's policy; a new policy
    undoes an earlier promotion, as the share is made anew."""
    from moto.ram.models import ResourceShare

    existing = _share(core, backup)
    if existing is not None:
        existing.delete()
    share = ResourceShare(
        core.account_id, backup.region, name=f"cloudhsm-backup-{backup.backup_id}"
    )
    share.feature_set = CREATED_FROM_POLICY
    share.principals = _principals(policy)
    share.resource_arns = [backup.arn]
    _backend(core, backup.region).resource_shares.append(share)
    core.policy_shares[backup.arn] = share.arn
    core.promoted_shares.discard(backup.arn)


def policy_deleted(core: WorldCore, backup: Backup) -> None:
    share = _share(core, backup)
    if share is not None:
        share.delete()
    core.policy_shares.pop(backup.arn, None)
    core.promoted_shares.discard(backup.arn)


def promote(core: WorldCore, region: str, share_arn: str) -> list[str]:
    """PromoteResourceShareCreatedFromPolicy in the caller's account: the backup ARNs
    that became standard shares. Raises LookupError (no such share) or ValueError (not
    a share created from a policy)."""
    share = next(
        (
            s
            for s in _backend(core, region).resource_shares
            if s.arn == share_arn and s.status != "DELETED"
        ),
        None,
    )
    if share is None:
        raise LookupError(f"ResourceShare {share_arn} could not be found.")
    if share.feature_set != CREATED_FROM_POLICY:
        raise ValueError(
            f"ResourceShare {share_arn} is {share.feature_set}: only a resource share "
            "created from a policy can be promoted"
        )
    share.feature_set = STANDARD
    promoted = [arn for arn in share.resource_arns if core.policy_shares.get(arn) == share.arn]
    core.promoted_shares.update(promoted)
    return promoted


def promote_backup(core: WorldCore, backup_arn: str) -> None:
    """Promote the share made from the backup's policy (an out-of-band shortcut)."""
    share_arn = core.policy_shares.get(backup_arn)
    if share_arn is None:
        raise ValueError(f"{backup_arn} has no resource policy of this account to promote")
    promote(core, backup_arn.split(":")[3], share_arn)


def _share(core: WorldCore, backup: Backup) -> Any:
    share_arn = core.policy_shares.get(backup.arn)
    if share_arn is None:
        return None
    backend = _backend(core, backup.region)
    return next((s for s in backend.resource_shares if s.arn == share_arn), None)
