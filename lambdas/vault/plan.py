"""The vault's decisions, pure: which shared backups to pull, what each HSM step does
next, which vault backups are pruned, which copies are missing. No boto3 here.

A backup shared with the recovery account cannot be copied, re-shared or deleted by it,
and production can unshare or delete it at any time. A cluster created from it belongs
to the recovery account, and adding then removing an HSM in that ACTIVE cluster makes a
backup the recovery account owns: that backup is the vault's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lambdas.shared.copies import (
    DEPLOYMENT_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    SOURCE_BACKUP_KEY,
    SOURCE_CLUSTER_KEY,
    newest_first,
)
from lambdas.shared.models import BACKUP_READY, GONE, HSM_ACTIVE, HSM_DEGRADED, Backup
from lambdas.shared.vault_tags import DRILL_KEY, VAULT_KEY

REFRESH_KEY = "hsmdr:vault-refresh"  # on a vault cluster: the execution that created it
# Keys a vault cluster is created with (CreateCluster's TagList).
CLUSTER_TAG_KEYS = (
    MANAGED_BY_KEY,
    DEPLOYMENT_KEY,
    VAULT_KEY,
    SOURCE_CLUSTER_KEY,
    SOURCE_BACKUP_KEY,
    REFRESH_KEY,
)
# Keys the refresh puts on the vault backup it made, and on the copies of it.
# On a vault backup: when the production backup it holds was made. The vault backup
# itself is made later, by the refresh: its own CreateTimestamp says nothing of how old
# its keys are, this tag does (the vault's data age, what VAULT_STALE holds to the RPO).
SOURCE_CREATED_KEY = "hsmdr:source-created"
BACKUP_TAG_KEYS = (
    MANAGED_BY_KEY,
    DEPLOYMENT_KEY,
    VAULT_KEY,
    SOURCE_CLUSTER_KEY,
    SOURCE_BACKUP_KEY,
    SOURCE_CREATED_KEY,
)

# What the HSM step does next.
CREATE = "create"  # add the vault HSM (none yet, or the DEGRADED one is gone)
WAIT = "wait"  # the HSM is changing state
DISCARD = "discard"  # delete a DEGRADED HSM (it never recovers), then create another
REMOVE = "remove"  # the HSM was ACTIVE: delete it, which makes the vault backup
DONE = "done"  # the HSM is gone after being ACTIVE


class VaultRefusal(Exception):
    """A refresh step refuses to go on: Step Functions catches it by this class name."""


class TooManyDegradedHsms(VaultRefusal):
    pass


class VaultTimeout(VaultRefusal):
    pass


class NotOurVaultCluster(VaultRefusal):
    pass


def source_cluster_of(shared: Backup) -> str:
    """The production cluster whose keys a shared backup (or shared copy) holds."""
    return shared.origin_cluster


def cluster_tags(deployment: str, shared: Backup, refresh_id: str) -> dict[str, str]:
    return {
        MANAGED_BY_KEY: MANAGED_BY_VALUE,
        DEPLOYMENT_KEY: deployment,
        VAULT_KEY: deployment,
        SOURCE_CLUSTER_KEY: source_cluster_of(shared),
        SOURCE_BACKUP_KEY: shared.backup_arn,
        REFRESH_KEY: refresh_id,
    }


def backup_tags(
    deployment: str, source_cluster: str, source_backup: str, source_created: str = ""
) -> dict[str, str]:
    tags = {
        MANAGED_BY_KEY: MANAGED_BY_VALUE,
        DEPLOYMENT_KEY: deployment,
        VAULT_KEY: deployment,
        SOURCE_CLUSTER_KEY: source_cluster,
        SOURCE_BACKUP_KEY: source_backup,
    }
    if source_created:
        tags[SOURCE_CREATED_KEY] = source_created
    return tags


def created_tag(moment: datetime | None) -> str:
    """A timestamp as a tag value (UTC, seconds): '' when unknown."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def data_time(backup: Backup) -> datetime | None:
    """When the data a vault backup holds was backed up in production: its
    hsmdr:source-created tag; a backup without it (made before the tag existed) is
    taken at its own CreateTimestamp, which is later (so it looks fresher than it is)."""
    raw = backup.tags.get(SOURCE_CREATED_KEY, "")
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return backup.create_timestamp


def is_vault_resource(tags: Mapping[str, str], deployment: str) -> bool:
    """A vault cluster or backup; never one the vault drill made (a drill backup is
    neither held back as the newest of its cluster nor pruned as the vault's)."""
    return (
        tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE
        and tags.get(DEPLOYMENT_KEY) == deployment
        and tags.get(VAULT_KEY) == deployment
        and DRILL_KEY not in tags
    )


def is_this_refresh_cluster(tags: Mapping[str, str], deployment: str, refresh_id: str) -> bool:
    """The cluster this execution created: the vault's tags AND its refresh id."""
    return is_vault_resource(tags, deployment) and tags.get(REFRESH_KEY) == refresh_id


def vault_backups(backups: Iterable[Backup], deployment: str) -> list[Backup]:
    return [b for b in backups if is_vault_resource(b.tags, deployment)]


@dataclass(frozen=True)
class Refresh:
    source_cluster: str
    shared_arn: str
    shared_id: str
    hsm_type: str
    mode: str
    reason: str
    shared_created: str = ""  # created_tag() of the shared backup

    def to_dict(self) -> dict[str, str]:
        return {
            "shared_created": self.shared_created,
            "source_cluster": self.source_cluster,
            "shared_arn": self.shared_arn,
            "shared_id": self.shared_id,
            "hsm_type": self.hsm_type,
            "mode": self.mode,
            "reason": self.reason,
        }


def plan_refreshes(
    shared: Iterable[Backup],
    owned: Iterable[Backup],
    *,
    deployment: str,
    cluster_ids: Sequence[str],
) -> list[Refresh]:
    """Per protected cluster: its newest READY shared backup, when it is newer than the
    newest vault backup of that cluster and no vault backup was made from it yet."""
    vault = vault_backups(owned, deployment)
    made_from = {b.tags.get(SOURCE_BACKUP_KEY) for b in vault}
    newest_vault: dict[str, datetime] = {}
    for backup in vault:
        source = backup.tags.get(SOURCE_CLUSTER_KEY, "")
        when = data_time(backup)
        if backup.state != BACKUP_READY or when is None:
            continue
        if source not in newest_vault or when > newest_vault[source]:
            newest_vault[source] = when
    by_cluster: dict[str, list[Backup]] = defaultdict(list)
    for backup in shared:
        if backup.state == BACKUP_READY and backup.backup_arn:
            by_cluster[source_cluster_of(backup)].append(backup)
    refreshes = []
    for cluster_id in cluster_ids:
        candidates = newest_first(by_cluster.get(cluster_id, []))
        if not candidates:
            continue
        newest = candidates[0]
        if newest.backup_arn in made_from:
            continue
        held = newest_vault.get(cluster_id)
        created = newest.create_timestamp
        if held is not None and (created is None or created <= held):
            continue
        reason = (
            f"shared backup {newest.backup_id} of {cluster_id} is newer than the newest vault "
            "backup"
            if held
            else f"the vault holds no backup of {cluster_id} yet"
        )
        refreshes.append(
            Refresh(
                source_cluster=cluster_id,
                shared_arn=newest.backup_arn,
                shared_id=newest.backup_id,
                hsm_type=newest.hsm_type or "hsm2m.medium",
                mode=newest.mode or "FIPS",
                reason=reason,
                shared_created=created_tag(created),
            )
        )
    return refreshes


def next_hsm_action(
    *, hsm_id: str | None, status: str | None, was_active: bool, attempts: int, max_attempts: int
) -> str:
    """One HSM is added, waited for, then removed. A DEGRADED HSM is discarded and
    another created, up to `max_attempts` HSMs in all."""
    if hsm_id is not None and status != GONE:
        if status == HSM_DEGRADED:
            return DISCARD
        if status == HSM_ACTIVE:
            return REMOVE
        return WAIT
    if was_active:
        return DONE
    if attempts >= max_attempts:
        raise TooManyDegradedHsms(
            f"{attempts} HSMs were created and none became ACTIVE: the refresh gives up"
        )
    return CREATE


@dataclass(frozen=True)
class PruneDecision:
    backup: Backup
    delete: bool
    reason: str

    def to_dict(self) -> dict[str, str | bool]:
        return {"backup_id": self.backup.backup_id, "delete": self.delete, "reason": self.reason}


def plan_prune(
    backups: Iterable[Backup], *, deployment: str, keep_newest: int, keep_days: int, now: datetime
) -> list[PruneDecision]:
    """Per source cluster: keep the newest `keep_newest` READY vault backups and every one
    younger than `keep_days`; never the newest, a NeverExpires one, or one whose tags do
    not say it is this deployment's vault backup."""
    groups: dict[str, list[Backup]] = defaultdict(list)
    for backup in vault_backups(backups, deployment):
        groups[backup.tags.get(SOURCE_CLUSTER_KEY, "")].append(backup)
    decisions = []
    for source, group in sorted(groups.items()):
        ready = newest_first(b for b in group if b.state == BACKUP_READY)
        for rank, backup in enumerate(ready):
            reason = _keep_reason(backup, rank, keep_newest, keep_days, now)
            if reason:
                decisions.append(PruneDecision(backup, False, reason))
            else:
                decisions.append(
                    PruneDecision(
                        backup,
                        True,
                        f"older than {keep_days} days and not among the newest {keep_newest} "
                        f"vault backups of {source or 'an unknown cluster'}",
                    )
                )
    return decisions


def _keep_reason(backup: Backup, rank: int, keep_newest: int, keep_days: int, now: datetime) -> str:
    if rank == 0:
        return "the newest vault backup of its cluster"
    if rank < keep_newest:
        return f"one of the newest {keep_newest}"
    if backup.never_expires:
        return "NeverExpires"
    if backup.create_timestamp is None:
        return "no CreateTimestamp: its age is unknown"
    if now - backup.create_timestamp < timedelta(days=keep_days):
        return f"younger than {keep_days} days"
    return ""


def missing_copies(
    owned: Iterable[Backup], copies_by_region: Mapping[str, Iterable[Backup]], *, deployment: str
) -> list[tuple[Backup, str]]:
    """(newest READY vault backup of a cluster, DR region) where no copy of it is there."""
    newest: dict[str, Backup] = {}
    for backup in newest_first(
        b for b in vault_backups(owned, deployment) if b.state == BACKUP_READY
    ):
        newest.setdefault(backup.tags.get(SOURCE_CLUSTER_KEY, ""), backup)
    wanted = []
    for region, copies in sorted(copies_by_region.items()):
        present = {c.source_backup for c in copies if c.state != "DELETED"}
        wanted += [(b, region) for _, b in sorted(newest.items()) if b.backup_id not in present]
    return wanted
