"""Pure decisions about backups: no boto3 here, only models and time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from lambdas.shared.models import (
    BACKUP_CREATE_IN_PROGRESS,
    BACKUP_DELETED,
    BACKUP_PENDING_DELETION,
    BACKUP_READY,
    Backup,
)


class BackupClass(Enum):
    """What a backup is good for, as an engineer planning a restore sees it."""

    RESTORABLE = "restorable"  # READY: CreateCluster can use it now
    IN_PROGRESS = "in-progress"  # CREATE_IN_PROGRESS within the allowed time
    STUCK = "stuck"  # CREATE_IN_PROGRESS for longer than allowed
    PENDING_DELETION = "pending-deletion"  # RestoreBackup can bring it back for 7 days
    GONE = "gone"  # DELETED, or a state this code does not know


def classify(backup: Backup, now: datetime, in_progress_max: timedelta) -> BackupClass:
    if backup.state == BACKUP_READY:
        return BackupClass.RESTORABLE
    if backup.state == BACKUP_CREATE_IN_PROGRESS:
        started = backup.create_timestamp
        if started is not None and now - started > in_progress_max:
            return BackupClass.STUCK
        return BackupClass.IN_PROGRESS
    if backup.state == BACKUP_PENDING_DELETION:
        return BackupClass.PENDING_DELETION
    if backup.state == BACKUP_DELETED:
        return BackupClass.GONE
    return BackupClass.GONE


def age(backup: Backup, now: datetime) -> timedelta | None:
    """How old the data in a backup is (a copy is as old as its source)."""
    if backup.create_timestamp is None:
        return None
    return max(now - backup.create_timestamp, timedelta(0))


def latest_valid(backups: Iterable[Backup], cluster_id: str) -> Backup | None:
    """The newest READY backup holding `cluster_id`'s keys (copies included)."""
    candidates = [
        b
        for b in backups
        if b.state == BACKUP_READY
        and b.origin_cluster == cluster_id
        and b.create_timestamp is not None
    ]
    return max(candidates, key=lambda b: b.create_timestamp or datetime.min, default=None)


@dataclass(frozen=True)
class RpoCheck:
    age: timedelta
    rpo: timedelta

    @property
    def within(self) -> bool:
        return self.age <= self.rpo

    @property
    def headroom(self) -> timedelta:
        return self.rpo - self.age


def check_rpo(backup: Backup, now: datetime, rpo: timedelta) -> RpoCheck | None:
    backup_age = age(backup, now)
    return None if backup_age is None else RpoCheck(age=backup_age, rpo=rpo)


def restore_incompatibility(
    backup_hsm_type: str, backup_mode: str, cluster_hsm_type: str, cluster_mode: str
) -> str | None:
    """Why a backup cannot restore into a cluster of the given type and mode, or None.

    The rules are CloudHSM's: FIPS backups restore only to FIPS clusters and
    NON_FIPS only to NON_FIPS; hsm2m.medium backups only to hsm2m.medium;
    hsm1.medium backups to hsm1.medium or to a FIPS hsm2m.medium cluster.
    """
    if backup_mode and cluster_mode and backup_mode != cluster_mode:
        return f"a {backup_mode} backup cannot be restored into a {cluster_mode} cluster"
    if not backup_hsm_type or not cluster_hsm_type or backup_hsm_type == cluster_hsm_type:
        return None
    if backup_hsm_type == "hsm1.medium" and cluster_hsm_type == "hsm2m.medium":
        if (cluster_mode or "FIPS") == "FIPS":
            return None
        return "an hsm1.medium backup restores to hsm2m.medium only in FIPS mode"
    return f"a {backup_hsm_type} backup cannot be restored into a {cluster_hsm_type} cluster"
