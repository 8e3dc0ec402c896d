"""Tamper evidence in the recovery account: production deletes a key between two vault
refreshes; the second refresh's own manifest, compared with the vault's previous one,
pages VAULT_KEYS_CHANGED, and the older vault backup is still there to restore from.
Nothing of production's manifests is read: the vault compares what it captured itself."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from sandbox.session import Sandbox
from sandbox.softhsm_keystore import MISSING_KEY
from sandbox.vault_scenarios import (
    RECOVERY_ACCOUNT,
    REFRESH_WORKFLOW,
    _refresh_run,
    _vault_backups,
    share,
    vault_config,
)
from stacks.names import vault_stack_name
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow


def production_backup(sandbox: Sandbox, cluster_id: str) -> str:
    """Production adds an HSM to its ACTIVE cluster (CloudHSM backs the cluster up
    first), waits for it, and returns that backup."""
    before = {b["BackupId"] for b in sandbox.world.backups(sandbox.config.region)}
    cluster = sandbox.world.cluster(cluster_id)
    zone = sorted(cluster["SubnetMapping"])[0]
    boto3.client("cloudhsmv2", region_name=sandbox.config.region).create_hsm(
        ClusterId=cluster_id, AvailabilityZone=zone
    )
    sandbox.world.settle()
    [made] = [
        b["BackupId"]
        for b in sandbox.world.backups(sandbox.config.region)
        if b["BackupId"] not in before and b["BackupState"] == "READY"
    ]
    return str(made)


def keys_pages(messages: list[Any]) -> list[Any]:
    return [m for m in messages if (m.subject or "").startswith("Vault refresh: VAULT_KEYS")]


def test_a_key_deleted_in_production_between_two_refreshes_pages_in_the_vault() -> None:
    require_softhsm()
    with Sandbox(vault_config(), profile="test", key_store=True) as sandbox:
        config = sandbox.config
        spec = config.protected_clusters[0]
        vault = sandbox.deployments[vault_stack_name(config.deployment_name)]
        sandbox.seed_protected_clusters()
        # Given a first refresh: the vault's first manifest of the cluster, no page
        share(sandbox)
        first = vault.run_state_machine(REFRESH_WORKFLOW, {}, timeout=600)
        assert first.status == "SUCCEEDED", (first.error, first.cause)
        assert _refresh_run(first.output, spec.id)["keys"]["status"] == "CAPTURED"
        assert keys_pages(vault.messages()) == []
        # When production deletes a key, backs up and shares that backup
        sandbox.key_store.key_deleted(spec.id, MISSING_KEY)
        made = production_backup(sandbox, spec.id)
        assert share(sandbox) == made
        second = vault.run_state_machine(REFRESH_WORKFLOW, {}, timeout=600)
        # Then the refresh still makes its vault backup, and names the key gone
        assert second.status == "SUCCEEDED", (second.error, second.cause)
        run = _refresh_run(second.output, spec.id)
        keys = run["keys"]
        assert keys["status"] == "CHANGED" and keys["code"] == "VAULT_KEYS_CHANGED", keys
        assert [m.split("'")[1] for m in keys["missing"]] == [MISSING_KEY]
        assert keys["changed"] == []
        # And pages once, on the vault stack's own topic, with what to do
        [page] = keys_pages(vault.messages())
        assert page.topic_logical_id.startswith("Alerting")
        assert MISSING_KEY in page.message and run["backup"]["backup_id"] in page.message
        assert "restore from the vault backup made before this one" in page.message
        # The vault backup from before the change is still there to restore from
        held = {
            b["BackupId"]
            for b in _vault_backups(
                sandbox.worlds[RECOVERY_ACCOUNT], config.region, config.deployment_name
            )
        }
        older = _refresh_run(first.output, spec.id)["backup"]["backup_id"]
        assert {older, run["backup"]["backup_id"]} <= held
        # The verifier's rules were revoked after each capture
        assert run["capture_network"]["status"] == "CLOSED"
        assert sandbox.permissions_report()["denied_calls"] == []
