"""The vault end to end in the sandbox, with IAM enforced: the synthesized main stack's
share job shares the newest backup, and the synthesized vault stack, in the recovery
account, turns it into a backup the recovery account owns; its verification then finds
nothing wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdas.shared.vault_tags import VAULT_KEY
from sandbox.session import SANDBOX_CONFIG, Sandbox
from stacks.names import vault_stack_name

pytestmark = pytest.mark.slow

RECOVERY = "210987654321"
DEPLOYMENT = "hsmdr-sandbox"
VAULT_CONFIG = f"""
recovery_account:
  account: "{RECOVERY}"
  subnets:
    us-east-1: [subnet-0aaaaaaaaaaaaaaaa, subnet-0bbbbbbbbbbbbbbbb]
"""


def test_shared_backup_becomes_a_vault_backup_the_recovery_account_owns(tmp_path: Path) -> None:
    path = tmp_path / "vault.yaml"
    path.write_text(SANDBOX_CONFIG.read_text(encoding="utf-8") + VAULT_CONFIG, encoding="utf-8")
    with Sandbox(path, profile="test") as sandbox:
        [cluster_id] = sandbox.seed_protected_clusters(dr_copies=False)
        # Given production's share job ran (policy, tag, RAM share promoted)
        fired = sandbox.deployment.fire_schedule("BackupSharingJobSchedule")
        assert fired.invocation is not None
        assert fired.invocation.function_error is None, fired.invocation.payload
        [shared_id] = fired.invocation.payload["shared"]
        assert fired.invocation.payload["promoted"] == [shared_id]
        vault = sandbox.deployments[vault_stack_name(DEPLOYMENT)]
        # Before any refresh the vault is empty: one page, not one every hour
        first = vault.fire_schedule("VaultVerificationJobSchedule").invocation
        assert first is not None and first.function_error is None, first
        assert [f["code"] for f in first.payload["findings"]] == ["VAULT_EMPTY"]
        assert first.payload["alert_message_id"]
        again = vault.fire_schedule("VaultVerificationJobSchedule").invocation
        assert again is not None and again.payload["alert_held_back"] is True
        # When the vault refresh runs in the recovery account
        result = vault.run_state_machine("VaultRefreshWorkflow", {}, timeout=300)
        # Then it succeeded, and the recovery account owns a vault backup of that cluster
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        owned = sandbox.worlds[RECOVERY].backups("us-east-1")
        tagged = [b for b in owned if {"Key": VAULT_KEY, "Value": DEPLOYMENT} in b["TagList"]]
        assert len(tagged) == 1
        assert {"Key": "hsmdr:source-cluster", "Value": cluster_id} in tagged[0]["TagList"]
        assert tagged[0]["BackupArn"].split(":")[4] == RECOVERY
        # and no vault cluster holds an HSM
        assert all(not c["Hsms"] for c in sandbox.worlds[RECOVERY].clusters("us-east-1"))
        # And the vault verification finds nothing to page about
        verified = vault.fire_schedule("VaultVerificationJobSchedule")
        assert verified.invocation is not None
        assert verified.invocation.function_error is None, verified.invocation.payload
        assert verified.invocation.payload["findings"] == []
        assert sandbox.permissions.denials == []
