"""The vault stack's drill, in the recovery account: source `vault` only, the newest
READY vault backup of the protected cluster (by its hsmdr:source-cluster tag, through
lambdas/shared/vault_backups.py), and never a vault cluster as its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lambdas.drill.plan import (
    DRILL_KEY,
    VAULT,
    DrillRequest,
    chained_execution_name,
    choose_backup,
    next_scheduled_cluster,
    ownership_problem,
    parse_request,
)
from lambdas.drill.settings import DrillSettings
from lambdas.shared.errors import BackupNotFound, InvalidInput
from lambdas.shared.models import Backup
from lambdas.shared.vault_backups import as_vault_backups
from tests.lambdas.factories import CLUSTER_ID, backup, spec

DEPLOYMENT = "prod"
VAULT_REGION = "us-east-2"
EXECUTION = "arn:aws:states:us-east-2:210987654321:execution:prod-dr-drill:run-1"
SETTINGS = DrillSettings(
    deployment_name=DEPLOYMENT,
    primary_region=VAULT_REGION,
    default_cluster=CLUSTER_ID,
    default_source=VAULT,
    subnets={VAULT_REGION: ("subnet-0a0a0a0a0a0a0a0a0",)},
    vault_deployment=DEPLOYMENT,
    key_verification_field="recovery_account.key_verification",
)


def vault_tags(source: str = CLUSTER_ID) -> dict[str, str]:
    return {
        "managed-by": "cloudhsm-dr",
        "hsmdr:deployment": DEPLOYMENT,
        "hsmdr:vault": DEPLOYMENT,
        "hsmdr:source-cluster": source,
        "hsmdr:source-backup": "arn:aws:cloudhsm:us-east-1:111111111111:backup/backup-x",
    }


def vault_backup(backup_id: str, hours: float, **overrides: Any) -> Backup:
    values: dict[str, Any] = {
        "backup_id": backup_id,
        "cluster_id": "cluster-vaultvault01",
        "tags": vault_tags(),
    }
    values.update(overrides)
    return backup(timedelta(hours=hours), **values)


def chosen(backups: list[Backup], **request: Any) -> Any:
    drill = DrillRequest(
        cluster_id=CLUSTER_ID, source=VAULT, poll_seconds=30, trigger="schedule", **request
    )
    found = {VAULT_REGION: as_vault_backups(backups, DEPLOYMENT)}
    return choose_backup(drill, spec(), found, ())


def test_the_vault_drill_drills_the_vault_only() -> None:
    # Given the vault's settings, the source defaults to vault
    parsed = parse_request({}, SETTINGS, {CLUSTER_ID})
    assert parsed.source == VAULT
    # and production's sources are refused, naming the field
    for source in ("primary", "dr-copy"):
        with pytest.raises(InvalidInput, match=r"source.*vault backups only"):
            parse_request({"source": source}, SETTINGS, {CLUSTER_ID})
    # while the main stack's drill never takes vault
    main = DrillSettings(deployment_name=DEPLOYMENT, primary_region="us-east-1")
    with pytest.raises(InvalidInput, match="source"):
        parse_request({"source": VAULT, "cluster": CLUSTER_ID}, main, {CLUSTER_ID})


def test_the_newest_ready_vault_backup_of_the_cluster_is_drilled_in_the_vault_region() -> None:
    backups = [
        vault_backup("backup-older000001", 30),
        vault_backup("backup-newest00001", 2),
        vault_backup("backup-creating001", 1, state="CREATE_IN_PROGRESS"),
        vault_backup("backup-othersrc001", 1, tags=vault_tags(source="cluster-otherother1")),
        # newer still: the backup a past drill's teardown made (hsmdr:drill), and a
        # backup of the recovery account the vault did not make
        vault_backup("backup-drilled0001", 0.5, tags={**vault_tags(), DRILL_KEY: EXECUTION}),
        vault_backup("backup-stranger001", 0.5, tags={}, cluster_id=CLUSTER_ID),
    ]

    choice = chosen(backups)

    assert choice.backup.backup_id == "backup-newest00001"
    assert choice.region == VAULT_REGION
    assert choice.source == VAULT
    assert choice.backup.origin_cluster == CLUSTER_ID  # the production cluster, by its tag


def test_an_empty_vault_says_to_check_the_refresh() -> None:
    with pytest.raises(BackupNotFound, match="vault refresh"):
        chosen([vault_backup("backup-stranger001", 1, tags={}, cluster_id=CLUSTER_ID)])


def test_a_given_vault_backup_of_another_cluster_is_refused() -> None:
    other = vault_backup("backup-othersrc001", 1, tags=vault_tags(source="cluster-otherother1"))
    with pytest.raises(InvalidInput, match="backup_id"):
        chosen([other], backup_id="backup-othersrc001")
    assert chosen([other, vault_backup("backup-older000001", 30)], backup_id=None).backup
    given = chosen([vault_backup("backup-older000001", 30)], backup_id="backup-older000001")
    assert given.source == VAULT


def test_a_vault_cluster_is_never_the_drills_even_tagged_with_its_execution() -> None:
    tags = {**vault_tags(), DRILL_KEY: EXECUTION}
    problem = ownership_problem("cluster-vaultvault01", tags, EXECUTION, {CLUSTER_ID})
    assert problem is not None and "vault cluster" in problem
    drill = {k: v for k, v in tags.items() if k != "hsmdr:vault"}
    assert ownership_problem("cluster-drilldrill01", drill, EXECUTION, {CLUSTER_ID}) is None


def test_the_vault_settings_survive_the_environment() -> None:
    back = DrillSettings.from_env(SETTINGS.to_env())
    assert back.vault_deployment == DEPLOYMENT
    assert back.default_source == VAULT
    assert back.key_verification_field == "recovery_account.key_verification"
    plain = DrillSettings(deployment_name=DEPLOYMENT, primary_region="us-east-1")
    assert DrillSettings.from_env(plain.to_env()).vault_deployment == ""


def test_a_scheduled_vault_drill_hands_over_to_the_next_protected_cluster() -> None:
    order = ["cluster-aaaaaaaaaaa", "cluster-bbbbbbbbbbb", "cluster-ccccccccccc"]

    def after(cluster: str, trigger: str = "schedule", vault: bool = True) -> str | None:
        return next_scheduled_cluster(trigger=trigger, cluster_id=cluster, order=order, vault=vault)

    assert after("cluster-aaaaaaaaaaa") == "cluster-bbbbbbbbbbb"
    assert after("cluster-bbbbbbbbbbb") == "cluster-ccccccccccc"
    assert after("cluster-ccccccccccc") is None  # the last: the round is over
    assert after("cluster-aaaaaaaaaaa", trigger="cli") is None  # by hand: that cluster only
    assert after("cluster-aaaaaaaaaaa", vault=False) is None  # the main stack: drills.cluster
    assert after("cluster-zzzzzzzzzzz") is None


def test_the_next_drills_name_is_the_same_for_a_retried_step_and_fits_step_functions() -> None:
    name = chained_execution_name(EXECUTION, "cluster-bbbbbbbbbbb")
    assert name == chained_execution_name(EXECUTION, "cluster-bbbbbbbbbbb")
    assert name != chained_execution_name(EXECUTION + "x", "cluster-bbbbbbbbbbb")
    assert len(name) <= 80 and name.startswith("cluster-bbbbbbbbbbb-")
    assert all(c.isalnum() or c in "-_" for c in name)
