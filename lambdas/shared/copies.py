"""Cross-region backup copies as pure decisions: which copy is missing, how each copy
is doing, and which copies the pruning rule deletes. No boto3 here.

CloudHSM copies have no retention policy (a copy is tied to no cluster), so this
project prunes them itself. Every copy it makes carries tags that say so; a backup
without them is never deleted by this code, whatever its age.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from lambdas.shared.models import (
    BACKUP_CREATE_IN_PROGRESS,
    BACKUP_DELETED,
    BACKUP_PENDING_DELETION,
    BACKUP_READY,
    Backup,
)

# The tags set on every copy at CopyBackupToRegion time (the TagList).
MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "cloudhsm-dr"
SOURCE_CLUSTER_KEY = "hsmdr:source-cluster"
SOURCE_BACKUP_KEY = "hsmdr:source-backup"
DEPLOYMENT_KEY = "hsmdr:deployment"
GOLDEN_KEY = "hsmdr:golden"  # set by golden marking, value = the period key
TAG_KEYS = (MANAGED_BY_KEY, SOURCE_CLUSTER_KEY, SOURCE_BACKUP_KEY, DEPLOYMENT_KEY, GOLDEN_KEY)


def copy_tags(deployment_name: str, source: Backup) -> dict[str, str]:
    """The TagList of a copy of `source`: what later proves the copy is ours to prune."""
    return {
        MANAGED_BY_KEY: MANAGED_BY_VALUE,
        SOURCE_CLUSTER_KEY: source.origin_cluster,
        SOURCE_BACKUP_KEY: source.backup_id,
        DEPLOYMENT_KEY: deployment_name,
    }


# Classification ----------------------------------------------------------------------


class CopyState(StrEnum):
    READY = "ready"
    IN_PROGRESS = "in-progress"
    STUCK = "stuck"  # CREATE_IN_PROGRESS for longer than allowed
    FAILED = "failed"  # DELETED: the copy did not complete
    PENDING_DELETION = "pending-deletion"  # pruned (or deleted by hand), restorable 7 days


def copy_started(copy: Backup) -> datetime | None:
    # A copy keeps its source's CreateTimestamp; CopyTimestamp is when the copy began.
    return copy.copy_timestamp or copy.create_timestamp


def classify_copy(copy: Backup, now: datetime, stuck_after: timedelta) -> CopyState:
    if copy.state == BACKUP_READY:
        return CopyState.READY
    if copy.state == BACKUP_CREATE_IN_PROGRESS:
        started = copy_started(copy)
        if started is not None and now - started > stuck_after:
            return CopyState.STUCK
        return CopyState.IN_PROGRESS
    if copy.state == BACKUP_PENDING_DELETION:
        return CopyState.PENDING_DELETION
    return CopyState.FAILED


def copies_by_source_cluster(backups: Iterable[Backup]) -> dict[str, list[Backup]]:
    """A region's copies grouped by the cluster they came from; non-copies left out."""
    grouped: dict[str, list[Backup]] = defaultdict(list)
    for backup in backups:
        if backup.is_copy:
            grouped[backup.origin_cluster].append(backup)
    return dict(grouped)


def newest_first(backups: Iterable[Backup]) -> list[Backup]:
    """By CreateTimestamp, newest first; a backup without one sorts last."""
    items = list(backups)
    dated = [(b.create_timestamp, b.backup_id, b) for b in items if b.create_timestamp]
    dated.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    undated = sorted((b for b in items if b.create_timestamp is None), key=lambda b: b.backup_id)
    return [entry[2] for entry in dated] + undated


@dataclass(frozen=True)
class RegionCopyStatus:
    """How the copies of one cluster stand in one DR region."""

    cluster_id: str
    region: str
    newest_ready: Backup | None
    in_progress: tuple[Backup, ...] = ()
    stuck: tuple[Backup, ...] = ()
    failed: tuple[Backup, ...] = ()  # DELETED copies that no READY copy supersedes

    def newest_age(self, now: datetime) -> timedelta | None:
        """Age of the data in the newest READY copy (a copy is as old as its source)."""
        ready = self.newest_ready
        if ready is None or ready.create_timestamp is None:
            return None
        return max(now - ready.create_timestamp, timedelta(0))


def region_copy_status(
    cluster_id: str,
    region: str,
    copies: Iterable[Backup],
    now: datetime,
    stuck_after: timedelta,
) -> RegionCopyStatus:
    """Sort one cluster's copies in one region into READY, in progress, stuck, failed.

    A DELETED copy counts as failed only while no READY copy at least as new exists:
    once a later copy succeeded, the old failure no longer threatens recovery and is
    not reported again (DELETED copies stay listed for a while).
    """
    mine = [c for c in copies if c.origin_cluster == cluster_id]
    states = {c.backup_id: classify_copy(c, now, stuck_after) for c in mine}
    ready = newest_first(c for c in mine if states[c.backup_id] is CopyState.READY)
    newest_ready = ready[0] if ready else None

    def superseded(copy: Backup) -> bool:
        if newest_ready is None:
            return False
        if newest_ready.create_timestamp is None or copy.create_timestamp is None:
            return True
        return newest_ready.create_timestamp >= copy.create_timestamp

    return RegionCopyStatus(
        cluster_id=cluster_id,
        region=region,
        newest_ready=newest_ready,
        in_progress=tuple(c for c in mine if states[c.backup_id] is CopyState.IN_PROGRESS),
        stuck=tuple(c for c in mine if states[c.backup_id] is CopyState.STUCK),
        failed=tuple(
            c for c in mine if states[c.backup_id] is CopyState.FAILED and not superseded(c)
        ),
    )


def copy_freshness_limit(
    rpo: timedelta, copy_interval: timedelta, stuck_after: timedelta
) -> timedelta:
    """The oldest a region's newest READY copy may be before it counts as missing.

    The copy job copies the newest READY backup once per interval; that backup may
    already be up to the RPO old, the next copy comes one interval later, and a copy
    may take up to `stuck_after` to become READY. Any older, a copy run was missed.
    """
    return rpo + copy_interval + stuck_after


def copy_is_missing(status: RegionCopyStatus, now: datetime, limit: timedelta) -> bool:
    age = status.newest_age(now)
    return age is None or age > limit


# Missing copies ------------------------------------------------------------------------


class CopyAction(StrEnum):
    COPY = "copy"  # no live copy of the newest backup in the region: start one
    EXISTS = "exists"  # a READY copy of it is there
    IN_PROGRESS = "in-progress"  # a copy of it is being made (or is stuck)
    NO_SOURCE = "no-source"  # the cluster has no READY backup to copy


@dataclass(frozen=True)
class CopyDecision:
    region: str
    action: CopyAction
    source: Backup | None
    existing: Backup | None
    reason: str


def decide_copy(
    region: str, latest: Backup | None, copies_of_latest: Sequence[Backup]
) -> CopyDecision:
    """Copy `latest` to `region` unless a copy of it is READY or being made there.

    `copies_of_latest` is what DescribeBackups(sourceBackupIds=[latest]) returned in
    the region. A DELETED copy does not count: the copy failed and is made again.
    """
    if latest is None:
        return CopyDecision(
            region, CopyAction.NO_SOURCE, None, None, "the cluster has no READY backup to copy"
        )
    live = [c for c in copies_of_latest if c.source_backup == latest.backup_id]
    ready = [c for c in live if c.state == BACKUP_READY]
    if ready:
        return CopyDecision(
            region,
            CopyAction.EXISTS,
            latest,
            ready[0],
            f"{ready[0].backup_id} in {region} is a READY copy of {latest.backup_id}",
        )
    making = [c for c in live if c.state == BACKUP_CREATE_IN_PROGRESS]
    if making:
        return CopyDecision(
            region,
            CopyAction.IN_PROGRESS,
            latest,
            making[0],
            f"{making[0].backup_id} in {region} is a copy of {latest.backup_id} in progress",
        )
    failed = [c for c in copies_of_latest if c.state == BACKUP_DELETED]
    why = f" (earlier copy {failed[0].backup_id} ended DELETED)" if failed else ""
    return CopyDecision(
        region,
        CopyAction.COPY,
        latest,
        None,
        f"no READY or in-progress copy of {latest.backup_id} in {region}{why}",
    )


# Pruning -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneDecision:
    backup: Backup
    delete: bool
    reason: str


def deletion_blocker(
    backup: Backup,
    tags: Mapping[str, str],
    protected_cluster_ids: Collection[str],
    deployment_name: str,
) -> str | None:
    """Why this backup must never be deleted by this project, or None if it may be.

    Checked when deciding and again right before DeleteBackup with freshly read tags:
    only a READY copy that this tool made (its tags say so and agree with the backup),
    of a cluster this deployment protects, without NeverExpires, is ever deleted.
    """
    owner = tags.get(DEPLOYMENT_KEY)
    rules = (
        (
            not backup.is_copy,
            "not a cross-region copy (a cluster's own backups follow its retention policy)",
        ),
        (backup.state != BACKUP_READY, f"not READY ({backup.state or 'unknown state'})"),
        (backup.never_expires, "NeverExpires is set"),
        (
            tags.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE,
            f"not tagged {MANAGED_BY_KEY}={MANAGED_BY_VALUE}: not made by cloudhsm-dr",
        ),
        (
            tags.get(SOURCE_CLUSTER_KEY) != backup.source_cluster,
            f"tag {SOURCE_CLUSTER_KEY} is missing or differs from its SourceCluster",
        ),
        (
            tags.get(SOURCE_BACKUP_KEY) != backup.source_backup,
            f"tag {SOURCE_BACKUP_KEY} is missing or differs from its SourceBackup",
        ),
        (
            owner is not None and owner != deployment_name,
            f"made by another deployment ({owner})",
        ),
        (
            backup.source_cluster not in protected_cluster_ids,
            f"its source cluster {backup.source_cluster} is not in this deployment's config",
        ),
    )
    return next((reason for broken, reason in rules if broken), None)


@dataclass(frozen=True)
class PruneRule:
    """Per source cluster and DR region: keep the newest `keep_newest` READY copies and
    every copy younger than `keep_days`; delete the rest unless `deletion_blocker`
    names a reason not to. The newest READY copy is kept whatever the numbers say."""

    keep_newest: int
    keep_days: int
    protected_cluster_ids: frozenset[str]
    deployment_name: str

    def decide(self, copies: Iterable[Backup], now: datetime) -> list[PruneDecision]:
        """One decision, with its reason, for every copy of one DR region."""
        decisions: list[PruneDecision] = []
        for cluster_id, group in sorted(copies_by_source_cluster(copies).items()):
            ready = newest_first(c for c in group if c.state == BACKUP_READY)
            rank = {c.backup_id: i for i, c in enumerate(ready)}
            for copy in newest_first(group):
                reason = self._keep_reason(copy, rank.get(copy.backup_id), cluster_id, now)
                if reason is not None:
                    decisions.append(PruneDecision(copy, False, reason))
                    continue
                age = now - copy.create_timestamp if copy.create_timestamp else timedelta(0)
                decisions.append(
                    PruneDecision(
                        copy,
                        True,
                        f"{age.days} days old: older than {self.keep_days} days and not among "
                        f"the newest {self.keep_newest} READY copies of {cluster_id}",
                    )
                )
        return decisions

    def _keep_reason(
        self, copy: Backup, rank: int | None, cluster_id: str, now: datetime
    ) -> str | None:
        if rank is None:
            return f"not READY ({copy.state or 'unknown state'})"
        if rank == 0:
            return f"the newest READY copy of {cluster_id} in this region"
        if rank < self.keep_newest:
            return f"one of the newest {self.keep_newest} READY copies"
        if copy.create_timestamp is None:
            return "no CreateTimestamp: its age is unknown"
        age = now - copy.create_timestamp
        if age < timedelta(days=self.keep_days):
            return f"younger than {self.keep_days} days ({age.days} days old)"
        blocker = deletion_blocker(
            copy, copy.tags, self.protected_cluster_ids, self.deployment_name
        )
        return None if blocker is None else f"past the rule but never deleted: {blocker}"


# Retention policy ----------------------------------------------------------------------


class RetentionStatus(StrEnum):
    OK = "ok"
    DRIFT = "drift"
    CORRECTED = "corrected"
    NOT_CONFIGURED = "not-configured"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RetentionCheck:
    status: RetentionStatus
    actual: int | None
    desired: int | None
    reason: str


def check_retention(actual: int | None, desired: int | None, cluster_found: bool) -> RetentionCheck:
    """Compare a cluster's BackupRetentionPolicy (days) with the config's retention_days."""
    if desired is None:
        return RetentionCheck(
            RetentionStatus.NOT_CONFIGURED, actual, None, "retention_days is not set in the config"
        )
    if not cluster_found:
        return RetentionCheck(RetentionStatus.UNKNOWN, None, desired, "the cluster was not found")
    if actual == desired:
        return RetentionCheck(
            RetentionStatus.OK, actual, desired, f"BackupRetentionPolicy is {desired} days"
        )
    shown = "no DAYS policy" if actual is None else f"{actual} days"
    return RetentionCheck(
        RetentionStatus.DRIFT,
        actual,
        desired,
        f"BackupRetentionPolicy is {shown}, the config wants {desired} days",
    )
