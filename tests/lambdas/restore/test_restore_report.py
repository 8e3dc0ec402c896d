"""The restore's report and messages: RPO, RTO, time to full HA, what clients must do,
and on failure what exists (nothing deleted) and how to resume."""

from __future__ import annotations

from typing import Any

from lambdas.restore.report import (
    KEY_CHECK_NOT_RUN,
    failure_alert,
    failure_report,
    final_report,
    phase_timings,
    service_restored_alert,
    success_alert,
)
from lambdas.restore.report_html import bars as restore_bars
from lambdas.restore.report_html import render_html as restore_html
from lambdas.shared.html_report import DISCARDED
from tests.lambdas.factories import NOW, cluster, hsm

EXECUTION = "arn:aws:states:us-west-2:123456789012:execution:dep-restore-cluster:x"


def job(**run: Any) -> dict[str, Any]:
    return {
        "plan": {
            "restore_id": "dr-1",
            "execution": EXECUTION,
            "region": "us-west-2",
            "source_cluster_id": "cluster-abcdefghijk",
            "source_label": "payments (cluster-abcdefghijk)",
            "backup": {
                "backup_id": "backup-abcdefghijk",
                "create_timestamp": "2026-11-26T10:00:00+00:00",
            },
            "hsm_count": 2,
            "adopted": False,
            "notes": ["a plan note"],
        },
        "run": {
            "times": {
                "started": "2026-11-26T12:00:00+00:00",
                "identified": "2026-11-26T12:00:01+00:00",
                "cluster_active": "2026-11-26T12:05:01+00:00",
                "first_hsm_active": "2026-11-26T12:20:01+00:00",
                "service_restored": "2026-11-26T12:20:03+00:00",
                "verified": "2026-11-26T12:20:04+00:00",
                "ha_reached": "2026-11-26T12:35:04+00:00",
            },
            "created_hsm_ids": ["hsm-abcdefghij1", "hsm-abcdefghij2"],
            "removed_hsm_ids": [],
            "hsms": {"hsm-abcdefghij1": {"availability_zone": "us-west-2a"}},
            "notes": [],
            "published": {"path": "/hsmdr/dep/restored/cluster-abcdefghijk/", "trust_anchor": {}},
            **run,
        },
    }


def test_phases_are_timed_from_the_milestones() -> None:
    steps = phase_timings(job()["run"]["times"])
    assert [s["step"] for s in steps] == [
        "identify backup",
        "create cluster",
        "first HSM",
        "publish client configuration",
        "verify recovery",
        "remaining HSMs",
        "final report",  # started, not ended: no duration yet
    ]
    assert [s["seconds"] for s in steps] == [1.0, 300.0, 900.0, 2.0, 1.0, 900.0, None]


def test_final_report_has_rpo_rto_full_ha_and_the_new_cluster() -> None:
    restored = cluster(
        hsm("us-west-2a", n=1), hsm("us-west-2b", n=2), cluster_id="cluster-newnewnewne"
    )
    report = final_report(job(), restored, NOW)
    assert report["rpo_seconds"] == 7200.0  # backup 10:00, restore started 12:00
    assert report["rto_seconds"] == 1201.0
    assert report["time_to_full_ha_seconds"] == 2104.0
    assert report["cluster_id"] == "cluster-newnewnewne"
    assert [h["eni_ip"] for h in report["hsms"]] == ["10.0.1.10", "10.0.2.10"]
    assert report["key_verification"] == KEY_CHECK_NOT_RUN
    assert report["steps"][-1]["step"] == "final report"
    assert report["notes"] == ["a plan note"]


def test_service_restored_message_tells_clients_what_to_do() -> None:
    alert = service_restored_alert(job(), "cluster-newnewnewne", ["10.0.1.5"], "sg-0123")
    assert (
        alert["subject"] == "CloudHSM service restored: cluster-abcdefghijk -> cluster-newnewnewne"
    )
    body = alert["body"]
    assert "Time to restore service: 20m 1s" in body
    assert "configure-pkcs11 -a 10.0.1.5" in body
    assert "--cluster-id cluster-newnewnewne --region us-west-2" in body
    assert "sg-0123" in body and "adds 1 more HSM(s)" in body
    assert "--path /hsmdr/dep/restored/cluster-abcdefghijk/" in body


def test_success_message_warns_when_announced_ips_changed() -> None:
    restored = cluster(hsm("us-west-2a", n=1), cluster_id="cluster-newnewnewne")
    changed = job(published={"ips_changed_since_service_restored": True, "trust_anchor": {}})
    report = final_report(changed, restored, NOW)
    body = success_alert(report, changed, "https://console/x")["body"]
    assert "HSM IPs CHANGED" in body
    assert "achieved RPO 2h 0m" in body and "Service restored (RTO): 20m 1s" in body
    assert KEY_CHECK_NOT_RUN in body and "https://console/x" in body
    unchanged = final_report(job(), restored, NOW)
    assert "CHANGED" not in success_alert(unchanged, job(), "u")["body"]


def test_failure_after_creation_lists_what_exists_and_how_to_resume() -> None:
    left = cluster(hsm("us-west-2a", state="DEGRADED", n=1), cluster_id="cluster-newnewnewne")
    failing = job(step="check_hsm")
    error = {"Error": "HsmCreationFailed", "Cause": '{"errorMessage": "3 HSMs in a row"}'}
    report = failure_report(failing, error, [left], NOW)
    assert report["error"] == "HsmCreationFailed" and report["message"] == "3 HSMs in a row"
    assert report["existing"][0]["hsms"][0]["state"] == "DEGRADED"
    alert = failure_alert(report, {"source_cluster_id": "cluster-abcdefghijk"}, "https://c/x")
    body = alert["body"]
    assert "nothing was deleted" in body and "cluster cluster-newnewnewne ACTIVE" in body
    assert "--restore-id dr-1 --source-cluster cluster-abcdefghijk --follow" in body
    assert "Service was restored after 20m 1s" in body
    assert alert["subject"] == "Restore FAILED: cluster-abcdefghijk: HsmCreationFailed"


def test_a_refusal_says_nothing_was_created() -> None:
    error = {"Error": "BackupNotRestorable", "Cause": "backup-x is DELETED"}
    report = failure_report({}, error, [], NOW)
    alert = failure_alert(report, {"backup_id": "backup-abcdefghijk", "region": "us-west-2"}, "u")
    assert "Nothing was created by this execution." in alert["body"]
    assert "--region us-west-2 --backup-id backup-abcdefghijk" in alert["body"]
    assert report["failed_after_step"] == "identify"


def test_a_failure_report_carries_what_its_stored_page_draws_and_says_where_it_is() -> None:
    # Given a restore that failed after its first HSM, one HSM discarded on the way
    failing = job(
        step="check_hsm",
        removed_hsm_ids=["hsm-abcdefghij1"],
        hsms={
            "hsm-abcdefghij1": {
                "availability_zone": "us-west-2a",
                "created_at": "2026-11-26T12:05:02+00:00",
                "degraded_at": "2026-11-26T12:10:00+00:00",
                "removed_at": "2026-11-26T12:10:01+00:00",
            }
        },
    )
    error = {"Error": "HsmTimeout", "Cause": "still CREATE_IN_PROGRESS"}
    report = failure_report(failing, error, [], NOW)
    # Then it names the execution, the phases it went through and each HSM's life
    assert report["execution"] == EXECUTION
    assert report["rpo_seconds"] == 7200.0
    assert [s["step"] for s in report["steps"]][:3] == [
        "identify backup",
        "create cluster",
        "first HSM",
    ]
    assert report["hsm_timeline"][0]["hsm_id"] == "hsm-abcdefghij1"
    page = restore_html(report)
    assert "HsmTimeout" in page and "hsm-abcdefghij1" in page
    assert {b.kind for b in restore_bars(report) if b.label.startswith("HSM ")} == {DISCARDED}
    # and its message says where the stored report is (or why it is not there)
    stored = {"bucket": "b", "json_key": "k.json", "html_key": "k.html"}
    body = failure_alert({**report, "report_location": stored}, {}, "u")["body"]
    assert "Report (JSON and HTML): s3://b/k.html" in body
    body = failure_alert({**report, "report_location": {"error": "AccessDenied"}}, {}, "u")["body"]
    assert "Report not written to the reports bucket: AccessDenied" in body
