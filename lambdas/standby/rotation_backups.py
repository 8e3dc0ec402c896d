"""The backup a warm standby's rotation leaves behind, as pure decisions. No boto3 here.

Removing the HSM of an ACTIVE cluster makes CloudHSM back the cluster up, and the
service never deletes a cluster's last backup: each rotation would leave one backup of
the old standby (production keys) forever. The refresher records the backup its own
DeleteHsm made, while the standby still exists, by tagging the backup with the
standby's identity (`rotation_tags`), and deletes it once the standby is gone and the
new standby serves, after re-reading the backup's tags, ClusterId, SourceBackup and
CreateTimestamp (`deletion_decision`).

IAM cannot tell a standby's backup from any other untagged backup of the region (no
condition key names a backup's cluster), so these checks, not the tags alone, are the
proof of ownership: see stacks/constructs/standby/standby_refresher.py.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from lambdas.shared.copies import DEPLOYMENT_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE
from lambdas.shared.models import BACKUP_READY, Backup, Cluster
from lambdas.shared.standby import STANDBY_OF_KEY, is_standby_of

ROTATION_OF_KEY = "hsmdr:rotation-of"  # the standby whose HSM removal made the backup
HSM_REMOVED_AT_KEY = "hsmdr:hsm-removed-at"  # when the refresher's DeleteHsm started
# Every key the refresher may put on a backup (IAM aws:TagKeys allows these only).
ROTATION_TAG_KEYS = (
    MANAGED_BY_KEY,
    DEPLOYMENT_KEY,
    STANDBY_OF_KEY,
    ROTATION_OF_KEY,
    HSM_REMOVED_AT_KEY,
)
# The function's clock and CloudHSM's may differ by a little (both NTP-synchronised);
# CreateTimestamp also comes back rounded to the millisecond.
CLOCK_SKEW = timedelta(seconds=5)
_GONE = ("DELETE_IN_PROGRESS", "DELETED")

DELETE = "delete"
WAIT = "wait"
REFUSE = "refuse"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(raw: str) -> datetime | None:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def rotation_tags(
    standby_tags: Mapping[str, str], standby_id: str, removed_at: datetime
) -> dict[str, str]:
    """The tags recording that `standby_id`'s HSM removal, started at `removed_at`,
    made the backup; copied from the standby's tags as re-read right before."""
    return {
        MANAGED_BY_KEY: MANAGED_BY_VALUE,
        DEPLOYMENT_KEY: standby_tags[DEPLOYMENT_KEY],
        STANDBY_OF_KEY: standby_tags[STANDBY_OF_KEY],
        ROTATION_OF_KEY: standby_id,
        HSM_REMOVED_AT_KEY: iso(removed_at),
    }


def made_by_removal(
    backups: Sequence[Backup],
    standby_id: str,
    existed_before: Collection[str],
    removed_at: datetime,
) -> list[Backup]:
    """The backups of `standby_id` that its HSM removal made: of that cluster, not a
    copy, not listed before the DeleteHsm, created after it started, and not tagged by
    anyone yet."""
    return [
        b
        for b in backups
        if b.cluster_id == standby_id
        and not b.is_copy
        and b.backup_id not in existed_before
        and b.create_timestamp is not None
        and b.create_timestamp >= removed_at - CLOCK_SKEW
        and not b.tags
    ]


def is_rotation_candidate(backup: Backup, deployment: str, cluster_id: str) -> bool:
    """A backup whose tags say: a rotation backup of this deployment's standby of
    `cluster_id` (what the refresher then proves before deleting it)."""
    return (
        backup.tags.get(ROTATION_OF_KEY) is not None
        and backup.tags.get(DEPLOYMENT_KEY) == deployment
        and backup.tags.get(STANDBY_OF_KEY) == cluster_id
    )


@dataclass(frozen=True)
class BackupDecision:
    backup_id: str
    action: str  # DELETE, WAIT or REFUSE
    reason: str


def deletion_decision(
    backup: Backup,
    tags: Mapping[str, str],
    *,
    deployment: str,
    cluster_id: str,
    protected: Collection[str],
    clusters: Sequence[Cluster],
    deleted_now: Collection[str],
    new_standby_serving: bool,
) -> BackupDecision:
    """Delete the rotation backup `backup` (as re-read: DescribeBackups and ListTags)?

    Refused (a person must look): its tags are not this deployment's rotation tags of
    `cluster_id`; it is a copy; its ClusterId is not the standby its tags name, is a
    protected cluster, or is a cluster that is not this deployment's standby; it was
    created before the HSM removal its tags record. Waited for: it is not READY, the
    standby still exists, or the new standby does not serve yet (the old standby's keys
    must stay recoverable until then)."""
    cluster = next((c for c in clusters if c.cluster_id == backup.cluster_id), None)
    refusal = _refusal(
        backup,
        tags,
        deployment=deployment,
        cluster_id=cluster_id,
        protected=protected,
        cluster=cluster,
    )
    if refusal is not None:
        return BackupDecision(backup.backup_id, REFUSE, f"backup {backup.backup_id}{refusal}")
    waits = (
        (backup.state != BACKUP_READY, f"is {backup.state}"),
        (
            cluster is not None
            and cluster.state not in _GONE
            and backup.cluster_id not in deleted_now,
            f"standby {backup.cluster_id} is still {cluster.state if cluster else ''}",
        ),
        (not new_standby_serving, f"the new standby of {cluster_id} does not serve yet"),
    )
    wait = next((why for hit, why in waits if hit), None)
    if wait is not None:
        return BackupDecision(backup.backup_id, WAIT, f"backup {backup.backup_id}: {wait}")
    return BackupDecision(
        backup.backup_id,
        DELETE,
        f"backup {backup.backup_id}: made by removing standby {backup.cluster_id}'s HSM",
    )


def _refusal(
    backup: Backup,
    tags: Mapping[str, str],
    *,
    deployment: str,
    cluster_id: str,
    protected: Collection[str],
    cluster: Cluster | None,
) -> str | None:
    """Why `backup` is not provably a rotation backup the refresher made, or None."""
    standby_id = tags.get(ROTATION_OF_KEY, "")
    removed_at = _parse(tags.get(HSM_REMOVED_AT_KEY, ""))
    created = backup.create_timestamp
    checks = (
        (
            not (
                tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE
                and tags.get(DEPLOYMENT_KEY) == deployment
                and tags.get(STANDBY_OF_KEY) == cluster_id
                and standby_id
            ),
            f": its tags no longer say it is a rotation backup of {deployment}'s standby "
            f"of {cluster_id}",
        ),
        (backup.is_copy, f" is a copy (SourceBackup {backup.source_backup}), not a standby's"),
        (
            backup.cluster_id != standby_id,
            f": its ClusterId {backup.cluster_id or '(none)'} is not the standby its tags "
            f"name ({standby_id})",
        ),
        (backup.cluster_id in protected, f": its ClusterId {backup.cluster_id} is protected"),
        (
            cluster is not None and not is_standby_of(cluster.tags, deployment, cluster_id),
            f": its ClusterId {backup.cluster_id} is not a standby of {cluster_id}",
        ),
        (
            removed_at is None or created is None or created < removed_at - CLOCK_SKEW,
            f" was not created after the HSM removal its tags record "
            f"({tags.get(HSM_REMOVED_AT_KEY, 'none')})",
        ),
    )
    return next((why for hit, why in checks if hit), None)
