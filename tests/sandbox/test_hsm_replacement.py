"""Single-HSM failure, end to end in the sandbox: the synthesized health check notices a
failed HSM and starts the synthesized replacement state machine.

Whatever happens, no ACTIVE HSM is ever deleted, the lock is released, and nothing is
left behind; a failure leaves the DEGRADED HSM in place and pages with what exists.
"""

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

from sandbox.replacement_scenarios import (
    HEALTH_FUNCTION,
    await_execution,
    fire_health_check,
    fire_unhealthy_alarm,
    hsms,
    replace_after_failure,
    replace_state_machine,
)
from sandbox.session import Sandbox
from tests.conftest import Synthesized

CLUSTER = "cluster-sandboxprimary"
DESIRED = {"us-east-1a": 1, "us-east-1b": 1}


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


def fail_an_hsm(sandbox: Sandbox) -> dict[str, str]:
    """The hsm-failure fault; returns the HSM that turned DEGRADED, with its id."""
    sandbox.apply_faults(["hsm-failure"])
    [(hsm_id, failed)] = [
        (i, h) for i, h in hsms(sandbox, CLUSTER).items() if h["state"] == "DEGRADED"
    ]
    return {"hsm_id": hsm_id, **failed}


def lock_items(sandbox: Sandbox) -> list[dict[str, Any]]:
    table = sandbox.deployment.physical_id("ClusterLocks")
    return list(boto3.client("dynamodb").scan(TableName=table)["Items"])


def executions(sandbox: Sandbox) -> list[dict[str, Any]]:
    arn = sandbox.deployment.state_machine_arn(replace_state_machine(sandbox))
    return list(boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"])


def run_directly(sandbox: Sandbox, execution_input: dict[str, Any]) -> Any:
    return sandbox.deployment.run_state_machine(
        replace_state_machine(sandbox), {"poll_seconds": 1, **execution_input}, timeout=120
    )


def assert_desired_all_active(report: dict[str, Any], failed: dict[str, str]) -> None:
    after = report["hsms"]
    assert failed["hsm_id"] not in after
    zones = sorted(h["availability_zone"] for h in after.values())
    assert zones == sorted(DESIRED) and all(h["state"] == "ACTIVE" for h in after.values())
    assert report["leaked_resources"] == {"hsms": [], "clusters": []}


def assert_no_active_hsm_deleted(report: dict[str, Any]) -> None:
    before_active = {i for i, h in report["hsms_before"].items() if h["state"] == "ACTIVE"}
    assert before_active <= set(report["hsms"])


def failure_alert(report: dict[str, Any]) -> str:
    [alert] = [a for a in report["alerts"] if "replacement FAILED" in a["subject"]]
    message = str(alert["message"])
    assert "What exists now (cluster ACTIVE)" in message
    assert f"hsmdr hsm replace --deployment hsmdr-sandbox --cluster {CLUSTER}" in message
    assert report["execution_arn"] in message
    return message


# The happy path --------------------------------------------------------------------


def test_degraded_hsm_is_replaced_in_its_zone_and_deleted(sandbox: Sandbox) -> None:
    failed = fail_an_hsm(sandbox)
    report = replace_after_failure(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert_desired_all_active(report, failed)
    result = report["result"]
    [new_id] = result["created_hsm_ids"]
    assert result["deleted_hsm_ids"] == [failed["hsm_id"]]
    assert report["hsms"][new_id]["availability_zone"] == failed["availability_zone"]
    # Capacity first: the DEGRADED HSM held its IP, so the replacement took another.
    assert report["hsms"][new_id]["eni_ip"] != failed["eni_ip"]
    states = [s["state"] for s in report["timeline"]]
    assert states.index("CheckReplacement") < states.index("DeleteFailedHsm")
    assert states[-1] == "Succeeded"
    assert report["rto_seconds"] is not None and report["rto_seconds"] > 0
    assert lock_items(sandbox) == []
    # Two alerts: the check started a replacement (with its link), then it succeeded.
    started, done = report["alerts"]
    assert "replacement started" in started["subject"]
    assert report["execution_arn"] in started["message"]
    assert "HSM replaced" in done["subject"] and new_id in done["message"]
    assert f"deleted HSM {failed['hsm_id']}" in done["message"]


def test_the_check_then_finds_the_cluster_healthy_and_stays_quiet(sandbox: Sandbox) -> None:
    fail_an_hsm(sandbox)
    assert replace_after_failure(sandbox)["status"] == "SUCCEEDED"
    check = fire_health_check(sandbox)
    assert check["status"] == "SUCCEEDED" and check["alerts"] == []
    assert check["clusters"][0]["healthy_hsms"] == check["clusters"][0]["desired_hsms"] == 2


def test_the_unhealthy_alarm_starts_the_replacement_at_once(sandbox: Sandbox) -> None:
    fail_an_hsm(sandbox)
    check = fire_unhealthy_alarm(sandbox, CLUSTER)
    assert check["trigger"] == f"alarm hsmdr-sandbox-hsm-unhealthy-{CLUSTER}"
    [arn] = check["replacements_started"]
    assert await_execution(sandbox, arn).status == "SUCCEEDED"


def test_the_check_starts_exactly_one_replacement_when_fired_twice(sandbox: Sandbox) -> None:
    fail_an_hsm(sandbox)
    first = fire_health_check(sandbox)
    second = fire_health_check(sandbox)
    alarm = fire_unhealthy_alarm(sandbox, CLUSTER)
    assert len(first["replacements_started"]) == 1
    assert second["replacements_started"] == alarm["replacements_started"] == []
    for later in (second, alarm):
        assert later["clusters"][0]["status"] == "REPLACEMENT_RUNNING"
        assert later["alerts"] == []  # the first run alerted; the workflow alerts at the end
    assert len(executions(sandbox)) == 1
    assert await_execution(sandbox, first["replacements_started"][0]).status == "SUCCEEDED"


def remove_an_hsm_by_hand(sandbox: Sandbox) -> dict[str, str]:
    hsm_id, gone = next(iter(hsms(sandbox, CLUSTER).items()))
    boto3.client("cloudhsmv2").delete_hsm(ClusterId=CLUSTER, HsmId=hsm_id)
    sandbox.world.settle()
    return {"hsm_id": hsm_id, **gone}


def test_a_missing_hsm_is_added_back_in_its_zone(sandbox: Sandbox) -> None:
    gone = remove_an_hsm_by_hand(sandbox)
    report = replace_after_failure(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert report["result"]["deleted_hsm_ids"] == []
    [new_id] = report["result"]["created_hsm_ids"]
    assert report["hsms"][new_id]["availability_zone"] == gone["availability_zone"]
    assert report["leaked_resources"]["hsms"] == [] and len(report["hsms"]) == 2


def test_the_old_ip_of_a_gone_hsm_is_reused_so_clients_keep_working(sandbox: Sandbox) -> None:
    gone = remove_an_hsm_by_hand(sandbox)
    execution = run_directly(sandbox, {"cluster_id": CLUSTER, "ip_address": gone["eni_ip"]})
    assert execution.status == "SUCCEEDED", execution.cause
    [new_id] = execution.output["created_hsm_ids"]
    assert hsms(sandbox, CLUSTER)[new_id]["eni_ip"] == gone["eni_ip"]


def test_an_ip_the_subnet_refuses_falls_back_to_a_new_one(sandbox: Sandbox) -> None:
    remove_an_hsm_by_hand(sandbox)
    execution = run_directly(sandbox, {"cluster_id": CLUSTER, "ip_address": "192.168.7.7"})
    assert execution.status == "SUCCEEDED", execution.cause
    [new_id] = execution.output["created_hsm_ids"]
    assert hsms(sandbox, CLUSTER)[new_id]["eni_ip"] != "192.168.7.7"
    assert any("192.168.7.7 was refused" in a for a in execution.output["actions"])


# Faults that can hit it ----------------------------------------------------------------


def test_throttling_and_an_internal_failure_are_absorbed(
    sandbox: Sandbox, no_retry_waits: None
) -> None:
    failed = fail_an_hsm(sandbox)
    sandbox.apply_faults(["internal-failure", "throttle"])
    report = replace_after_failure(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert_desired_all_active(report, failed)


def test_a_replacement_degraded_at_creation_is_deleted_and_retried(sandbox: Sandbox) -> None:
    failed = fail_an_hsm(sandbox)
    sandbox.apply_faults(["hsm-degraded"])
    report = replace_after_failure(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    first, second = report["result"]["created_hsm_ids"]
    assert first not in report["hsms"] and second in report["hsms"]
    assert "DiscardDegradedReplacement" in [s["state"] for s in report["timeline"]]
    assert_desired_all_active(report, failed)


def test_an_unsupported_zone_fails_after_bounded_attempts_and_keeps_the_failed_hsm(
    sandbox: Sandbox,
) -> None:
    failed = fail_an_hsm(sandbox)
    sandbox.world.faults.enable("az-unsupported", az=failed["availability_zone"])
    report = replace_after_failure(sandbox)
    assert report["status"] == "FAILED" and report["error"] == "ReplacementFailed"
    assert sandbox.world.api_calls["CreateHsm"] == 3  # hsm_replacement.max_attempts
    # Never the last capacity blindly: the DEGRADED HSM is still there, nothing else is.
    assert report["hsms"][failed["hsm_id"]]["state"] == "DEGRADED"
    assert report["hsms"].keys() == report["hsms_before"].keys()
    assert report["leaked_resources"]["hsms"] == []
    assert lock_items(sandbox) == []
    message = failure_alert(report)
    assert f"The failed HSM {failed['hsm_id']} was kept" in message
    assert "ReplacementFailed" in message and "may not support CloudHSM" in message
    # And the check does not try the same failure again: it asks a person.
    again = fire_health_check(sandbox)
    assert again["replacements_started"] == []
    [cluster] = again["clusters"]
    assert cluster["status"] == "NEEDS_ATTENTION" and "ended FAILED" in cluster["reason"]
    [alert] = again["alerts"]
    assert "NEED ATTENTION" in alert["subject"] and report["execution_arn"] in alert["message"]
    assert alert["topic"].startswith("AlertingTopic")  # a person is needed: page
    # And the next checks do not page again for the same problem (hsm_replacement.
    # escalation.repeat_after_minutes), the alarm run included; a person asking by hand still hears
    assert fire_health_check(sandbox)["alerts"] == []
    held = fire_unhealthy_alarm(sandbox, CLUSTER)
    assert held["alerts"] == [] and held["alerts_held_back"] == [CLUSTER]
    by_hand = sandbox.deployment.invoke(HEALTH_FUNCTION, {"auto_replace": False})
    assert by_hand is not None and by_hand.payload["alert_severity"] == "page"


@pytest.mark.parametrize(
    ("step", "failed_hsm_kept"),
    [
        ("create_hsm", True),
        ("check_hsm", True),
        ("delete_failed_hsm", True),
        ("check_sync", False),
    ],
)
def test_a_crash_mid_way_reports_what_exists_and_releases_the_lock(
    sandbox: Sandbox, step: str, failed_hsm_kept: bool
) -> None:
    failed = fail_an_hsm(sandbox)
    sandbox.apply_faults([f"lambda-crash:replace-hsm@{step}"])
    report = replace_after_failure(sandbox)
    assert report["status"] == "FAILED" and report["error"] == "SandboxInjectedCrash"
    assert "ReportFailure" in [s["state"] for s in report["timeline"]]
    assert_no_active_hsm_deleted(report)
    assert (failed["hsm_id"] in report["hsms"]) is failed_hsm_kept
    assert report["leaked_resources"]["hsms"] == []
    failure_alert(report)
    assert lock_items(sandbox) == []


def test_the_failure_report_deletes_a_degraded_hsm_the_run_created(sandbox: Sandbox) -> None:
    # Given a replacement that ended DEGRADED and a crash before it was discarded
    failed = fail_an_hsm(sandbox)
    sandbox.apply_faults(["hsm-degraded", "lambda-crash:replace-hsm@discard_hsm"])
    report = replace_after_failure(sandbox)
    assert report["status"] == "FAILED" and report["error"] == "SandboxInjectedCrash"
    # Then the failure path deletes it (it never recovers) and keeps the failed HSM
    message = failure_alert(report)
    [created] = [line.split()[3] for line in message.splitlines() if "- created HSM" in line]
    assert created not in report["hsms"]
    assert f"deleted HSM {created} (created by this run, DEGRADED)" in message
    assert report["hsms"][failed["hsm_id"]]["state"] == "DEGRADED"
    assert report["leaked_resources"]["hsms"] == []


def test_after_a_crash_the_next_command_finishes_the_job(sandbox: Sandbox) -> None:
    # Given a replacement that crashed after its new HSM became ACTIVE
    failed = fail_an_hsm(sandbox)
    sandbox.apply_faults(["lambda-crash:replace-hsm@delete_failed_hsm"])
    assert replace_after_failure(sandbox)["status"] == "FAILED"
    sandbox.deployment.clear_crash()
    # When the alert's next command runs, Then it only deletes the DEGRADED HSM
    execution = run_directly(sandbox, {"cluster_id": CLUSTER, "hsm_id": failed["hsm_id"]})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["created_hsm_ids"] == []
    assert execution.output["deleted_hsm_ids"] == [failed["hsm_id"]]
    assert "CreateReplacement" not in execution.entered_states()


# What it refuses -----------------------------------------------------------------------


def test_an_active_hsm_named_for_replacement_is_refused(sandbox: Sandbox) -> None:
    active = next(iter(hsms(sandbox, CLUSTER)))
    execution = run_directly(sandbox, {"cluster_id": CLUSTER, "hsm_id": active})
    assert execution.status == "FAILED" and execution.error == "HsmNotFailed"
    assert "only a DEGRADED HSM is replaced" in (execution.cause or "")
    assert execution.entered_states()[-1] == "Rejected"
    assert sandbox.world.api_calls["CreateHsm"] == sandbox.world.api_calls["DeleteHsm"] == 0
    assert lock_items(sandbox) == []


def test_a_cluster_not_in_the_config_is_never_touched(sandbox: Sandbox) -> None:
    # Given another cluster in the account with a DEGRADED HSM
    network = sandbox.networks["us-east-1"]
    other = sandbox.world.seed_cluster("us-east-1", network.subnet_ids(list(DESIRED)))
    sandbox.world.faults.enable("hsm-failure", cluster_id=other)
    before = hsms(sandbox, other)
    # When the check runs and someone starts a replacement of it by hand
    check = fire_health_check(sandbox)
    execution = run_directly(sandbox, {"cluster_id": other})
    # Then neither creates nor deletes anything
    assert check["replacements_started"] == [] and check["status"] == "SUCCEEDED"
    assert [c["cluster_id"] for c in check["clusters"]] == [CLUSTER]
    assert execution.error == "InvalidInput" and "not a protected cluster" in execution.cause
    assert sandbox.world.api_calls["CreateHsm"] == sandbox.world.api_calls["DeleteHsm"] == 0
    assert hsms(sandbox, other) == before


def test_a_second_replacement_on_a_locked_cluster_is_refused(sandbox: Sandbox) -> None:
    fail_an_hsm(sandbox)
    client = boto3.client("stepfunctions")
    arn = sandbox.deployment.state_machine_arn(replace_state_machine(sandbox))
    # The first run's new HSM takes an emulated hour: it holds the cluster, its failed
    # HSM still there, until the test moves the clock, however loaded the machine.
    sandbox.world.profile = replace(sandbox.world.profile, hsm_create=timedelta(hours=1))
    first = client.start_execution(stateMachineArn=arn, input=json.dumps({"cluster_id": CLUSTER}))[
        "executionArn"
    ]
    deadline = time.monotonic() + 30
    while not lock_items(sandbox) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run_directly(sandbox, {"cluster_id": CLUSTER})
    assert second.status == "FAILED" and second.error == "ClusterBusy"
    assert first in (second.cause or "") and "HSM replacement" in (second.cause or "")
    # The check sees the lock too, and waits quietly.
    check = fire_health_check(sandbox)
    assert check["clusters"][0]["status"] == "REPLACEMENT_RUNNING" and check["alerts"] == []
    sandbox.world.time_travel(timedelta(hours=1))
    assert await_execution(sandbox, first).status == "SUCCEEDED"
    assert lock_items(sandbox) == []


def test_a_healthy_cluster_has_nothing_to_replace(sandbox: Sandbox) -> None:
    execution = run_directly(sandbox, {"cluster_id": CLUSTER})
    assert execution.status == "FAILED" and execution.error == "NothingToReplace"
    assert sandbox.world.api_calls["CreateHsm"] == 0
    assert lock_items(sandbox) == []


# An execution that was stopped -------------------------------------------------------------


def test_an_aborted_replacement_deletes_its_degraded_hsm_releases_the_lock_and_pages(
    sandbox: Sandbox,
) -> None:
    from sandbox.stopped_scenarios import abort_when, deliver_stopped
    from stacks.names import REPLACE_HSM

    # Given a replacement whose new HSMs end DEGRADED, aborted once one has
    failed = fail_an_hsm(sandbox)
    before = set(hsms(sandbox, CLUSTER))
    sandbox.world.faults.enable("hsm-degraded", count=10)

    def created() -> dict[str, str]:
        return {
            h["HsmId"]: h["State"] for h in sandbox.world.hsms(CLUSTER) if h["HsmId"] not in before
        }

    execution = abort_when(
        sandbox,
        replace_state_machine(sandbox),
        {"cluster_id": CLUSTER, "hsm_id": failed["hsm_id"], "poll_seconds": 1},
        lambda: "DEGRADED" in created().values(),
    )
    seen = len(sandbox.messages())
    # When EventBridge delivers the ABORTED status change
    [delivery] = deliver_stopped(sandbox.deployment, execution)
    # Then no HSM the execution created is left serving or DEGRADED, the failed HSM is
    # kept (its replacement never became ACTIVE), the lock is free, and on-call is paged
    assert delivery.delivered and delivery.target == sandbox.deployment.function_arn(REPLACE_HSM)
    assert set(created().values()) <= {"DELETE_IN_PROGRESS", "DELETED"}
    assert hsms(sandbox, CLUSTER)[failed["hsm_id"]]["state"] == "DEGRADED"
    assert lock_items(sandbox) == []
    [page] = sandbox.messages()[seen:]
    assert page.subject.startswith("CloudHSM HSM replacement FAILED") and "ExecutionAborted" in (
        page.subject
    )
    assert "Its cluster lock was released." in page.message
    assert page.topic_logical_id.startswith("AlertingTopic")


def test_a_retried_create_step_adopts_the_replacement_a_lost_try_made(sandbox: Sandbox) -> None:
    from stacks.names import REPLACE_HSM

    # Given a planned replacement whose CreateHsm worked but whose answer was lost
    failed = fail_an_hsm(sandbox)
    execution = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-sandbox-replace-hsm:x"
    planned = sandbox.deployment.invoke(
        REPLACE_HSM,
        {
            "step": "validate",
            "input": {"cluster_id": CLUSTER, "hsm_id": failed["hsm_id"]},
            "execution": execution,
        },
    )
    assert planned.ok, planned.payload
    job = planned.payload
    lost = boto3.client("cloudhsmv2", region_name="us-east-1").create_hsm(
        ClusterId=CLUSTER, AvailabilityZone=job["plan"]["zone"]
    )["Hsm"]["HsmId"]
    calls = sandbox.world.api_calls["CreateHsm"]
    # When the state machine retries the step
    retried = sandbox.deployment.invoke(REPLACE_HSM, {"step": "create_hsm", "job": job})
    # Then it records that HSM instead of creating a second one
    assert retried.ok, retried.payload
    run = retried.payload["run"]
    assert run["created_hsm_ids"] == [lost] and run["hsm"]["hsm_id"] == lost
    assert sandbox.world.api_calls["CreateHsm"] == calls
    assert f"adopted HSM {lost}" in run["actions"][-1]
