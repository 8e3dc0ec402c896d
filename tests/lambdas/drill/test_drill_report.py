"""The DR drill's result as pure functions: measurements, outcome, report, Markdown,
alerts, the metrics document, and how key-check results become findings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.drill.report import (
    DRILL_BACKUP_AGE,
    DRILL_HSM_HOURS,
    DRILL_RECOVERY_TIME,
    DRILL_SUCCEEDED,
    alert,
    build_report,
    emf_document,
    render_markdown,
    report_keys,
    stopped_alert,
)
from lambdas.drill.restore_steps import record_keys
from lambdas.drill.step_support import SERVICE
from lambdas.drill.watch import DRILL_SUCCEEDED as WATCHED_METRIC
from stacks.names import DR_DRILL

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:prod-dr-drill:run-1"


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def job(**run: Any) -> dict[str, Any]:
    base_run: dict[str, Any] = {
        "step": "teardown",
        "cluster": {"cluster_id": "cluster-drilldrilldr"},
        "hsms": [
            {"hsm_id": "hsm-1", "zone": "us-west-2a", "created_at": at(300), "gone_at": at(2100)}
        ],
        "findings": [],
        "error": None,
        "keys": None,
        "network": {"status": "OPEN"},
        "teardown": {"done": True, "actions": ["deleted drill cluster"], "left": []},
        "times": {
            "create_requested": at(0),
            "hsm_active": at(1500),
            "keys_verified": at(1560),
        },
    }
    base_run.update(run)
    return {
        "plan": {
            "execution": EXECUTION,
            "deployment": "prod",
            "trigger": "schedule",
            "started_at": at(0),
            "source_cluster_id": "cluster-sourcesource",
            "source": "dr-copy",
            "region": "us-west-2",
            "subnets": {"us-west-2a": "subnet-0a0a0a0a"},
            "backup": {"backup_id": "backup-abc", "create_timestamp": at(-7200)},
            "key_verification": {"configured": True, "required": True},
            "notes": [],
        },
        "run": base_run,
    }


def report(drill: dict[str, Any], *, rto: float = 60) -> dict[str, Any]:
    return build_report(
        drill, T0 + timedelta(hours=1), hsm_hour_usd=2.0, rto_minutes=rto, bucket="b"
    )


def test_measurements_of_a_passing_drill() -> None:
    document = report(job())
    measured = document["measurements"]
    assert document["status"] == "SUCCEEDED" and document["error"] == ""
    assert measured["time_to_restore_seconds"] == 1500
    assert measured["time_to_verified_keys_seconds"] == 1560
    assert measured["recovery_time_seconds"] == 1560 and measured["rto_met"] is True
    assert measured["backup_age_seconds"] == 7200
    assert measured["hsm_seconds"] == 1800 and measured["hsm_hours"] == 0.5
    assert measured["estimated_cost_usd"] == 1.0
    assert document["report"]["json_key"] == "reports/drills/2026-11-26-run-1.json"
    assert document["teardown"]["status"] == "COMPLETE"


def test_a_slow_drill_is_a_warning_not_a_failure() -> None:
    document = report(job(), rto=20)
    assert document["status"] == "SUCCEEDED"
    [slow] = document["findings"]
    assert slow["code"] == "RTO_EXCEEDED" and slow["severity"] == "warning"
    assert document["measurements"]["rto_met"] is False


def test_a_failed_step_is_the_error_even_with_key_findings() -> None:
    failed = job(
        error={"Error": "HsmCreationFailed", "Message": "3 DEGRADED"}, last_step="check_hsm"
    )
    document = report(failed)
    assert (document["status"], document["error"]) == ("FAILED", "HsmCreationFailed")
    assert "after step 'check_hsm'" in document["findings"][-1]["message"]


def test_a_key_finding_is_the_error_when_nothing_else_failed() -> None:
    missing = {"code": "KEY_MISSING", "severity": "error", "message": "k", "next_step": "n"}
    extra = {"code": "EXTRA_KEY", "severity": "warning", "message": "e", "next_step": "n"}
    document = report(job(findings=[extra, missing]))
    assert (document["status"], document["error"]) == ("FAILED", "KEY_MISSING")


def test_an_unfinished_teardown_fails_the_drill() -> None:
    document = report(job(teardown={"done": False, "remaining": ["HSM hsm-1 is being deleted"]}))
    assert (document["status"], document["error"]) == ("FAILED", "TeardownFailed")
    assert document["teardown"]["status"] == "FAILED"
    page = alert(document, "https://console")
    assert "NOT gone" in page["body"] and "hsm-1" in page["body"]


def test_an_hsm_not_yet_seen_gone_is_billed_until_now() -> None:
    running = job(hsms=[{"hsm_id": "hsm-1", "created_at": at(0), "gone_at": None}])
    assert report(running)["measurements"]["hsm_seconds"] == 3600


def test_without_key_verification_required_recovery_is_time_to_restore() -> None:
    drill = job()
    drill["plan"]["key_verification"] = {"configured": False, "required": False}
    del drill["run"]["times"]["keys_verified"]
    assert report(drill)["measurements"]["recovery_time_seconds"] == 1500


def test_markdown_and_alerts_say_what_happened() -> None:
    document = report(job())
    markdown = render_markdown(document)
    assert markdown.startswith("# DR drill SUCCEEDED: cluster-sourcesource")
    assert "| time to restore (CreateCluster to first HSM ACTIVE) | 25 min 0 s |" in markdown
    assert "UNCONFIRMED price" in markdown
    summary = alert(document, "https://console")
    assert summary["subject"] == "DR drill passed: cluster-sourcesource"
    assert "s3://b/reports/drills/2026-11-26-run-1.md" in summary["body"]
    assert len(alert(report(job(error={"Error": "X" * 200})), "u")["subject"]) <= 100


def test_metrics_carry_both_dimension_sets_the_watcher_reads_the_service_one() -> None:
    document = emf_document(report(job()), namespace="CloudHsmDr", service=SERVICE, timestamp_ms=1)
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["service"], ["service", "ClusterId"]]
    names = {m["Name"] for m in directive["Metrics"]}
    assert names == {DRILL_SUCCEEDED, DRILL_RECOVERY_TIME, DRILL_BACKUP_AGE, DRILL_HSM_HOURS}
    assert document[DRILL_SUCCEEDED] == 1.0 and document[DRILL_RECOVERY_TIME] == 1560
    # The names the drill watcher and the alarms read are the ones the drill emits
    assert WATCHED_METRIC == DRILL_SUCCEEDED and SERVICE == DR_DRILL
    json.dumps(document)  # a log line


def test_a_failed_drill_emits_zero_and_no_recovery_time() -> None:
    failed = job(error={"Error": "X", "Message": "m"})
    del failed["run"]["times"]["keys_verified"]
    document = emf_document(report(failed), namespace="CloudHsmDr", service=SERVICE)
    assert document[DRILL_SUCCEEDED] == 0.0 and DRILL_RECOVERY_TIME not in document


def test_report_keys_use_the_date_and_the_execution_name() -> None:
    assert report_keys("2026-01-02T03:04:05+00:00", EXECUTION) == (
        "reports/drills/2026-01-02-run-1.json",
        "reports/drills/2026-01-02-run-1.md",
    )


def test_a_stopped_drill_pages_with_the_clusters_to_delete() -> None:
    message = stopped_alert(EXECUTION, "TIMED_OUT", [{"cluster_id": "cluster-x", "region": "r"}])
    assert "cluster-x" in message["subject"]
    assert "delete-cluster --region r --cluster-id cluster-x" in message["body"]
    assert "nothing" in stopped_alert(EXECUTION, "ABORTED", [])["subject"]


# How the key check becomes findings (the record_keys step; no AWS call) ------------------


def recorded(drill: dict[str, Any], **event: Any) -> dict[str, Any]:
    drill["run"]["times"].pop("keys_verified", None)
    return record_keys({"step": "record_keys", "job": drill, **event})["run"]


@pytest.mark.parametrize(("required", "severity"), [(True, "error"), (False, "warning")])
def test_no_key_verification_is_a_finding_of_the_configured_severity(
    required: bool, severity: str
) -> None:
    drill = job()
    drill["plan"]["key_verification"] = {"configured": False, "required": required}
    [found] = recorded(drill)["findings"]
    assert found["code"] == "KEY_VERIFICATION_NOT_CONFIGURED" and found["severity"] == severity


def test_no_key_verification_names_the_field_that_deploys_a_verifier() -> None:
    # Given the vault's drill, whose verifier is recovery_account.key_verification
    drill = job()
    field = "recovery_account.key_verification"
    drill["plan"]["key_verification"] = {"configured": False, "required": False, "field": field}
    [found] = recorded(drill)["findings"]
    # Then the next step names that field, and nothing to switch off (it is not required)
    assert field in found["next_step"] and "require_key_verification" not in found["next_step"]
    # and the main stack's drill, required, names key_verification and how to opt out
    drill = job()
    drill["plan"]["key_verification"] = {"configured": False, "required": True}
    [found] = recorded(drill)["findings"]
    assert "the key_verification config section" in found["next_step"]
    assert "drills.require_key_verification: false" in found["next_step"]


def test_a_passing_key_check_marks_the_keys_verified() -> None:
    run = recorded(job(), keys={"status": "SUCCEEDED", "findings": [], "keys_found": 8})
    assert run["findings"] == [] and "keys_verified" in run["times"]
    assert run["keys"]["keys_found"] == 8


def test_a_failing_key_check_keeps_its_findings() -> None:
    missing = {"code": "KEY_MISSING", "severity": "error", "message": "m", "next_step": "n"}
    run = recorded(job(), keys={"status": "FAILED", "findings": [missing]})
    assert run["findings"] == [missing] and "keys_verified" not in run["times"]


def test_a_verifier_that_failed_is_a_finding() -> None:
    cause = json.dumps({"errorType": "KeyManifestNotFound", "errorMessage": "no manifest"})
    run = recorded(job(), keys_error={"Error": "KeyManifestNotFound", "Cause": cause})
    [found] = run["findings"]
    assert found["code"] == "KEY_VERIFICATION_ERROR" and "no manifest" in found["message"]
