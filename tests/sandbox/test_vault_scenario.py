"""`hsmdr sandbox vault` as a scenario: production shares, the vault refreshes, an
attacker with production's rights deletes every cluster, backup and copy there and
cannot delete the vault's backups, and the recovery account restores from the vault
with production's keys. Every assertion is on what the run recorded or what exists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.session import Sandbox
from sandbox.vault_scenarios import RECOVERY_ACCOUNT, recover, vault_config
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run() -> Iterator[tuple[dict[str, Any], Sandbox]]:
    require_softhsm()
    with Sandbox(vault_config(), profile="test", key_store=True) as sandbox:
        yield recover(sandbox, keys=True), sandbox


def test_the_recovery_account_restores_from_its_vault_with_production_keys(
    run: tuple[dict[str, Any], Sandbox],
) -> None:
    report, sandbox = run
    assert report["status"] == "SUCCEEDED", report
    assert report["refresh"]["status"] == "SUCCEEDED"
    assert report["restore"]["status"] == "SUCCEEDED", report["restore"]
    # Asked by the cluster's name, the restore started from a vault backup of that
    # cluster, and the cluster is the recovery account's
    assert report["restore"]["source_cluster_id"] == "cluster-sandboxprimary"
    assert report["restore"]["backup_id"] in report["vault_backups"]
    assert report["restore"]["backup_id"] == report["refresh"]["vault_backup_id"]
    recovery = sandbox.worlds[RECOVERY_ACCOUNT]
    [cluster] = [
        c for c in recovery.clusters("us-east-1") if c["ClusterId"] == report["cluster_id"]
    ]
    assert cluster["State"] == "ACTIVE"
    assert [h["State"] for h in cluster["Hsms"]] == ["ACTIVE", "ACTIVE"]
    # Production's keys are on the restored token (checked by the sandbox against
    # production's own keys)
    keys = report["keys_verified"]
    assert keys["status"] == "SUCCEEDED", keys
    assert keys["keys_found"] == keys["keys_expected"] == keys["manifest_keys"] > 0
    assert keys["canary"]["ok"] is True
    # And the restore checked them itself, against the manifest the vault captured from
    # its own vault cluster during the refresh, filed under production's cluster
    captured = report["refresh"]["keys"]
    assert captured["status"] == "CAPTURED" and captured["comparison"] == "FIRST"
    assert captured["manifest_key"].startswith("manifests/cluster-sandboxprimary/")
    assert report["restore"]["key_verification"].startswith("key verification: every key")
    checked = report["restore"]["key_verification_report"]
    assert checked["status"] == "SUCCEEDED", checked
    assert checked["manifest_key"] == captured["manifest_key"]
    assert checked["keys_found"] == checked["keys_expected"] == keys["manifest_keys"]
    assert checked["canary"]["ok"] is True
    # The restored data is as old as the production backup the vault pulled
    assert report["rpo_seconds"] >= report["source_backup_age_seconds"] > 0
    assert report["rto_seconds"] > 0
    # Nothing left that should not be: no vault cluster holds an HSM
    assert report["leaked_resources"] == {"clusters": [], "hsms": []}
    assert report["denied_calls"] == []


def test_production_lost_everything_and_could_not_touch_the_vault(
    run: tuple[dict[str, Any], Sandbox],
) -> None:
    report, sandbox = run
    compromise = report["compromise"]
    regions = [sandbox.config.region, *sandbox.config.dr_regions]
    # Every cluster and every backup and copy of production is gone
    assert compromise["deleted"]["clusters"] and compromise["deleted"]["backups"]
    assert compromise["production_backups_left"] == []
    for region in regions:
        assert all(c["State"] == "DELETED" for c in sandbox.world.clusters(region))
        assert all(
            b["BackupState"] in ("PENDING_DELETION", "DELETED")
            for b in sandbox.world.backups(region)
        )
    # Production's own DeleteBackup of each vault backup was refused, and they survived
    refused = {r["backup_id"]: r["error"] for r in compromise["vault_deletions_refused"]}
    assert refused and set(refused.values()) == {"CloudHsmResourceNotFoundException"}
    assert compromise["vault_backups_deleted"] == []
    assert set(refused) <= set(report["vault_backups"])
    owned = {b["BackupId"]: b for b in sandbox.worlds[RECOVERY_ACCOUNT].backups("us-east-1")}
    assert all(owned[b]["BackupState"] == "READY" for b in report["vault_backups"])


def test_the_refresh_hsm_time_is_measured_from_its_own_record(
    run: tuple[dict[str, Any], Sandbox],
) -> None:
    report, _ = run
    # The refresh recorded its HSM's life, and the profile durations it drew
    steps = report["hsm_floor_steps"]
    assert all(steps[s] > 0 for s in ("hsm_create", "backup_create", "hsm_delete")), steps
    assert report["hsm_floor_seconds"] == pytest.approx(sum(steps.values()))
    # The HSM cannot be gone before it was created and then deleted (test profile: the
    # emulated durations are wall durations)
    assert report["hsm_seconds"] >= steps["hsm_create"] + steps["hsm_delete"]
    # Right after the refresh the vault backup is new, but holds the source's data
    assert report["vault_age_seconds"] < report["source_backup_age_seconds"]
