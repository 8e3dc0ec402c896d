from __future__ import annotations

from datetime import timedelta

import pytest

from lambdas.shared.backups import (
    BackupClass,
    check_rpo,
    classify,
    latest_valid,
    restore_incompatibility,
)
from tests.lambdas.factories import CLUSTER_ID, NOW, backup

LIMIT = timedelta(minutes=30)


@pytest.mark.parametrize(
    ("state", "age", "expected"),
    [
        ("READY", timedelta(days=3), BackupClass.RESTORABLE),
        ("CREATE_IN_PROGRESS", timedelta(minutes=29), BackupClass.IN_PROGRESS),
        ("CREATE_IN_PROGRESS", timedelta(minutes=31), BackupClass.STUCK),
        ("PENDING_DELETION", timedelta(days=1), BackupClass.PENDING_DELETION),
        ("DELETED", timedelta(days=1), BackupClass.GONE),
    ],
)
def test_classify_by_state_and_time_in_progress(
    state: str, age: timedelta, expected: BackupClass
) -> None:
    assert classify(backup(age=age, state=state), NOW, LIMIT) is expected


def test_latest_valid_takes_newest_ready_of_that_cluster_including_copies() -> None:
    # Given an older READY backup, a newer one in progress, another cluster's newer
    # backup and a copy of this cluster's keys that is newest of all
    old = backup(timedelta(hours=30), backup_id="backup-old00000000")
    busy = backup(timedelta(hours=1), state="CREATE_IN_PROGRESS", backup_id="backup-busy0000000")
    other = backup(timedelta(hours=2), cluster_id="cluster-otherclusterx")
    copy = backup(
        timedelta(hours=5),
        backup_id="backup-copy0000000",
        cluster_id="",
        source_cluster=CLUSTER_ID,
        source_backup="backup-src00000000",
    )
    # When the latest valid backup is picked, Then it is the READY copy
    assert latest_valid([old, busy, other, copy], CLUSTER_ID) == copy
    assert latest_valid([busy, other], CLUSTER_ID) is None


def test_rpo_check_is_inclusive_at_the_limit() -> None:
    rpo = timedelta(hours=24)
    at_limit = check_rpo(backup(timedelta(hours=24)), NOW, rpo)
    over = check_rpo(backup(timedelta(hours=24, seconds=1)), NOW, rpo)
    assert at_limit is not None and at_limit.within
    assert over is not None and not over.within
    assert over.headroom == timedelta(seconds=-1)


@pytest.mark.parametrize(
    ("backup_type", "backup_mode", "cluster_type", "cluster_mode", "allowed"),
    [
        ("hsm2m.medium", "FIPS", "hsm2m.medium", "FIPS", True),
        ("hsm2m.medium", "NON_FIPS", "hsm2m.medium", "NON_FIPS", True),
        ("hsm2m.medium", "FIPS", "hsm2m.medium", "NON_FIPS", False),
        ("hsm2m.medium", "NON_FIPS", "hsm2m.medium", "FIPS", False),
        ("hsm1.medium", "FIPS", "hsm2m.medium", "FIPS", True),
        ("hsm1.medium", "FIPS", "hsm1.medium", "FIPS", True),
        ("hsm2m.medium", "FIPS", "hsm1.medium", "FIPS", False),
    ],
)
def test_restore_rules_follow_cloudhsm_mode_and_type_rules(
    backup_type: str, backup_mode: str, cluster_type: str, cluster_mode: str, allowed: bool
) -> None:
    reason = restore_incompatibility(backup_type, backup_mode, cluster_type, cluster_mode)
    assert (reason is None) is allowed
    if not allowed:
        assert reason and "cannot" in reason
