"""The DR drill state machine, as synthesized, run in the sandbox against SoftHSM2-backed
clusters: the verify-keys function checks the restored drill token for real.

Whatever happens, the drill cluster is gone at the end (nothing leaked), the production
cluster is exactly as it was, and a report says what happened.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from lambdas.drill.settings import DrillEnv
from sandbox.drill_scenarios import drill_sandbox, primaries, run_drill
from sandbox.drill_scenarios import subnets as drill_subnets
from sandbox.session import Sandbox
from stacks.names import DR_DRILL, dr_drill_state_machine_name
from tests.conftest import Synthesized
from tests.sandbox.drill_support import (
    CLUSTER,
    DR_REGION,
    NOTHING_LEAKED,
    drill_templates,
    page,
    states,
)
from tests.softhsm_support import require_softhsm

DRILL_METRICS = {
    "DrillSucceeded",
    "DrillRecoveryTimeSeconds",
    "DrillBackupAgeSeconds",
    "DrillHsmHours",
}

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    require_softhsm()
    with drill_sandbox(profile="test", templates=drill_templates()) as sandbox:
        yield sandbox


@pytest.fixture
def no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.endpoint

    # botocore's waits between retries are skipped; the retries still happen.
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _: None))


def assert_cleaned_up(report: dict[str, Any]) -> None:
    assert report["leaked_resources"] == NOTHING_LEAKED
    assert report["primary_clusters_unchanged"] is True
    assert report["teardown"]["status"] in ("COMPLETE", "COMPLETE_WITH_LEFTOVERS")


def drill_cluster_record(sandbox: Sandbox, report: dict[str, Any]) -> dict[str, Any]:
    """The drill cluster as CloudHSM still lists it (DELETED clusters stay visible a day)."""
    return sandbox.world.cluster(report["drill_cluster"]["cluster_id"])


# The happy path ------------------------------------------------------------------------


def test_drill_restores_the_newest_dr_copy_verifies_keys_and_tears_down(
    sandbox: Sandbox,
) -> None:
    # Given production clusters with READY copies in the DR region and a key manifest
    newest_copy = max(
        (b for b in sandbox.world.backups(DR_REGION) if b.get("SourceCluster") == CLUSTER),
        key=lambda b: b["CreateTimestamp"],
    )
    # When the drill runs with its defaults
    report = run_drill(sandbox)
    # Then it passes: the newest copy in the DR region, restored, every key back
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert report["backup"]["backup_id"] == newest_copy["BackupId"]
    assert report["backup"]["region"] == DR_REGION and report["backup"]["is_copy"] is True
    assert [f for f in report["findings"] if f["severity"] == "error"] == []
    keys = report["report"]["key_verification"]
    assert keys["status"] == "SUCCEEDED" and keys["keys_found"] == keys["keys_expected"] > 0
    assert keys["manifest_key"].startswith(f"manifests/{CLUSTER}/")
    # And one HSM, in an isolated cluster tagged with this execution, now gone
    [hsm] = report["drill_cluster"]["hsms"]
    assert hsm["created_at"] and hsm["gone_at"]
    cluster = drill_cluster_record(sandbox, report)
    assert cluster["State"] == "DELETED"
    tags = {t["Key"]: t["Value"] for t in cluster["TagList"]}
    assert tags["hsmdr:drill"] == report["execution_arn"]
    assert tags["managed-by"] == "cloudhsm-dr" and tags["hsmdr:source-cluster"] == CLUSTER
    assert tags["hsmdr:source-backup"] == newest_copy["BackupId"]
    assert_cleaned_up(report)
    assert report["teardown"]["status"] == "COMPLETE"
    # And the backup CloudHSM made when the drill's HSM was removed is deleted too
    drill_backups = [
        b
        for b in sandbox.world.backups(DR_REGION)
        if b.get("ClusterId") == report["drill_cluster"]["cluster_id"]
    ]
    assert drill_backups and all(b["BackupState"] == "PENDING_DELETION" for b in drill_backups)
    # And it is measured
    measured = report["measurements"]
    assert 0 < measured["time_to_restore_seconds"] <= measured["time_to_verified_keys_seconds"]
    assert measured["recovery_time_seconds"] == measured["time_to_verified_keys_seconds"]
    assert measured["rto_met"] is True
    assert measured["backup_age_seconds"] >= 2 * 3600  # the newest seeded backup: 2 h old
    assert measured["hsm_hours"] > 0
    assert measured["estimated_cost_usd"] == round(measured["hsm_hours"] * 1.85, 4)
    states_seen = states(report)
    assert states_seen[:4] == ["Start", "TeardownOnly?", "Plan", "CreateCluster"]
    assert "VerifyKeys" in states_seen and states_seen[-1] == "Succeeded"
    assert_report_in_s3(sandbox, report)
    assert_metrics_emitted(report)
    # And the summary goes to the notify contacts, not the pager
    [message] = report["alerts"]
    assert message["topic"].startswith("AlertingNotifyTopic")
    assert message["subject"] == f"DR drill passed: {CLUSTER}"
    assert "Time to restore" in message["message"]
    assert report["report_markdown_key"] in message["message"]


def assert_report_in_s3(sandbox: Sandbox, report: dict[str, Any]) -> None:
    bucket = sandbox.deployment.physical_id("DrDrillReports")
    s3 = boto3.client("s3", region_name="us-east-1")
    name = report["execution_arn"].rsplit(":", 1)[-1]
    assert report["report_key"].startswith("reports/drills/")
    assert report["report_key"].endswith(f"-{name}.json")
    stored = json.loads(s3.get_object(Bucket=bucket, Key=report["report_key"])["Body"].read())
    assert stored["status"] == "SUCCEEDED" and stored["execution"] == report["execution_arn"]
    markdown = s3.get_object(Bucket=bucket, Key=report["report_markdown_key"])["Body"].read()
    text = markdown.decode()
    assert text.startswith(f"# DR drill SUCCEEDED: {CLUSTER}")
    for heading in ("## Measurements", "## Key verification", "## Findings", "## Teardown"):
        assert heading in text
    # The bucket is versioned (the stack's setting, applied in the sandbox too)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def assert_metrics_emitted(report: dict[str, Any]) -> None:
    """One EMF document: the drill watcher and the alarms read the service dimension
    alone; the per-cluster set carries the source cluster."""
    [document] = report["metrics"]
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "CloudHsmDr"
    assert {m["Name"] for m in directive["Metrics"]} == DRILL_METRICS
    assert directive["Dimensions"] == [["service"], ["service", "ClusterId"]]
    assert document["service"] == DR_DRILL and document["ClusterId"] == CLUSTER
    assert document["DrillSucceeded"] == 1.0
    assert document["DrillHsmHours"] == report["measurements"]["hsm_hours"]
    assert document["DrillRecoveryTimeSeconds"] == report["measurements"]["recovery_time_seconds"]


def test_drill_from_the_primary_region_opens_the_network_by_security_group(
    sandbox: Sandbox,
) -> None:
    # Given the verifier runs in the primary region, When the drill restores there
    report = run_drill(sandbox, {"source": "primary"})
    # Then the verifier's group is let in by reference (same VPC region), and closed again
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert report["backup"]["region"] == "us-east-1" and report["backup"]["is_copy"] is False
    assert any("revoked the verifier's egress rule" in a for a in report["teardown"]["actions"])
    assert_cleaned_up(report)


# Infrastructure faults -----------------------------------------------------------------------


def test_throttling_and_an_internal_failure_are_absorbed(
    sandbox: Sandbox, no_retry_waits: None
) -> None:
    sandbox.apply_faults(["throttle", "internal-failure"])
    report = run_drill(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert_cleaned_up(report)


def test_a_degraded_hsm_is_discarded_and_replaced(sandbox: Sandbox) -> None:
    sandbox.apply_faults(["hsm-degraded"])
    report = run_drill(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert "DiscardHsm" in states(report)
    hsms = report["drill_cluster"]["hsms"]
    assert len(hsms) == 2 and all(h["gone_at"] for h in hsms)  # both billed, both gone
    assert_cleaned_up(report)


def test_hsms_that_always_degrade_fail_the_drill_and_the_cluster_is_still_deleted(
    sandbox: Sandbox,
) -> None:
    sandbox.world.faults.enable("hsm-degraded", count=10)
    report = run_drill(sandbox)
    assert report["status"] == "FAILED" and report["error"] == "HsmCreationFailed"
    # drills.max_hsm_attempts (3) DEGRADED HSMs in each of the drill's zones
    zones = [h["zone"] for h in report["drill_cluster"]["hsms"]]
    assert len(set(zones)) > 1 and all(zones.count(z) == 3 for z in set(zones))
    assert_cleaned_up(report)
    assert "HsmCreationFailed" in page(report)["subject"]


def test_an_unsupported_zone_moves_the_hsm_to_the_next_zone(sandbox: Sandbox) -> None:
    sandbox.apply_faults([f"az-unsupported:{DR_REGION}a"], region=DR_REGION)
    report = run_drill(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    zones = [h["zone"] for h in report["drill_cluster"]["hsms"]]
    assert zones == [f"{DR_REGION}a", f"{DR_REGION}b"]
    assert_cleaned_up(report)


def test_a_stuck_drill_backup_is_left_with_a_warning_not_waited_for(sandbox: Sandbox) -> None:
    # Given backups CloudHSM starts stay CREATE_IN_PROGRESS (the drill's own, at HSM removal)
    sandbox.apply_faults(["backup-stuck"])
    report = run_drill(sandbox)
    # Then the drill passes, the cluster is gone, and the stuck backup is reported
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert report["teardown"]["status"] == "COMPLETE_WITH_LEFTOVERS"
    [left] = [f for f in report["findings"] if f["code"] == "DRILL_BACKUP_LEFT"]
    assert left["severity"] == "warning"
    assert_cleaned_up(report)


def test_a_production_hsm_failing_during_the_drill_is_left_alone(sandbox: Sandbox) -> None:
    # Given a production HSM failed (the health check's business, not the drill's)
    sandbox.apply_faults([f"hsm-failure:{CLUSTER}"])
    before = primaries(sandbox)
    report = run_drill(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert primaries(sandbox) == before  # its DEGRADED HSM is still there, untouched
    assert "DEGRADED" in {state for _, state, _ in before[CLUSTER]["hsms"]}
    assert_cleaned_up(report)


def test_a_teardown_that_crashes_again_and_again_is_retried_until_it_finishes(
    sandbox: Sandbox,
) -> None:
    # Given the function's teardown crashes six times in a row (more than a few retries)
    sandbox.deployment.crash_function(DR_DRILL, times=6, step="teardown")
    report = run_drill(sandbox)
    # Then teardown is retried, backing off, until it finishes: nothing is left
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert_cleaned_up(report)
    assert report["teardown"]["left"] == []


def crashed_twice_more(sandbox: Sandbox, fault: str) -> Callable[[], bool]:
    """True once `fault` has fired twice more since it was last true (or since the
    start): each run is stopped while it is retrying, after two more crashes."""
    target = [2]

    def fired() -> bool:
        count = int(sandbox.faults_fired()["faults_fired"].get(fault, 0))
        if count < target[0]:
            return False
        target[0] = count + 2
        return True

    return fired


def test_a_teardown_broken_for_good_keeps_retrying_and_a_stop_still_pages(
    sandbox: Sandbox,
) -> None:
    # Given the function's teardown crashes every time: it is retried until its deadline
    # (minutes of retries), so the sandbox aborts the drill while it retries, after two
    # crashes, as it would abort any run that outlasts it
    fault = f"lambda-crash:{DR_DRILL}@teardown"
    sandbox.apply_faults([fault])
    report = run_drill(sandbox, stop_when=crashed_twice_more(sandbox, fault))
    assert report["execution_status"] == "ABORTED"
    assert "Teardown" in [s["state"] for s in report["timeline"]]  # stopped while retrying
    assert sandbox.faults_fired()["faults_fired"][fault] >= 4  # the drill's, then its run's
    # Then the stopped rule pages with the drill cluster that is left, and no message
    # carries a stack trace
    [left] = report["leaked_resources"]["clusters"]
    # Then the stopped rule starts a teardown-only run, whose teardown crashes as well,
    # so the sandbox aborts it too: a stopped teardown run starts no other
    teardown_run = report["teardown_run"]
    assert teardown_run["status"] == "ABORTED", teardown_run["error"]
    assert "Teardown" in [s["state"] for s in teardown_run["timeline"]]
    # and the pages say so: the first names the teardown run, the last the cluster left
    started, last = [a for a in report["alerts"] if not a["topic"].startswith("AlertingNotify")]
    assert "teardown run started" in (started["subject"] or "")
    assert teardown_run["execution_arn"] in started["message"]
    assert left in (last["subject"] or "") and DR_REGION in last["message"]
    assert "delete-cluster" in last["message"]
    assert all("stackTrace" not in a["message"] for a in report["alerts"])
    assert report["primary_clusters_unchanged"] is True


def _drill_hsm_active(sandbox: Sandbox) -> Any:
    def ready() -> bool:
        return any(
            h["State"] == "ACTIVE"
            for c in sandbox.world.clusters(DR_REGION)
            if c["State"] != "DELETED" and c.get("TagList")
            for h in c.get("Hsms", [])
        )

    return ready


def test_an_aborted_drill_is_torn_down_by_a_teardown_only_run(sandbox: Sandbox) -> None:
    from sandbox.drill_scenarios import drill_report, leaked, teardown_run
    from sandbox.stopped_scenarios import abort_when, deliver_stopped

    before = {r: {c["ClusterId"] for c in sandbox.world.clusters(r)} for r in (DR_REGION,)}
    primary_before = primaries(sandbox)
    # Given a drill aborted by a person with its cluster and HSM up (no teardown ran)
    execution = abort_when(
        sandbox,
        dr_drill_state_machine_name(sandbox.config.deployment_name),
        {"subnet_ids": drill_subnets(sandbox, DR_REGION), "poll_seconds": 1},
        _drill_hsm_active(sandbox),
    )
    assert leaked(sandbox, before)["clusters"] != []
    seen = len(sandbox.messages())
    # When EventBridge delivers its status change, twice (it delivers at least once)
    first, again = (deliver_stopped(sandbox.deployment, execution)[0] for _ in range(2))
    # Then one teardown-only run is started for it (the second delivery finds it)
    assert first.delivered and again.delivered
    run_arn = first.result["teardown_run"]
    assert again.result["teardown_run"] == run_arn
    run = teardown_run(sandbox, execution, 120)
    assert run is not None and run["execution_arn"] == run_arn
    states_run = [s["state"] for s in run["timeline"]]
    assert states_run[:3] == ["Start", "TeardownOnly?", "ResumeTeardown"]
    assert "Plan" not in states_run and "CreateCluster" not in states_run
    # and it tears down everything the aborted drill left, touching no production cluster
    assert leaked(sandbox, before) == NOTHING_LEAKED
    assert primaries(sandbox) == primary_before
    # and writes the aborted drill's report: FAILED because it was aborted, torn down
    report = drill_report(sandbox, execution)
    assert report is not None
    assert report["status"] == "FAILED" and report["error"] == "DrillAborted"
    assert report["teardown"]["run"] == run_arn
    assert report["teardown"]["status"] in ("COMPLETE", "COMPLETE_WITH_LEFTOVERS")
    assert run["status"] == "FAILED"  # the drill failed: its run ends in Failed, after paging
    # and the pages: "teardown run started" (once per delivery), then the drill's report
    pages = [
        m for m in sandbox.messages()[seen:] if not m.topic_logical_id.startswith("AlertingNotify")
    ]
    subjects = [m.subject or "" for m in pages]
    assert subjects[:2] == ["DR drill ABORTED: teardown run started"] * 2
    assert run_arn in pages[0].message
    assert len(pages) == 3 and "DrillAborted" in pages[2].message


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("succeeded", "ended SUCCEEDED, after its own teardown"),
        ("other machine", "is not an execution of this state machine"),
        ("garbage", "an execution ARN is expected"),
    ],
)
def test_a_teardown_only_run_refuses_before_deleting_anything(
    sandbox: Sandbox, target: str, problem: str
) -> None:
    # Given a drill that passed (its teardown ran), another state machine's execution,
    # or no ARN at all
    name = dr_drill_state_machine_name(sandbox.config.deployment_name)
    if target == "succeeded":
        done = run_drill(sandbox)
        assert done["status"] == "SUCCEEDED", (done["error"], done["cause"])
        teardown_of = done["execution_arn"]
    elif target == "other machine":
        machine = sandbox.deployment.state_machine_arn(name).replace(name, "someone-else")
        teardown_of = machine.replace(":stateMachine:", ":execution:") + ":run-1"
    else:
        teardown_of = "cluster-sandboxprimary"
    clusters_before = sandbox.world.clusters(DR_REGION) + sandbox.world.clusters("us-east-1")
    seen = len(sandbox.messages())
    # When a teardown-only run is started for it by hand
    execution = sandbox.deployment.run_state_machine(name, {"teardown_of": teardown_of})
    # Then it refuses, deletes nothing and pages with why
    assert execution.status == "FAILED" and execution.error == "InvalidInput"
    assert problem in (execution.cause or "")
    assert sandbox.world.clusters(DR_REGION) + sandbox.world.clusters("us-east-1") == (
        clusters_before
    )
    [refused] = sandbox.messages()[seen:]
    assert refused.subject == "DR drill teardown run refused: nothing was deleted"
    assert problem in refused.message


def test_the_report_of_a_teardown_that_failed_names_what_still_exists(sandbox: Sandbox) -> None:
    from lambdas.shared.executions import last_job
    from sandbox.stopped_scenarios import abort_when

    # Given a drill stopped with its cluster and HSM up, whose teardown then failed
    # (a crash: the error's Cause is a Lambda error with a stack trace)
    def hsm_active() -> bool:
        return any(
            h["State"] == "ACTIVE"
            for c in sandbox.world.clusters(DR_REGION)
            if c["State"] != "DELETED" and c.get("TagList")
            for h in c.get("Hsms", [])
        )

    execution = abort_when(
        sandbox,
        dr_drill_state_machine_name(sandbox.config.deployment_name),
        {"subnet_ids": drill_subnets(sandbox, DR_REGION), "poll_seconds": 1},
        hsm_active,
    )
    _, job = last_job(boto3.client("stepfunctions", region_name="us-east-1"), execution)
    assert job is not None
    crash = {
        "Error": "SandboxInjectedCrash",
        "Cause": json.dumps(
            {
                "errorMessage": "teardown crashed",
                "errorType": "SandboxInjectedCrash",
                "stackTrace": ['  File "/var/task/lambdas/drill/handler.py", line 1'],
            }
        ),
    }
    # When the report step runs after the failed teardown
    result = sandbox.deployment.invoke(
        DR_DRILL, {"step": "report", "job": job, "teardown_error": crash}
    )
    # Then it names exactly what exists now, read from CloudHSM, and no stack trace
    assert result.ok, result.payload
    cluster_id = job["run"]["cluster"]["cluster_id"]
    live = [h for h in sandbox.world.hsms(cluster_id) if h["State"] != "DELETED"]
    group = job["run"]["cluster"]["security_group"]
    *clusters_and_hsms, rule = result.payload["teardown"]["left"]
    assert clusters_and_hsms == [
        f"drill cluster {cluster_id} (ACTIVE) in {DR_REGION}",
        *[f"HSM {h['HsmId']} ({h['State']}) of drill cluster {cluster_id}" for h in live],
    ]
    # and the verifier's rule to the drill cluster, which OpenNetwork added
    assert rule.startswith(f"the verifier's egress rule to the drill cluster's group {group} ")
    assert result.payload["teardown"]["status"] == "FAILED"
    body = result.payload["alert"]["body"]
    assert cluster_id in body and "stackTrace" not in body and ".py" not in body


# Teardown never touches a production cluster -----------------------------------------------


def test_teardown_refuses_a_production_cluster_even_when_the_job_names_it(
    sandbox: Sandbox,
) -> None:
    # Given a job whose recorded drill cluster is the production cluster, and the
    # production cluster even carries this execution's drill tag (tampered by hand)
    execution = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-sandbox-dr-drill:evil"
    client = boto3.client("cloudhsmv2", region_name="us-east-1")
    client.tag_resource(ResourceId=CLUSTER, TagList=[{"Key": "hsmdr:drill", "Value": execution}])
    before = primaries(sandbox)
    job = forged_job(execution, cluster_id=CLUSTER, region="us-east-1")
    # When the drill function's teardown step runs on it
    result = sandbox.deployment.invoke(DR_DRILL, {"step": "teardown", "job": job})
    # Then it refuses, and nothing of the production cluster was deleted
    assert result.error_type == "NotOwnedByThisDrill"
    assert "production cluster" in (result.error_message or "")
    assert sandbox.world.api_calls["DeleteHsm"] == 0
    assert sandbox.world.api_calls["DeleteCluster"] == 0
    assert primaries(sandbox) == before


def test_teardown_refuses_a_cluster_tagged_for_another_execution(sandbox: Sandbox) -> None:
    # Given a non-production cluster created by another drill execution
    other = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-sandbox-dr-drill:other"
    network = sandbox.networks["us-east-1"]
    stranger = sandbox.world.seed_cluster(
        "us-east-1",
        network.subnet_ids(["us-east-1c"]),
        tags={"hsmdr:drill": other, "hsmdr:deployment": "hsmdr-sandbox"},
    )
    mine = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-sandbox-dr-drill:mine"
    result = sandbox.deployment.invoke(
        DR_DRILL,
        {"step": "teardown", "job": forged_job(mine, cluster_id=stranger, region="us-east-1")},
    )
    assert result.error_type == "NotOwnedByThisDrill"
    assert sandbox.world.cluster(stranger)["State"] == "ACTIVE"
    assert all(h["State"] == "ACTIVE" for h in sandbox.world.hsms(stranger))


def forged_job(execution: str, *, cluster_id: str, region: str) -> dict[str, Any]:
    return {
        "plan": {
            "execution": execution,
            "region": region,
            "teardown_timeout_minutes": 5,
            "subnet_cidrs": [],
        },
        "run": {
            "step": "record_keys",
            "cluster": {"cluster_id": cluster_id, "region": region, "security_group": None},
            "hsms": [],
            "teardown": None,
            "error": None,
            "times": {},
        },
    }


# A drill that timed out or was aborted ---------------------------------------------------------


def test_an_aborted_drill_pages_with_the_drill_cluster_to_delete(sandbox: Sandbox) -> None:
    # Given a drill cluster an aborted execution left behind
    execution = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-sandbox-dr-drill:gone"
    network = sandbox.networks[DR_REGION]
    left = sandbox.world.seed_cluster(
        DR_REGION, network.subnet_ids([f"{DR_REGION}a"]), tags={"hsmdr:drill": execution}
    )
    seen = len(sandbox.messages())
    # When EventBridge delivers the execution's ABORTED status change to the function
    event = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {"executionArn": execution, "status": "ABORTED"},
    }
    result = sandbox.deployment.invoke(DR_DRILL, event)
    # Then it pages, naming the cluster and how to delete it
    assert result.ok and result.payload["left"] == [{"cluster_id": left, "region": DR_REGION}]
    [alert] = sandbox.messages()[seen:]
    assert left in (alert.subject or "") and f"delete-cluster --region {DR_REGION}" in (
        alert.message
    )


# Without key verification deployed -------------------------------------------------------------


def test_without_key_verification_the_drill_fails_with_that_finding_and_tears_down(
    synthesized: Synthesized,
) -> None:
    # Given a drill that requires a key check no function is deployed for: validation
    # refuses that config, so the synthesized settings are edited to reach the guard the
    # drill keeps at run time
    template = json.loads(json.dumps(synthesized.template))
    for resource in template["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if isinstance(variables.get(DrillEnv.SETTINGS), str):
            settings = json.loads(variables[DrillEnv.SETTINGS])
            assert settings["key_verification"] is False
            settings["require_key_verification"] = True
            variables[DrillEnv.SETTINGS] = json.dumps(settings)
    with Sandbox(profile="test", template=template) as sandbox:
        sandbox.seed_protected_clusters()
        execution = sandbox.deployment.run_state_machine(
            dr_drill_state_machine_name(sandbox.config.deployment_name),
            {
                "subnet_ids": [
                    sandbox.networks[DR_REGION].subnets[z]
                    for z in sorted(sandbox.networks[DR_REGION].subnets)
                ],
                "poll_seconds": 1,
            },
            timeout=120,
        )
        # Then the restore ran, the drill failed for want of a key check, nothing is left
        assert execution.status == "FAILED"
        assert execution.error == "KEY_VERIFICATION_NOT_CONFIGURED"
        assert "RecordSkippedKeys" in execution.entered_states()
        live = [c for c in sandbox.world.clusters(DR_REGION) if c["State"] != "DELETED"]
        assert live == []
        # And by default (drills.delete_drill_backups false) the drill cluster's own
        # backup is kept for a person to delete: only the copy job deletes backups
        [drill_cluster] = [c for c in sandbox.world.clusters(DR_REGION) if c["State"] == "DELETED"]
        kept = [
            b
            for b in sandbox.world.backups(DR_REGION)
            if b.get("ClusterId") == drill_cluster["ClusterId"]
        ]
        assert kept and all(b["BackupState"] == "READY" for b in kept)
        assert sandbox.world.api_calls["DeleteBackup"] == 0
