"""The on-demand backup state machine, as synthesized, run in the sandbox.

Every run ends SUCCEEDED or FAILED with a clear error, and in every case the
cluster keeps the HSMs it started with: nothing leaks, nothing is lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from sandbox.backup_scenarios import create_backup, on_demand_state_machine
from sandbox.execution_holds import held_at_a_wait
from sandbox.session import Sandbox
from tests.conftest import Synthesized

CLUSTER = "cluster-sandboxprimary"


@pytest.fixture
def sandbox(synthesized: Synthesized) -> Iterator[Sandbox]:
    with Sandbox(profile="test", template=synthesized.template) as sandbox:
        sandbox.seed_protected_clusters()
        yield sandbox


@pytest.fixture
def no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.endpoint

    # botocore's waits between retries are skipped; the retries still happen.
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _: None))


def assert_cluster_as_it_started(report: dict[str, Any]) -> None:
    assert report["leaked_resources"] == {"hsms": [], "clusters": []}
    assert report["missing_hsms"] == {}
    zones = sorted(h["availability_zone"] for h in report["hsms_after"].values())
    assert zones == sorted(h["availability_zone"] for h in report["hsms_before"].values())
    assert all(h["state"] == "ACTIVE" for h in report["hsms_after"].values())


def lock_items(sandbox: Sandbox) -> list[dict[str, Any]]:
    table = sandbox.deployment.physical_id("ClusterLocks")
    return list(boto3.client("dynamodb").scan(TableName=table)["Items"])


def failure_alert(report: dict[str, Any]) -> dict[str, Any]:
    [alert] = report["alerts"]
    assert CLUSTER in alert["subject"] and "FAILED" in alert["subject"]
    assert "What the automation already did:" in alert["message"]
    assert (
        f"hsmdr backup create --deployment hsmdr-sandbox --cluster {CLUSTER}" in (alert["message"])
    )
    assert report["execution_arn"] in alert["message"]
    return alert


def test_add_temporary_hsm_forces_a_backup_and_removes_the_hsm(sandbox: Sandbox) -> None:
    # Given a healthy 2-HSM cluster, When a backup is forced with a temporary HSM
    report = create_backup(sandbox)
    # Then a new READY backup exists, made during the run, and the cluster is as it was
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    backup = report["backup"]
    assert backup["state"] == "READY" and backup["source_cluster"] == CLUSTER
    assert backup["hsm_type"] == "hsm2m.medium" and backup["mode"] == "FIPS"
    assert backup["create_timestamp"] >= report["result"]["started_at"]
    assert report["hsms_after"] == report["hsms_before"]  # same HSMs, same ids
    assert_cluster_as_it_started(report)
    [temporary] = report["result"]["created_hsm_ids"]
    assert report["result"]["removed_hsm_ids"] == [temporary]
    assert report["alerts"] == []
    assert lock_items(sandbox) == []
    states = [s["state"] for s in report["timeline"]]
    assert states[:4] == ["Start", "ValidateAndLock", "Strategy?", "CreateHsm"]
    assert "RemoveTemporaryHsm" in states and states[-1] == "Succeeded"
    assert all(s["end"] for s in report["timeline"])


def test_cycle_hsm_keeps_the_ip_and_the_zone(sandbox: Sandbox) -> None:
    report = create_backup(sandbox, strategy="cycle-hsm")
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    before, after = report["hsms_before"], report["hsms_after"]
    assert sorted((h["availability_zone"], h["eni_ip"]) for h in after.values()) == sorted(
        (h["availability_zone"], h["eni_ip"]) for h in before.values()
    )
    [cycled] = report["result"]["removed_hsm_ids"]
    assert cycled in before and cycled not in after
    assert_cluster_as_it_started(report)
    assert "RemoveCycledHsm" in [s["state"] for s in report["timeline"]]


def test_degraded_hsm_is_discarded_and_replaced(sandbox: Sandbox) -> None:
    sandbox.apply_faults(["hsm-degraded"])
    report = create_backup(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert len(report["result"]["created_hsm_ids"]) == 2
    assert "DiscardDegradedHsm" in [s["state"] for s in report["timeline"]]
    assert_cluster_as_it_started(report)


def test_unsupported_zone_falls_back_to_the_other_zone(sandbox: Sandbox) -> None:
    sandbox.apply_faults(["az-unsupported:us-east-1a"])
    report = create_backup(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert_cluster_as_it_started(report)


def test_hsms_that_always_degrade_fail_cleanly_with_one_alert(sandbox: Sandbox) -> None:
    sandbox.world.faults.enable("hsm-degraded", count=10)
    report = create_backup(sandbox)
    assert report["status"] == "FAILED"
    assert report["error"] == "HsmCreationFailed"
    assert_cluster_as_it_started(report)
    alert = failure_alert(report)
    assert "HsmCreationFailed" in alert["message"]
    assert lock_items(sandbox) == []


def test_backup_that_never_becomes_ready_times_out_and_cleans_up(sandbox: Sandbox) -> None:
    sandbox.apply_faults(["backup-stuck"])
    report = create_backup(sandbox, extra_input={"backup_timeout_minutes": 0.05})
    assert report["status"] == "FAILED"
    assert report["error"] == "BackupTimeout"
    assert "still CREATE_IN_PROGRESS" in report["cause"]
    assert_cluster_as_it_started(report)
    alert = failure_alert(report)
    assert "deleted HSM" in alert["message"]


def test_cycle_that_cannot_recreate_restores_the_hsm_or_pages(sandbox: Sandbox) -> None:
    # Given the cycled HSM's re-creation ends DEGRADED once
    sandbox.world.faults.enable("hsm-degraded", count=1)
    report = create_backup(sandbox, strategy="cycle-hsm")
    # Then the run replaces the degraded HSM and still ends with the starting topology
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert_cluster_as_it_started(report)


def test_crash_in_the_middle_cleans_up_the_temporary_hsm(sandbox: Sandbox) -> None:
    sandbox.apply_faults(["lambda-crash:on-demand-backup@check_backup"])
    report = create_backup(sandbox)
    assert report["status"] == "FAILED"
    assert report["error"] == "SandboxInjectedCrash"
    assert "CleanUp" in [s["state"] for s in report["timeline"]]
    assert_cluster_as_it_started(report)
    failure_alert(report)
    assert lock_items(sandbox) == []


def test_crash_at_validation_creates_nothing_and_pages_as_a_crash_not_a_refusal(
    sandbox: Sandbox,
) -> None:
    sandbox.apply_faults(["lambda-crash:on-demand-backup"])
    report = create_backup(sandbox)
    assert report["status"] == "FAILED" and report["error"] == "SandboxInjectedCrash"
    assert report["hsms_after"] == report["hsms_before"]
    states = [s["state"] for s in report["timeline"]]
    assert "Rejected" not in states and states[-1] == "ValidationCrashed"
    [page] = report["alerts"]
    assert (
        page["subject"] == "On-demand backup FAILED to start: SandboxInjectedCrash (not a refusal)"
    )
    assert "with SandboxInjectedCrash: SandboxInjectedCrash: " in page["message"]
    # The error type and its message only: no stack trace, no file paths
    assert "stackTrace" not in page["message"] and ".py" not in page["message"]
    assert lock_items(sandbox) == []


def test_a_refusal_is_rejected_without_a_page(sandbox: Sandbox) -> None:
    refused = create_backup(sandbox, extra_input={"strategy": "no-such-strategy"})
    assert refused["status"] == "FAILED" and refused["error"] == "InvalidInput"
    assert [s["state"] for s in refused["timeline"]][-1] == "Rejected"
    assert refused["alerts"] == []


def test_internal_failure_is_retried_and_throttling_absorbed(
    sandbox: Sandbox, no_retry_waits: None
) -> None:
    sandbox.apply_faults(["internal-failure", "throttle"])
    report = create_backup(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert_cluster_as_it_started(report)


def test_create_hsm_that_keeps_failing_fails_before_any_hsm_exists(
    sandbox: Sandbox, no_retry_waits: None
) -> None:
    sandbox.world.faults.enable("internal-failure", operation="CreateHsm", count=1000)
    report = create_backup(sandbox)
    assert report["status"] == "FAILED"
    assert report["error"] == "CloudHsmUnavailable"
    assert report["hsms_after"] == report["hsms_before"]
    failure_alert(report)


# Bad input fails before any HSM is created -------------------------------------


@pytest.mark.parametrize(
    ("execution_input", "error", "message"),
    [
        ({"cluster_id": "cluster-notprotectedx"}, "InvalidInput", "not a protected cluster"),
        ({"cluster_id": "cluster-bad!"}, "InvalidInput", "is not a CloudHSM cluster id"),
        ({"cluster_id": CLUSTER, "strategy": "snapshot"}, "InvalidInput", "strategy:"),
        ({"cluster_id": CLUSTER, "poll_seconds": 0}, "InvalidInput", "poll_seconds:"),
        ({}, "InvalidInput", "cluster_id: is required"),
    ],
)
def test_bad_input_is_rejected_before_anything_is_created(
    sandbox: Sandbox, execution_input: dict[str, Any], error: str, message: str
) -> None:
    execution = sandbox.deployment.run_state_machine(
        on_demand_state_machine(sandbox), execution_input, timeout=60
    )
    assert execution.status == "FAILED"
    assert execution.error == error
    assert message in (execution.cause or "")
    assert execution.entered_states()[-1] == "Rejected"
    assert "CreateHsm" not in execution.entered_states()
    assert sandbox.world.api_calls["CreateHsm"] == 0
    assert lock_items(sandbox) == []


def test_cycling_the_only_hsm_needs_allow_downtime(sandbox: Sandbox) -> None:
    # Given a protected cluster down to one HSM
    [first, _] = sandbox.world.hsms(CLUSTER)
    boto3.client("cloudhsmv2").delete_hsm(ClusterId=CLUSTER, HsmId=first["HsmId"])
    sandbox.world.settle()
    report = create_backup(sandbox, strategy="cycle-hsm")
    assert report["status"] == "FAILED" and report["error"] == "InvalidInput"
    assert "allow_downtime" in report["cause"]
    assert sandbox.world.api_calls["CreateHsm"] == 0


def test_no_quota_headroom_suggests_cycling(sandbox: Sandbox) -> None:
    # Given another cluster that uses the rest of the region's 6-HSM quota
    network = sandbox.networks["us-east-1"]
    sandbox.world.seed_cluster(
        "us-east-1", network.subnet_ids(["us-east-1a", "us-east-1b"]), hsms_per_subnet=2
    )
    report = create_backup(sandbox)
    assert report["status"] == "FAILED" and report["error"] == "NoQuotaHeadroom"
    assert "cycle-hsm" in report["cause"]
    assert sandbox.world.api_calls["CreateHsm"] == 0


def test_a_second_run_on_a_busy_cluster_is_refused(sandbox: Sandbox) -> None:
    # Given a run in progress, held at its first poll (it holds the cluster's lock)
    client = boto3.client("stepfunctions")
    arn = sandbox.deployment.state_machine_arn(on_demand_state_machine(sandbox))
    with held_at_a_wait() as hold:
        first = client.start_execution(
            stateMachineArn=arn, input=json.dumps({"cluster_id": CLUSTER, "poll_seconds": 1})
        )["executionArn"]
        assert hold.held.wait(60)
        # When a second one starts, Then it is rejected naming the holder
        report = create_backup(sandbox)
        assert report["status"] == "FAILED" and report["error"] == "ClusterBusy"
        assert first in report["cause"]
    # And the first one, released, still finishes cleanly
    assert sandbox.deployment.await_execution(first).status == "SUCCEEDED"
    assert lock_items(sandbox) == []


def test_a_stale_lock_is_taken_over(sandbox: Sandbox) -> None:
    # Given a lock left behind by an execution that no longer runs
    table = sandbox.deployment.physical_id("ClusterLocks")
    boto3.client("dynamodb").put_item(
        TableName=table,
        Item={
            "cluster_id": {"S": CLUSTER},
            "holder": {
                "S": sandbox.deployment.state_machine_arn(on_demand_state_machine(sandbox)).replace(
                    ":stateMachine:", ":execution:"
                )
                + ":gone"
            },
            "purpose": {"S": "on-demand backup"},
            "acquired_at": {"N": str(int(time.time()) - 60)},
            "expires_at": {"N": str(int(time.time()) + int(timedelta(hours=3).total_seconds()))},
        },
    )
    report = create_backup(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert lock_items(sandbox) == []


def test_an_hsm_failing_mid_run_does_not_stop_the_backup_or_get_deleted(sandbox: Sandbox) -> None:
    # Given a run in progress, held at its first poll
    client = boto3.client("stepfunctions")
    arn = sandbox.deployment.state_machine_arn(on_demand_state_machine(sandbox))
    before = {h["HsmId"] for h in sandbox.world.hsms(CLUSTER)}
    with held_at_a_wait() as hold:
        execution = client.start_execution(
            stateMachineArn=arn, input=json.dumps({"cluster_id": CLUSTER, "poll_seconds": 1})
        )["executionArn"]
        assert hold.held.wait(60)
        # When one of the cluster's own HSMs fails meanwhile
        sandbox.apply_faults(["hsm-failure"])
    assert sandbox.deployment.await_execution(execution).status == "SUCCEEDED"
    # Then the backup still completes, and the failed HSM (not this run's) is left for
    # the replacement workflow: the automation never deletes what it did not create
    assert client.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
    after = {h["HsmId"]: h["State"] for h in sandbox.world.hsms(CLUSTER)}
    assert set(after) == before
    assert sorted(after.values()) == ["ACTIVE", "DEGRADED"]


# An execution that was stopped -------------------------------------------------------------


def test_an_aborted_backup_has_its_temporary_hsm_deleted_its_lock_released_and_pages(
    sandbox: Sandbox,
) -> None:
    from sandbox.stopped_scenarios import abort_when, deliver_stopped
    from stacks.names import ON_DEMAND_BACKUP

    # Given a backup that never becomes READY, so the execution waits with its temporary
    # HSM ACTIVE, and is aborted there
    sandbox.apply_faults(["backup-stuck"])
    before = {h["HsmId"] for h in sandbox.world.hsms(CLUSTER)}

    def waiting_for_the_backup() -> bool:
        new = [h for h in sandbox.world.hsms(CLUSTER) if h["HsmId"] not in before]
        return any(h["State"] == "ACTIVE" for h in new)

    execution = abort_when(
        sandbox,
        on_demand_state_machine(sandbox),
        {"cluster_id": CLUSTER, "poll_seconds": 1},
        waiting_for_the_backup,
    )
    temporary = [
        h
        for h in sandbox.world.hsms(CLUSTER)
        if h["HsmId"] not in before and h["State"] != "DELETED"
    ]
    assert len(temporary) == 1 and lock_items(sandbox)  # what the abort left
    seen = len(sandbox.messages())
    # When EventBridge delivers the ABORTED status change to the workflow's function
    [delivery] = deliver_stopped(sandbox.deployment, execution)
    # Then its function deletes the HSM the execution created (only that), releases the
    # lock, and pages
    assert delivery.delivered and not delivery.denied
    assert delivery.target == sandbox.deployment.function_arn(ON_DEMAND_BACKUP)
    [temp] = temporary
    assert (
        delivery.result["actions"][0]
        == f"deleted HSM {temp['HsmId']}, which this execution created"
    )
    states = {h["HsmId"]: h["State"] for h in sandbox.world.hsms(CLUSTER)}
    assert states.get(temp["HsmId"], "DELETED") in ("DELETE_IN_PROGRESS", "DELETED")
    assert all(states[h] == "ACTIVE" for h in before)
    assert lock_items(sandbox) == []
    [page] = sandbox.messages()[seen:]
    assert page.subject == f"On-demand backup ABORTED on {CLUSTER}"
    assert "Nothing else differs from the start." in page.message and execution in page.message
    assert page.topic_logical_id.startswith("AlertingTopic")


# CreateHsm is not idempotent ---------------------------------------------------------------


def test_a_retried_create_step_adopts_the_hsm_a_lost_try_made(sandbox: Sandbox) -> None:
    from stacks.names import ON_DEMAND_BACKUP

    # Given a planned backup (the lock taken) whose first CreateHsm worked but whose
    # answer was lost: the HSM exists, the job does not know it
    execution = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-sandbox-on-demand-backup:x"
    planned = sandbox.deployment.invoke(
        ON_DEMAND_BACKUP,
        {"step": "validate", "input": {"cluster_id": CLUSTER}, "execution": execution},
    )
    assert planned.ok, planned.payload
    job = planned.payload
    zone = job["plan"]["zones"][0]
    lost = boto3.client("cloudhsmv2", region_name="us-east-1").create_hsm(
        ClusterId=CLUSTER, AvailabilityZone=zone
    )["Hsm"]["HsmId"]
    calls = sandbox.world.api_calls["CreateHsm"]
    # When the state machine retries the step
    retried = sandbox.deployment.invoke(ON_DEMAND_BACKUP, {"step": "create_hsm", "job": job})
    # Then it records that HSM instead of creating a second one
    assert retried.ok, retried.payload
    run = retried.payload["run"]
    assert run["created_hsm_ids"] == [lost] and run["hsm"]["hsm_id"] == lost
    assert sandbox.world.api_calls["CreateHsm"] == calls


def test_a_backup_the_sandbox_stops_is_cleaned_up_as_in_aws(sandbox: Sandbox) -> None:
    # Given a backup that never becomes READY, and a run the sandbox stops at its timeout
    sandbox.apply_faults(["backup-stuck"])
    report = create_backup(sandbox, timeout=15)
    # Then the stop reaches the stack's rule: what the execution made is deleted, the
    # starting HSMs are untouched, the lock is free, and on-call is paged
    assert report["status"] == "ABORTED"
    assert_cluster_as_it_started(report)
    assert lock_items(sandbox) == []
    [page] = report["alerts"]
    assert page["subject"] == f"On-demand backup ABORTED on {CLUSTER}"
