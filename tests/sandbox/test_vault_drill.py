"""`hsmdr sandbox vault-drill` as a scenario: after a vault refresh, the vault stack's
DR drill restores the newest READY vault backup into a drill cluster in the recovery
account, measures its recovery time and tears everything down; the vault's clusters and
backups are exactly as before (counted from the emulator), and the drill's role is
refused any change to them. Every assertion is on what the run recorded or what exists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.session import Sandbox
from sandbox.vault_drill_scenarios import drill_backups, vault_drill
from sandbox.vault_scenarios import RECOVERY_ACCOUNT, vault_config
from stacks.names import vault_stack_name
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow

REGION = "us-east-1"


@pytest.fixture(scope="module")
def run() -> Iterator[tuple[dict[str, Any], Sandbox]]:
    """A vault without a key verifier of its own (no recovery_account.key_verification)."""
    with Sandbox(vault_config(keys=False), profile="test") as sandbox:
        yield vault_drill(sandbox), sandbox


def test_with_the_vaults_key_verifier_the_drill_checks_every_key_against_the_vaults_manifest() -> (
    None
):
    require_softhsm()
    with Sandbox(vault_config(keys=True), profile="test", key_store=True) as sandbox:
        report = vault_drill(sandbox)
        manifests = {
            o["Key"] for o in _vault_manifest_objects(sandbox) if o["Key"].startswith("manifests/")
        }
    assert report["status"] == "SUCCEEDED", report["drill"]
    keys = report["drill"]["key_verification"]
    # Every key of the vault's own manifest (captured by its refresh) found in the drill
    # cluster, with the same KCVs; not production's manifest: the vault trusts none
    assert keys["status"] == "SUCCEEDED", keys
    assert keys["keys_found"] == keys["keys_expected"] > 0
    assert keys["manifest_key"] in manifests
    assert keys["manifest_key"].startswith(f"manifests/{report['drill']['source_cluster_id']}/")
    assert not [f for f in report["drill"]["findings"] if f["code"].startswith("KEY_")]
    assert report["vault_untouched"] is True
    assert not any(report["leaked_resources"].values())
    assert report["denied_calls"] == []


def _vault_manifest_objects(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Every object of the vault's own manifest bucket (in the recovery account)."""
    from sandbox.permissions import in_account

    with in_account(RECOVERY_ACCOUNT):
        s3 = boto3.client("s3", region_name=REGION)
        [bucket] = [
            b["Name"]
            for b in s3.list_buckets()["Buckets"]
            if "vaultkeyverifiermanifests" in b["Name"]
        ]
        return list(s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_the_vault_drill_restores_the_newest_vault_backup_and_leaves_nothing(
    run: tuple[dict[str, Any], Sandbox],
) -> None:
    report, sandbox = run
    drill = report["drill"]
    assert report["status"] == "SUCCEEDED", report
    assert report["refresh"]["status"] == "SUCCEEDED"
    assert drill["status"] == "SUCCEEDED", drill
    # From the vault: the vault backup the refresh made, of the production cluster
    assert drill["source"] == "vault"
    assert drill["source_cluster_id"] == "cluster-sandboxprimary"
    assert drill["backup_id"] in report["vault_before"]["backups"]
    # RTO measured by the drill itself
    assert report["rto_seconds"] > 0 and report["rto_met"] is True
    # Teardown: the drill cluster (in the recovery account) is DELETED, its HSM gone,
    # and the backup CloudHSM made of it deleted (tagged hsmdr:drill first)
    recovery = sandbox.worlds[RECOVERY_ACCOUNT]
    [cluster] = [
        c for c in recovery.clusters(REGION) if c["ClusterId"] == drill["drill_cluster_id"]
    ]
    assert cluster["State"] == "DELETED"
    assert drill["teardown"]["status"] == "COMPLETE"
    made = drill_backups(recovery, REGION, drill["execution_arn"])
    assert made and all(b["BackupState"] in ("PENDING_DELETION", "DELETED") for b in made)
    assert report["leaked_resources"] == {"clusters": [], "hsms": [], "backups": []}
    # The drill cluster never appeared in production's account
    assert drill["drill_cluster_id"] not in {c["ClusterId"] for c in sandbox.world.clusters(REGION)}
    assert report["denied_calls"] == []


def test_the_vault_is_exactly_as_before_the_drill(run: tuple[dict[str, Any], Sandbox]) -> None:
    report, _ = run
    before, after = report["vault_before"], report["vault_after"]
    # Counted from the emulator: the same vault clusters and backups, same states,
    # tags and HSMs (none)
    assert len(before["clusters"]) == len(after["clusters"]) == 1
    assert len(before["backups"]) == len(after["backups"]) >= 1
    assert after == before
    assert all(b["state"] == "READY" for b in after["backups"].values())
    # and no drill backup passes for a vault backup
    assert not any(("hsmdr:drill" in dict(b["tags"])) for b in after["backups"].values())


def test_the_report_says_the_keys_were_not_checked_and_how_to_check_them(
    run: tuple[dict[str, Any], Sandbox],
) -> None:
    report, _ = run
    keys = report["drill"]["key_verification"]
    assert keys["status"] == "NOT_RUN"
    assert keys["configured"] is False and keys["required"] is False
    [finding] = [
        f for f in report["drill"]["findings"] if f["code"] == "KEY_VERIFICATION_NOT_CONFIGURED"
    ]
    assert finding["severity"] == "warning"
    assert "recovery_account.key_verification" in finding["next_step"]


@pytest.mark.denials_expected
def test_the_drill_role_is_refused_any_change_to_the_vault(
    run: tuple[dict[str, Any], Sandbox],
) -> None:
    from sandbox.permissions.enforcer import acting_as
    from sandbox.permissions.policy import Principal

    report, sandbox = run
    vault = sandbox.deployments[vault_stack_name(sandbox.config.deployment_name)]
    role = vault.client("iam").get_role(RoleName=vault.physical_id("DrDrillStepsRole"))
    [cluster_id] = report["vault_after"]["clusters"]
    backup_id = sorted(report["vault_after"]["backups"])[0]
    execution = report["drill"]["execution_arn"]
    recovery = sandbox.worlds[RECOVERY_ACCOUNT]
    # Given the vault cluster also carries a drill tag of this deployment (so that the
    # drill's own Allow on drill clusters matches it): only the vault Deny stands between
    with acting_as(None):
        admin = vault.client("cloudhsmv2")
        admin.tag_resource(
            ResourceId=cluster_id, TagList=[{"Key": "hsmdr:drill", "Value": execution}]
        )

    def refused(call: Any, **params: Any) -> str:
        with acting_as(Principal.role(role["Role"]["Arn"])):
            client = boto3.client("cloudhsmv2", region_name=REGION)
            with pytest.raises(ClientError) as info:
                getattr(client, call)(**params)
        return str(info.value)

    # When the drill's role tries to change the vault, each call is refused
    message = refused("delete_cluster", ClusterId=cluster_id)
    assert "AccessDenied" in message and "explicit deny" in message
    assert "explicit deny" in refused(
        "create_hsm", ClusterId=cluster_id, AvailabilityZone="us-east-1a"
    )
    assert "explicit deny" in refused("delete_backup", BackupId=backup_id)
    tag = [{"Key": "hsmdr:drill", "Value": execution}]
    assert "explicit deny" in refused("tag_resource", ResourceId=backup_id, TagList=tag)
    assert "explicit deny" in refused(
        "untag_resource", ResourceId=cluster_id, TagKeyList=["hsmdr:vault"]
    )
    # Then the vault is as it was
    assert recovery.cluster(cluster_id)["State"] == "ACTIVE"
    assert recovery.backup(backup_id)["BackupState"] == "READY"
    denied = sandbox.permissions_report()["denied_calls"]
    assert len(denied) >= 5


def test_a_backup_that_is_not_the_vaults_is_refused_before_anything_is_created(
    run: tuple[dict[str, Any], Sandbox],
) -> None:
    from datetime import timedelta

    report, sandbox = run
    vault = sandbox.deployments[vault_stack_name(sandbox.config.deployment_name)]
    recovery = sandbox.worlds[RECOVERY_ACCOUNT]
    network = sandbox.account_networks[RECOVERY_ACCOUNT][REGION]
    # Given a backup of the recovery account the vault did not make, and the production
    # backup shared with it (DescribeBackups lists it only with Shared: not the vault's)
    stranger_cluster = recovery.seed_cluster(
        REGION, network.subnet_ids(["us-east-1a"]), backup_ages=[timedelta(hours=1)]
    )
    [stranger] = [
        b["BackupId"] for b in recovery.backups(REGION) if b.get("ClusterId") == stranger_cluster
    ]
    [held] = report["vault_after"]["backups"].values()
    shared = dict(held["tags"])["hsmdr:source-backup"].rsplit("/", 1)[-1]
    created = recovery.api_calls["CreateCluster"]

    def drill(backup_id: str) -> Any:
        given = {"backup_id": backup_id, "poll_seconds": 1}
        return vault.run_state_machine("hsmdr-sandbox-dr-drill", given, timeout=120)

    # When the vault's drill is asked to drill either, Then it is refused, naming the
    # field or the backup, and nothing is created
    refused = drill(stranger)
    assert (refused.status, refused.error) == ("FAILED", "InvalidInput")
    assert "backup_id" in refused.cause and "not a vault backup" in refused.cause
    refused = drill(shared)
    assert (refused.status, refused.error) == ("FAILED", "BackupNotFound")
    assert shared in refused.cause
    assert recovery.api_calls["CreateCluster"] == created
