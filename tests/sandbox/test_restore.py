"""The restore-cluster state machine, as synthesized, run in the sandbox after the
protected cluster was lost (its HSMs and the cluster deleted; its backups kept).

On success exactly one new cluster exists, with the HSMs the report names; on failure
nothing is deleted and the alert lists what exists. Refusals of bad input are in
test_restore_refusals.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from lambdas.restore.keys import NOT_CONFIGURED
from sandbox.restore_scenarios import lose_cluster, parameters, run_restore, subnets
from sandbox.session import TRUST_ANCHOR, Sandbox
from stacks.names import restore_state_machine_name
from tests.conftest import Synthesized
from tests.sandbox.restore_support import (
    EAST,
    RESTORED,
    SOURCE,
    WEST,
    assert_refused,
    disaster,
    live_clusters,
    newest_original,
    restore,
)


@pytest.fixture
def sandbox(synthesized: Synthesized) -> Iterator[Sandbox]:
    lost = disaster(synthesized)
    yield lost
    lost.__exit__(None, None, None)


@pytest.fixture
def no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.endpoint

    # botocore's waits between retries are skipped; the retries still happen.
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _: None))


def assert_restored(report: dict[str, Any], zones: list[str]) -> None:
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert report["leaked_resources"] == {"clusters": [], "hsms": []}
    [existing] = report["existing"]
    assert existing["cluster_id"] == report["cluster_id"] and existing["state"] == "ACTIVE"
    assert sorted(h["availability_zone"] for h in report["hsms"]) == zones
    assert all(h["state"] == "ACTIVE" for h in existing["hsms"])
    assert len(existing["hsms"]) == len(zones)


def source_backups(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """The lost cluster's backups in its region, by id."""
    return {b["BackupId"]: b for b in sandbox.world.backups(EAST) if b.get("ClusterId") == SOURCE}


def subjects(report: dict[str, Any]) -> list[str]:
    return [a["subject"] for a in report["alerts"]]


def test_restore_brings_back_two_hsms_in_two_azs_and_tells_clients(sandbox: Sandbox) -> None:
    # Given the lost cluster's backups in us-east-1, settled (nothing of the lost cluster
    # changes any more), the newest READY one known before the restore starts
    before = source_backups(sandbox)
    newest = before[newest_original(sandbox)]
    assert newest["BackupState"] == "READY"
    # When it is restored there
    report = restore(sandbox)
    # Then a new cluster from that backup has 2 ACTIVE HSMs in 2 AZs
    assert_restored(report, ["us-east-1a", "us-east-1b"])
    assert source_backups(sandbox) == before  # no backup of the lost cluster appeared
    result = report["result"]
    assert result["backup"]["backup_id"] == newest["BackupId"]
    assert report["existing"][0]["source_backup_id"] == newest["BackupId"]
    assert report["existing"][0]["tags"] == {
        "managed-by": "cloudhsm-dr",
        "hsmdr:deployment": "hsmdr-sandbox",
        "hsmdr:restore-id": report["execution_arn"].rsplit(":", 1)[1],
        "hsmdr:source-backup": newest["BackupId"],
        "hsmdr:source-cluster": SOURCE,
        "hsmdr:execution": report["execution_arn"],
        "Name": f"restored-{SOURCE}",
    }
    # And RPO, RTO and time to full HA are measured, RTO first
    assert 0 <= report["rpo_seconds"] < 60
    assert 0 < report["rto_seconds"] < report["time_to_full_ha_seconds"]
    assert result["steps"][0]["step"] == "identify backup"
    # And without key_verification in the config, the report says so plainly
    assert result["key_verification"] == NOT_CONFIGURED
    assert NOT_CONFIGURED in report["alerts"][-1]["message"]
    assert "KeyVerificationNotRun" in [s["state"] for s in report["timeline"]]
    assert result["verification"]["summary"] == "API checks passed"
    # And clients find the new cluster in SSM
    published = parameters(EAST, RESTORED)
    assert published[f"{RESTORED}cluster-id"] == report["cluster_id"]
    assert published[f"{RESTORED}hsm-ips"].split(",") == sorted(h["eni_ip"] for h in report["hsms"])
    assert published[f"{RESTORED}security-group"].startswith("sg-")
    # And on-call got exactly one "service restored" message, then one final message
    assert subjects(report) == [
        f"CloudHSM service restored: {SOURCE} -> {report['cluster_id']}",
        f"Restore SUCCEEDED: {SOURCE} -> {report['cluster_id']}",
    ]
    service = report["alerts"][0]["message"]
    assert "configure-pkcs11 -a 10.0." in service and "Time to restore service" in service
    states = [s["state"] for s in report["timeline"]]
    assert states.index("NotifyServiceRestored") < states.index("AddNextHsm")
    assert states[-1] == "Succeeded"


def test_regional_disaster_restores_from_the_copy_with_the_dr_stack(sandbox: Sandbox) -> None:
    # When the restore runs in the DR region (its own stack's state machine)
    report = restore(sandbox, region=WEST)
    # Then it restores the newest READY copy there, from the DR stack, with the trust anchor
    assert_restored(report, ["us-west-2a", "us-west-2b"])
    assert ":us-west-2:" in report["execution_arn"]
    backup = report["result"]["backup"]
    assert backup["is_copy"] is True and backup["source_region"] == EAST
    assert 2 * 3600 - 60 < report["rpo_seconds"] < 2 * 3600 + 60  # the copy is 2 hours old
    anchor = report["result"]["client_config"]["trust_anchor"]
    # the copy job's replica in the DR region: the primary region is not needed for it
    assert anchor["status"] == "REPLICA"
    copied = boto3.client("ssm", region_name=WEST).get_parameter(Name=anchor["parameter"])
    assert copied["Parameter"]["Value"] == TRUST_ANCHOR
    assert parameters(WEST, RESTORED)[f"{RESTORED}cluster-id"] == report["cluster_id"]
    assert live_clusters(sandbox, EAST) == []  # nothing made in the lost region


def test_throttling_and_internal_failures_are_retried_without_a_second_cluster(
    sandbox: Sandbox, no_retry_waits: None
) -> None:
    sandbox.apply_faults(["throttle", "internal-failure"])
    sandbox.world.faults.enable("internal-failure", operation="CreateCluster", count=1)
    report = restore(sandbox)
    assert_restored(report, ["us-east-1a", "us-east-1b"])
    assert len(live_clusters(sandbox)) == 1
    assert sandbox.world.api_calls["CreateCluster"] == 2  # the failed try and the good one


def test_a_degraded_hsm_is_deleted_and_created_again(sandbox: Sandbox) -> None:
    sandbox.apply_faults(["hsm-degraded"])
    report = restore(sandbox)
    assert_restored(report, ["us-east-1a", "us-east-1b"])
    [discarded] = report["result"]["removed_hsm_ids"]
    assert discarded in report["result"]["created_hsm_ids"]
    assert "DiscardDegradedFirstHsm" in [s["state"] for s in report["timeline"]]


def test_an_az_that_keeps_failing_is_swapped_for_a_spare_az(sandbox: Sandbox) -> None:
    sandbox.apply_faults(["az-unsupported:us-east-1a"])
    report = restore(sandbox)
    assert_restored(report, ["us-east-1b", "us-east-1c"])
    assert len(report["result"]["removed_hsm_ids"]) == 2  # two tries in us-east-1a


@pytest.mark.parametrize(
    ("region", "zones"),
    [(EAST, ["us-east-1b", "us-east-1c"]), (WEST, ["us-west-2b", "us-west-2c"])],
)
def test_an_unsupported_az_and_a_transient_degraded_hsm_still_restore_in_a_spare_az(
    sandbox: Sandbox, region: str, zones: list[str]
) -> None:
    # Given an AZ that rejects CloudHSM and one more HSM that ends DEGRADED at creation
    sandbox.apply_faults([f"az-unsupported:{region}a", "hsm-degraded"], region=region)
    report = restore(sandbox, region=region)
    # Then the swap to a spare zone starts that zone's count afresh and the restore ends
    assert_restored(report, zones)
    assert len(report["result"]["removed_hsm_ids"]) == 3  # two in the AZ, one transient


def test_hsms_that_always_degrade_fail_and_leave_the_cluster_for_an_engineer(
    sandbox: Sandbox,
) -> None:
    sandbox.world.faults.enable("hsm-degraded", count=10)
    report = restore(sandbox)
    assert report["status"] == "FAILED" and report["error"] == "HsmCreationFailed"
    [left] = report["existing"]  # not deleted
    assert left["state"] == "ACTIVE"
    [alert] = report["alerts"]
    assert alert["subject"] == f"Restore FAILED: {SOURCE}: HsmCreationFailed"
    assert f"cluster {left['cluster_id']} ACTIVE" in alert["message"]
    assert "nothing was deleted" in alert["message"]
    assert "--restore-id" in alert["message"] and report["execution_arn"] in alert["message"]


def test_a_crash_stops_without_deleting_and_the_same_restore_id_resumes(
    sandbox: Sandbox,
) -> None:
    # Given a restore that crashes while waiting for its first HSM
    sandbox.apply_faults(["lambda-crash:restore-cluster@check_hsm"])
    crashed = restore(sandbox, restore_id="dr-crash")
    assert crashed["status"] == "FAILED" and crashed["error"] == "SandboxInjectedCrash"
    [left] = crashed["existing"]
    assert len(left["hsms"]) == 1  # its first HSM is still there
    assert "nothing was deleted" in crashed["alerts"][0]["message"]
    # When the cause is gone and the same restore id runs again
    sandbox.deployment.clear_crash()
    resumed = restore(sandbox, restore_id="dr-crash")
    # Then it adopts the cluster and finishes it: one cluster, nothing created twice
    assert_restored(resumed, ["us-east-1a", "us-east-1b"])
    assert resumed["cluster_id"] == left["cluster_id"]
    assert resumed["result"]["adopted_cluster"] is True
    assert sandbox.world.api_calls["CreateCluster"] == 1
    assert sandbox.world.api_calls["CreateHsm"] == 2


def test_an_hsm_failing_after_active_mid_restore_is_replaced(sandbox: Sandbox) -> None:
    # Given the first HSM turns DEGRADED while the second one is being created
    report = run_restore(
        sandbox,
        {"source_cluster_id": SOURCE, "subnet_ids": subnets(sandbox, EAST), "poll_seconds": 1},
        fail_hsm_mid_restore=True,
    )
    # Then the workflow deletes that HSM (its own), adds another and ends with 2 ACTIVE
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    result = report["result"]
    [replaced] = result["removed_hsm_ids"]
    assert replaced == result["created_hsm_ids"][0]
    assert len(result["created_hsm_ids"]) == 3
    assert_restored(report, ["us-east-1a", "us-east-1b"])
    assert "DiscardDegradedNextHsm" in [s["state"] for s in report["timeline"]]
    # And the final message says the IPs announced earlier changed
    assert result["client_config"]["ips_changed_since_service_restored"] is True
    assert "HSM IPs CHANGED" in report["alerts"][-1]["message"]
    assert parameters(EAST, RESTORED)[f"{RESTORED}hsm-ips"].split(",") == sorted(
        h["eni_ip"] for h in report["hsms"]
    )


# Idempotency ------------------------------------------------------------------------


def test_the_same_restore_id_twice_makes_one_cluster(sandbox: Sandbox) -> None:
    first = restore(sandbox, restore_id="dr-twice")
    again = restore(sandbox, restore_id="dr-twice")
    assert_restored(first, ["us-east-1a", "us-east-1b"])
    assert again["status"] == "SUCCEEDED" and again["cluster_id"] == first["cluster_id"]
    assert again["result"]["created_hsm_ids"] == []
    assert len(live_clusters(sandbox)) == 1
    assert sandbox.world.api_calls["CreateCluster"] == 1


def test_a_second_start_while_the_first_runs_is_refused_and_creates_nothing(
    sandbox: Sandbox,
) -> None:
    # Given a restore in progress (it holds its restore id): its cluster takes an
    # emulated hour, until the test moves the clock, however loaded the machine
    sandbox.world.profile = replace(sandbox.world.profile, cluster_create=timedelta(hours=1))
    client = boto3.client("stepfunctions", region_name=EAST)
    arn = sandbox.deployment.state_machine_arn(restore_state_machine_name("hsmdr-sandbox"))
    execution_input = {
        "source_cluster_id": SOURCE,
        "subnet_ids": subnets(sandbox, EAST),
        "poll_seconds": 1,
        "restore_id": "dr-concurrent",
    }
    first = client.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))
    deadline = time.monotonic() + 30
    while not parameters(EAST, "/hsmdr/hsmdr-sandbox/restores/") and time.monotonic() < deadline:
        time.sleep(0.05)
    # When the same restore starts again, Then it is refused naming the running one,
    # and pages nobody: nothing failed (the running restore reports for itself)
    second = run_restore(sandbox, execution_input)
    assert second["status"] == "FAILED" and second["error"] == "RestoreAlreadyRunning"
    assert first["executionArn"] in (second["cause"] or "")
    assert second["alerts"] == []
    assert [s["state"] for s in second["timeline"]][-1] == "Refused"
    # And the first one finishes with the only cluster
    sandbox.world.time_travel(timedelta(hours=1))
    while client.describe_execution(executionArn=first["executionArn"])["status"] == "RUNNING":
        time.sleep(0.1)
    assert client.describe_execution(executionArn=first["executionArn"])["status"] == "SUCCEEDED"
    assert len(live_clusters(sandbox)) == 1
    assert sandbox.world.api_calls["CreateCluster"] == 1


# Refusals that change the world first ----------------------------------------------


def test_a_backup_pending_deletion_and_then_deleted_is_refused(sandbox: Sandbox) -> None:
    backup_id = newest_original(sandbox)
    boto3.client("cloudhsmv2", region_name=EAST).delete_backup(BackupId=backup_id)
    pending = restore(sandbox, source_cluster_id=None, backup_id=backup_id)
    assert_refused(
        sandbox,
        pending,
        "BackupNotRestorable",
        f"{backup_id} is PENDING_DELETION",
        "restore-backup",
    )
    sandbox.world.time_travel(timedelta(days=7, hours=1))  # DELETED, still listed
    deleted = restore(sandbox, source_cluster_id=None, backup_id=backup_id)
    assert_refused(sandbox, deleted, "BackupNotRestorable", f"{backup_id} is DELETED")


def test_a_backup_still_being_created_is_refused_by_id_and_skipped_by_source(
    synthesized: Synthesized,
) -> None:
    sandbox = disaster(synthesized, lambda s: s.apply_faults(["backup-stuck"]))
    try:
        stuck = [b for b in sandbox.world.backups(EAST) if b["BackupState"] == "CREATE_IN_PROGRESS"]
        by_id = restore(sandbox, source_cluster_id=None, backup_id=stuck[0]["BackupId"])
        assert_refused(sandbox, by_id, "BackupNotRestorable", "still CREATE_IN_PROGRESS")
        by_source = restore(sandbox)
        assert by_source["status"] == "SUCCEEDED"
        assert any("CREATE_IN_PROGRESS: not used" in n for n in by_source["result"]["notes"])
    finally:
        sandbox.__exit__(None, None, None)


def test_a_backup_whose_mode_differs_from_the_config_is_refused(synthesized: Synthesized) -> None:
    with Sandbox(profile="test", templates=synthesized.templates) as sandbox:
        # Given the protected cluster's backups are NON_FIPS, though the config says FIPS
        network = sandbox.networks[EAST]
        sandbox.world.seed_cluster(
            EAST,
            network.subnet_ids(["us-east-1a", "us-east-1b"]),
            cluster_id=SOURCE,
            mode="NON_FIPS",
            backup_ages=[timedelta(hours=3)],
        )
        lose_cluster(sandbox, SOURCE, EAST)
        report = restore(sandbox)
        assert_refused(
            sandbox,
            report,
            "BackupNotRestorable",
            "a NON_FIPS backup cannot be restored into a FIPS cluster",
            "the config pins mode FIPS",
        )


# An execution that was stopped -------------------------------------------------------------


def test_an_aborted_restore_pages_with_what_exists_and_deletes_only_its_degraded_hsms(
    sandbox: Sandbox,
) -> None:
    from sandbox.restore_scenarios import subnets as restore_subnets
    from sandbox.stopped_scenarios import abort_when, deliver_stopped

    # Given a restore whose HSMs end DEGRADED, aborted once one has
    sandbox.world.faults.enable("hsm-degraded", count=10)

    def degraded_hsm() -> bool:
        return any(
            h["State"] == "DEGRADED" for c in live_clusters(sandbox) for h in c.get("Hsms", [])
        )

    execution = abort_when(
        sandbox,
        restore_state_machine_name(sandbox.config.deployment_name),
        {
            "source_cluster_id": SOURCE,
            "region": EAST,
            "subnet_ids": restore_subnets(sandbox, EAST),
            "poll_seconds": 1,
        },
        degraded_hsm,
    )
    seen = len(sandbox.messages())
    # When EventBridge delivers the ABORTED status change
    [delivery] = deliver_stopped(sandbox.deployment, execution)
    # Then the cluster is kept (a restore deletes nothing else), no DEGRADED HSM of the
    # execution is left, and on-call is paged with what exists and how to resume
    assert delivery.delivered, delivery
    [cluster] = live_clusters(sandbox)
    assert all(h["State"] in ("DELETE_IN_PROGRESS", "DELETED") for h in cluster.get("Hsms", []))
    [page] = sandbox.messages()[seen:]
    assert page.subject == f"Restore FAILED: {SOURCE}: ExecutionAborted"
    assert f"cluster {cluster['ClusterId']} ACTIVE" in page.message
    assert "--restore-id" in page.message
