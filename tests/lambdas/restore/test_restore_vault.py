"""A restore in the recovery account picks the newest READY vault backup of the
production cluster named, by the vault's hsmdr:source-cluster tag, never another backup
of the recovery account."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lambdas.restore.backup import choose_backup
from lambdas.restore.request import RestoreRequest, named_cluster, parse_request
from lambdas.restore.settings import RestoreSettings
from lambdas.shared.errors import BackupNotFound, InvalidInput
from lambdas.shared.models import Backup
from lambdas.shared.vault_backups import as_vault_backups
from tests.lambdas.factories import CLUSTER_ID, backup, spec

DEPLOYMENT = "hsmdr-prod"
VAULT_CLUSTER = "cluster-vaultvault01"


def vault_tags(source: str = CLUSTER_ID, deployment: str = DEPLOYMENT) -> dict[str, str]:
    return {
        "managed-by": "cloudhsm-dr",
        "hsmdr:deployment": deployment,
        "hsmdr:vault": deployment,
        "hsmdr:source-cluster": source,
        "hsmdr:source-backup": "arn:aws:cloudhsm:us-east-1:111111111111:backup/backup-shared0001",
    }


def vault_backup(backup_id: str, age_hours: float, **overrides: Any) -> Backup:
    values: dict[str, Any] = {
        "backup_id": backup_id,
        "cluster_id": VAULT_CLUSTER,
        "tags": vault_tags(),
    }
    values.update(overrides)
    return backup(timedelta(hours=age_hours), **values)


def choose(backups: list[Backup]) -> str:
    request = RestoreRequest(
        region="us-east-1", restore_id="r1", poll_seconds=1, source_cluster_id=CLUSTER_ID
    )
    here = as_vault_backups(backups, DEPLOYMENT)
    return choose_backup(request, {CLUSTER_ID: spec()}, here, dict).backup.backup_id


def test_the_newest_ready_vault_backup_of_the_source_cluster_is_chosen() -> None:
    backups = [
        vault_backup("backup-older000001", 30),
        vault_backup("backup-newest00001", 2),
        vault_backup("backup-creating001", 1, state="CREATE_IN_PROGRESS"),
        vault_backup("backup-othersrc001", 1, tags=vault_tags(source="cluster-otherother1")),
    ]

    assert choose(backups) == "backup-newest00001"


def test_a_vault_backup_is_seen_as_a_backup_of_the_production_cluster() -> None:
    [seen] = as_vault_backups([vault_backup("backup-newest00001", 2)], DEPLOYMENT)

    assert seen.origin_cluster == CLUSTER_ID
    assert seen.cluster_id == VAULT_CLUSTER  # what CloudHSM says is kept
    assert not seen.is_copy


@pytest.mark.parametrize(
    "tags",
    [
        {},  # a backup of the recovery account the vault did not make
        vault_tags(deployment="hsmdr-other"),  # another deployment's vault
        {k: v for k, v in vault_tags().items() if k != "hsmdr:vault"},
        {k: v for k, v in vault_tags().items() if k != "hsmdr:source-cluster"},
        # the vault drill's teardown tags its drill cluster's backup hsmdr:drill: even
        # carrying every vault tag, it is the drill's, never the vault's
        {**vault_tags(), "hsmdr:drill": "arn:aws:states:us-east-1:1:execution:d:x"},
    ],
)
def test_a_backup_not_of_this_deployments_vault_is_never_chosen(tags: dict[str, str]) -> None:
    # Even newer than the vault's and made by a cluster holding the same keys.
    stranger = vault_backup("backup-stranger001", 1, tags=tags, cluster_id=CLUSTER_ID)

    assert choose([stranger, vault_backup("backup-vault000001", 5)]) == "backup-vault000001"
    with pytest.raises(BackupNotFound, match=CLUSTER_ID):
        choose([stranger])


def test_settings_carry_the_vault_deployment_through_the_environment() -> None:
    settings = RestoreSettings(primary_region="us-west-2", vault_deployment=DEPLOYMENT)

    assert RestoreSettings.from_env(settings.to_env()).vault_deployment == DEPLOYMENT
    assert RestoreSettings.from_env(RestoreSettings("us-west-2").to_env()).vault_deployment is None


def test_the_source_cluster_may_be_named_as_the_config_names_it() -> None:
    clusters = [spec(), spec(id="cluster-ledgerledge", name="ledger")]
    settings = RestoreSettings(primary_region="us-east-1")

    def parsed(given: str) -> RestoreRequest:
        event = named_cluster({"source_cluster_id": given}, clusters)
        return parse_request(event, settings, "us-east-1", "run-1")

    assert parsed("payments").source_cluster_id == CLUSTER_ID
    assert parsed("ledger").source_cluster_id == "cluster-ledgerledge"
    assert parsed(CLUSTER_ID).source_cluster_id == CLUSTER_ID
    # A name the config does not hold (or holds twice) is refused, naming the field
    with pytest.raises(InvalidInput, match="source_cluster_id"):
        parsed("nobody")
    twice = [spec(), spec(id="cluster-ledgerledge")]
    assert named_cluster({"source_cluster_id": "payments"}, twice) == {
        "source_cluster_id": "payments"
    }
