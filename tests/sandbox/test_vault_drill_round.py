"""The vault's scheduled drill goes round every protected cluster: one schedule firing
drills each one after the other, one drill cluster at a time, and leaves nothing (a
sandbox of its own: two protected clusters, each with a vault backup)."""

from __future__ import annotations

import pytest

from sandbox.session import Sandbox
from sandbox.vault_drill_scenarios import (
    LEDGER,
    leftovers,
    two_cluster_vault_config,
    vault_inventory,
)
from sandbox.vault_scenarios import RECOVERY_ACCOUNT, REFRESH_WORKFLOW, share
from stacks.names import vault_stack_name

pytestmark = pytest.mark.slow

REGION = "us-east-1"


def test_the_scheduled_vault_drill_drills_every_protected_cluster_one_after_the_other() -> None:
    with Sandbox(two_cluster_vault_config(), profile="test") as sandbox:
        # Given two protected clusters, each with a vault backup after a refresh
        deployment = sandbox.config.deployment_name
        vault = sandbox.deployments[vault_stack_name(deployment)]
        recovery = sandbox.worlds[RECOVERY_ACCOUNT]
        sandbox.seed_protected_clusters()
        share(sandbox)
        assert vault.run_state_machine(REFRESH_WORKFLOW, {}, timeout=600).status == "SUCCEEDED"
        before = vault_inventory(recovery, REGION, deployment)
        assert len(before["backups"]) == 2
        clusters = {c["ClusterId"] for c in recovery.clusters(REGION)}
        backups = {b["BackupId"] for b in recovery.backups(REGION)}
        # When the drill's schedule fires once
        first = vault.fire_schedule("DrDrillSchedule", timeout=600).execution
        assert first is not None and first.status == "SUCCEEDED", first
        # Then it drilled the first cluster and started the second's drill, which drilled
        # that one's vault backup and started no other
        handed = first.output["next_drill"]
        assert first.output["source_cluster_id"] == "cluster-sandboxprimary"
        assert handed["cluster"] == LEDGER["id"]
        second = vault.await_execution(handed["execution_arn"], timeout=600)
        assert second.status == "SUCCEEDED", second
        assert second.output["source_cluster_id"] == LEDGER["id"]
        assert second.output["backup"]["backup_id"] in before["backups"]
        assert second.output["next_drill"] is None
        assert any(LEDGER["id"] in note for note in first.output["notes"])
        # and nothing is left, the vault unchanged
        assert leftovers(recovery, REGION, clusters, backups) == {
            "clusters": [],
            "hsms": [],
            "backups": [],
        }
        assert vault_inventory(recovery, REGION, deployment) == before
        assert sandbox.permissions_report()["denied_calls"] == []
