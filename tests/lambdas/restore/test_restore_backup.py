"""Which backup a restore uses, and every refusal naming the backup and the rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest

from lambdas.restore.backup import (
    BackupNotInRegion,
    BackupNotRestorable,
    backup_age_seconds,
    choose_backup,
)
from lambdas.restore.request import RestoreRequest
from lambdas.shared.errors import BackupNotFound, InvalidInput
from lambdas.shared.models import Backup
from tests.lambdas.factories import CLUSTER_ID, NOW, backup, spec

SPECS = {CLUSTER_ID: spec()}


def request(**fields: Any) -> RestoreRequest:
    values: dict[str, Any] = {"region": "us-east-1", "restore_id": "r1", "poll_seconds": 1}
    values.update(fields)
    return RestoreRequest(**values)


def copy_of(original: Backup, backup_id: str, **overrides: Any) -> Backup:
    values: dict[str, Any] = {
        "backup_id": backup_id,
        "cluster_id": "",
        "source_backup": original.backup_id,
        "source_cluster": original.cluster_id,
        "source_region": "us-east-1",
        "create_timestamp": original.create_timestamp,
    }
    values.update(overrides)
    return backup(**values)


def nothing_elsewhere() -> Mapping[str, Sequence[Backup]]:
    return {}


def never_called() -> Mapping[str, Sequence[Backup]]:
    raise AssertionError("other regions must not be listed when this one has the backup")


def test_latest_ready_backup_of_the_source_cluster_is_chosen() -> None:
    old = backup(timedelta(hours=26), backup_id="backup-oldoldoldol")
    new = backup(timedelta(hours=2), backup_id="backup-newnewnewne")
    choice = choose_backup(request(source_cluster_id=CLUSTER_ID), SPECS, [old, new], never_called)
    assert choice.backup == new
    assert (choice.hsm_type, choice.mode, choice.source_cluster_id) == (
        "hsm2m.medium",
        "FIPS",
        CLUSTER_ID,
    )
    assert backup_age_seconds(new, NOW) == 7200


def test_copies_count_in_a_dr_region_they_have_no_cluster_id() -> None:
    original = backup(timedelta(hours=2))
    copy = copy_of(original, "backup-copycopycop")
    other = copy_of(
        backup(timedelta(hours=1), cluster_id="cluster-otherother2"), "backup-othercopyxx"
    )
    chosen = choose_backup(
        request(source_cluster_id=CLUSTER_ID, region="us-west-2"),
        SPECS,
        [copy, other],
        never_called,
    )
    assert chosen.backup == copy and chosen.source_cluster_id == CLUSTER_ID


def test_a_newer_backup_still_in_progress_is_not_used_and_said_so() -> None:
    ready = backup(timedelta(hours=2), backup_id="backup-readyreadyr")
    pending = backup(
        timedelta(minutes=5), state="CREATE_IN_PROGRESS", backup_id="backup-pendingpend"
    )
    choice = choose_backup(
        request(source_cluster_id=CLUSTER_ID), SPECS, [ready, pending], never_called
    )
    assert choice.backup == ready
    assert "backup-pendingpend is still CREATE_IN_PROGRESS: not used" in choice.notes[0]


@pytest.mark.parametrize(
    ("state", "rule", "command"),
    [
        ("PENDING_DELETION", "only from READY backups", "aws cloudhsmv2 restore-backup"),
        ("DELETED", "can no longer be restored", "aws cloudhsmv2 describe-backups"),
        ("CREATE_IN_PROGRESS", "only from READY backups", "Wait until it is READY"),
    ],
)
def test_a_given_backup_that_is_not_ready_is_refused(state: str, rule: str, command: str) -> None:
    given = backup(state=state)
    with pytest.raises(BackupNotRestorable) as refused:
        choose_backup(request(backup_id=given.backup_id), SPECS, [given], never_called)
    message = str(refused.value)
    assert given.backup_id in message and state in message
    assert rule in message and command in message


def test_a_source_with_only_deleted_backups_here_says_how_to_bring_one_back() -> None:
    deleting = backup(state="PENDING_DELETION")
    with pytest.raises(BackupNotRestorable, match="restore-backup --region us-east-1"):
        choose_backup(request(source_cluster_id=CLUSTER_ID), SPECS, [deleting], nothing_elsewhere)


def test_a_given_backup_elsewhere_with_no_copy_here_names_its_region_and_the_copy_command() -> None:
    original = backup()
    with pytest.raises(BackupNotInRegion) as refused:
        choose_backup(
            request(backup_id=original.backup_id, region="us-west-2"),
            SPECS,
            [],
            lambda: {"us-east-1": [original]},
        )
    message = str(refused.value)
    assert f"Backup {original.backup_id} is in us-east-1, not in us-west-2" in message
    assert (
        f"aws cloudhsmv2 copy-backup-to-region --region us-east-1 --backup-id "
        f"{original.backup_id} --destination-region us-west-2" in message
    )


def test_a_copy_still_in_progress_says_to_wait_for_it() -> None:
    original = backup()
    pending = copy_of(original, "backup-copypending", state="CREATE_IN_PROGRESS")
    with pytest.raises(BackupNotInRegion, match=r"backup-copypending .* still CREATE_IN_PROGRESS"):
        choose_backup(
            request(backup_id=original.backup_id, region="us-west-2"),
            SPECS,
            [pending],
            lambda: {"us-east-1": [original]},
        )


def test_a_given_backup_id_from_another_region_uses_its_ready_copy_here() -> None:
    original = backup()
    copy = copy_of(original, "backup-copycopycop")
    choice = choose_backup(
        request(backup_id=original.backup_id, region="us-west-2"), SPECS, [copy], never_called
    )
    assert choice.backup == copy
    assert "restoring its copy backup-copycopycop in us-west-2" in choice.notes[0]


def test_latest_backup_only_in_another_region_is_refused_with_the_copy_command() -> None:
    remote = backup()
    with pytest.raises(
        BackupNotInRegion, match="no READY backup of cluster-abcdefghijk in us-west-2"
    ):
        choose_backup(
            request(source_cluster_id=CLUSTER_ID, region="us-west-2"),
            SPECS,
            [],
            lambda: {"us-east-1": [remote]},
        )


def test_no_backup_anywhere_lists_the_regions_searched() -> None:
    with pytest.raises(
        BackupNotFound, match="backup-abcdefghijk not found in us-east-1, us-west-2"
    ):
        choose_backup(request(backup_id="backup-abcdefghijk"), SPECS, [], lambda: {"us-west-2": []})


def test_mode_mismatch_with_the_config_is_refused_naming_backup_and_rule() -> None:
    non_fips = backup(mode="NON_FIPS")
    with pytest.raises(BackupNotRestorable) as refused:
        choose_backup(
            request(source_cluster_id=CLUSTER_ID),
            {CLUSTER_ID: spec(mode="FIPS")},
            [non_fips],
            never_called,
        )
    message = str(refused.value)
    assert non_fips.backup_id in message
    assert "a NON_FIPS backup cannot be restored into a FIPS cluster" in message
    assert "the config pins mode FIPS" in message


def test_without_a_pinned_mode_the_cluster_takes_the_backups_mode() -> None:
    non_fips = backup(mode="NON_FIPS")
    choice = choose_backup(request(source_cluster_id=CLUSTER_ID), SPECS, [non_fips], never_called)
    assert choice.mode == "NON_FIPS"


def test_an_hsm1_backup_restores_into_hsm2m_fips_with_a_note() -> None:
    legacy = backup(hsm_type="hsm1.medium")
    choice = choose_backup(
        request(source_cluster_id=CLUSTER_ID),
        {CLUSTER_ID: spec(hsm_type="hsm1.medium")},
        [legacy],
        never_called,
    )
    assert (choice.hsm_type, choice.mode) == ("hsm2m.medium", "FIPS")
    assert any("hsm1.medium clusters can no longer be created" in n for n in choice.notes)
    assert any("update protected_clusters[].hsm_type" in n for n in choice.notes)


def test_an_hsm1_non_fips_backup_cannot_be_restored_at_all() -> None:
    legacy = backup(hsm_type="hsm1.medium", mode="NON_FIPS")
    with pytest.raises(BackupNotRestorable, match=r"hsm2m\.medium only in FIPS mode"):
        choose_backup(request(source_cluster_id=CLUSTER_ID), SPECS, [legacy], never_called)


def test_a_backup_of_another_cluster_than_the_source_given_is_refused() -> None:
    other = backup(cluster_id="cluster-otherother2")
    with pytest.raises(InvalidInput, match="holds the keys of cluster-otherother2"):
        choose_backup(
            request(backup_id=other.backup_id, source_cluster_id=CLUSTER_ID),
            SPECS,
            [other],
            never_called,
        )
