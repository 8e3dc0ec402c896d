"""Sharing backups with the recovery account (the vault, docs/runbooks/vault.md), as pure
decisions. No boto3 here.

Per protected cluster, in its own region and in each DR region, the newest READY backup
(or copy) is shared with the recovery account through a resource policy on the backup;
backups shared earlier are unshared once a newer one of the same group is shared, so the
recovery account always sees one per group. The tag `hsmdr:shared-with=<account>` only
finds them again: a policy is removed only when the policy read back is the one this
code writes (`is_our_share`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lambdas.shared.copies import newest_first
from lambdas.shared.models import BACKUP_READY, Backup

SHARED_WITH_KEY = "hsmdr:shared-with"
SHARE_SID = "HsmdrVaultShare"
# What the recovery account may do with a shared backup: see it and restore it. AWS's
# managed RAM permission for CloudHSM backups grants the same two.
SHARED_ACTIONS = ("cloudhsm:CreateCluster", "cloudhsm:DescribeBackups")


class ShareAction(StrEnum):
    SHARE = "share"  # put (or confirm) the policy, tag the backup
    UNSHARE = "unshare"  # an older shared backup of a group whose newest is shared
    KEEP = "keep"  # shared, and nothing newer to replace it yet


@dataclass(frozen=True)
class ShareDecision:
    backup: Backup
    region: str
    cluster_id: str
    action: ShareAction
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {
            "backup_id": self.backup.backup_id,
            "region": self.region,
            "cluster_id": self.cluster_id,
            "action": self.action.value,
            "reason": self.reason,
        }


def partition_of_arn(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[1]:
        raise ValueError(f"{arn!r} is not an ARN")
    return parts[1]


def share_policy(backup_arn: str, account: str) -> str:
    """The resource policy that shares `backup_arn` with `account`, and nothing else."""
    principal = f"arn:{partition_of_arn(backup_arn)}:iam::{account}:root"
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": SHARE_SID,
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": list(SHARED_ACTIONS),
                "Resource": backup_arn,
            }
        ],
    }
    return json.dumps(document, separators=(",", ":"))


def is_our_share(policy: str | None, backup_arn: str, account: str) -> bool:
    """Whether `policy`, read back from the backup, is exactly the share this code puts:
    only then may it be replaced or removed by this code."""
    if not policy:
        return False
    try:
        document: Any = json.loads(policy)
    except ValueError:
        return False
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or len(statements) != 1:
        return False
    (statement,) = statements
    if not isinstance(statement, dict):
        return False
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else actions
    principal = statement.get("Principal")
    wanted = f"arn:{partition_of_arn(backup_arn)}:iam::{account}:root"
    return (
        statement.get("Sid") == SHARE_SID
        and statement.get("Effect") == "Allow"
        and isinstance(principal, dict)
        and principal.get("AWS") in (wanted, account)
        and isinstance(actions, list)
        and sorted(actions) == sorted(SHARED_ACTIONS)
        and statement.get("Resource") == backup_arn
    )


def is_tagged_shared(backup: Backup, account: str) -> bool:
    return backup.tags.get(SHARED_WITH_KEY) == account


def plan_sharing(
    backups: Iterable[Backup], *, region: str, cluster_ids: Sequence[str], account: str
) -> list[ShareDecision]:
    """One decision per backup to share, keep shared or unshare, for the backups (or
    copies) of `cluster_ids` held in `region`. Backups of other clusters are ignored."""
    wanted = set(cluster_ids)
    groups: dict[str, list[Backup]] = {c: [] for c in cluster_ids}
    for backup in backups:
        if backup.origin_cluster in wanted:
            groups[backup.origin_cluster].append(backup)
    decisions: list[ShareDecision] = []
    for cluster_id in cluster_ids:
        group = groups[cluster_id]
        ready = newest_first(b for b in group if b.state == BACKUP_READY and b.backup_arn)
        newest = ready[0] if ready else None
        shared = [b for b in newest_first(group) if is_tagged_shared(b, account)]
        if newest is not None:
            again = " (tagged shared already: the policy is checked)"
            reason = f"the newest READY backup of {cluster_id} in {region}"
            decisions.append(
                ShareDecision(
                    newest,
                    region,
                    cluster_id,
                    ShareAction.SHARE,
                    reason + (again if is_tagged_shared(newest, account) else ""),
                )
            )
        for backup in shared:
            if newest is not None and backup.backup_id == newest.backup_id:
                continue
            if newest is None:
                decisions.append(
                    ShareDecision(
                        backup,
                        region,
                        cluster_id,
                        ShareAction.KEEP,
                        f"no READY backup of {cluster_id} in {region} to share instead",
                    )
                )
                continue
            decisions.append(
                ShareDecision(
                    backup,
                    region,
                    cluster_id,
                    ShareAction.UNSHARE,
                    f"older than {newest.backup_id}, the newest shared of {cluster_id} in {region}",
                )
            )
    return decisions
