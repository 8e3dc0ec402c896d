from __future__ import annotations

from datetime import timedelta

from lambdas.alerting.alerts import SNS_SUBJECT_MAX
from lambdas.shared.findings import FindingCode
from lambdas.verification.alerts import verification_alert
from lambdas.verification.checks import ClusterFacts, VerificationReport, verify_cluster
from tests.lambdas.factories import CLUSTER_ID, NOW, backup, cluster, hsm, spec

RPO = timedelta(hours=24)
IN_PROGRESS_MAX = timedelta(minutes=30)


def codes(facts: ClusterFacts) -> list[FindingCode]:
    report = verify_cluster(facts, NOW, RPO, IN_PROGRESS_MAX)
    return [f.code for f in report.findings]


def test_healthy_cluster_with_fresh_backup_has_no_findings() -> None:
    facts = ClusterFacts(spec(), cluster(), backup(timedelta(hours=3)))
    report = verify_cluster(facts, NOW, RPO, IN_PROGRESS_MAX)
    assert report.findings == ()
    assert report.backup_age == timedelta(hours=3)


def test_missing_cluster_is_a_finding_not_a_crash() -> None:
    assert codes(ClusterFacts(spec(), None, None)) == [
        FindingCode.CLUSTER_NOT_FOUND,
        FindingCode.NO_READY_BACKUP,
    ]


def test_backup_older_than_rpo_names_backup_age_and_rpo() -> None:
    facts = ClusterFacts(spec(), cluster(), backup(timedelta(hours=30)))
    [finding] = verify_cluster(facts, NOW, RPO, IN_PROGRESS_MAX).findings
    assert finding.code is FindingCode.BACKUP_OLDER_THAN_RPO
    assert "backup-abcdefghijk" in finding.message
    assert "1d 6h" in finding.message and "1d" in finding.message
    assert f"hsmdr backup create --config <deployment config> --cluster {CLUSTER_ID}" in (
        finding.next_step
    )


def test_per_cluster_rpo_comes_from_the_caller() -> None:
    facts = ClusterFacts(spec(), cluster(), backup(timedelta(hours=3)))
    report = verify_cluster(facts, NOW, timedelta(hours=2), IN_PROGRESS_MAX)
    assert [f.code for f in report.findings] == [FindingCode.BACKUP_OLDER_THAN_RPO]


def test_stuck_backup_is_reported_but_recent_in_progress_is_not() -> None:
    stuck = backup(timedelta(hours=2), state="CREATE_IN_PROGRESS", backup_id="backup-stuck000000")
    fresh = backup(timedelta(minutes=5), state="CREATE_IN_PROGRESS", backup_id="backup-fresh000000")
    facts = ClusterFacts(spec(), cluster(), backup(), in_progress=(stuck, fresh))
    report = verify_cluster(facts, NOW, RPO, IN_PROGRESS_MAX)
    assert [(f.code, "backup-stuck000000" in f.message) for f in report.findings] == [
        (FindingCode.BACKUP_STUCK, True)
    ]


def test_backup_of_other_mode_cannot_restore_the_cluster() -> None:
    facts = ClusterFacts(spec(), cluster(), backup(mode="NON_FIPS"))
    assert codes(facts) == [FindingCode.BACKUP_NOT_RESTORABLE]


def test_cluster_not_active_and_drift_from_config() -> None:
    facts = ClusterFacts(
        spec(hsm_type="hsm2m.medium", mode="NON_FIPS"),
        cluster(state="DEGRADED", mode="FIPS"),
        backup(mode="FIPS"),
    )
    assert codes(facts) == [
        FindingCode.CLUSTER_NOT_ACTIVE,
        FindingCode.CLUSTER_DRIFT,
        FindingCode.BACKUP_NOT_RESTORABLE,
    ]


def test_degraded_hsm_reports_both_the_hsm_and_the_zone_gap() -> None:
    c = cluster(hsm("us-east-1a", n=1), hsm("us-east-1b", state="DEGRADED", n=2))
    facts = ClusterFacts(spec(), c, backup())
    report = verify_cluster(facts, NOW, RPO, IN_PROGRESS_MAX)
    assert [f.code for f in report.findings] == [
        FindingCode.HSM_DEGRADED,
        FindingCode.HSM_COUNT_BELOW_DESIRED,
    ]
    degraded = report.findings[0]
    assert f"hsmdr hsm replace --config <deployment config> --cluster {CLUSTER_ID}" in (
        degraded.next_step
    )
    assert "--hsm hsm-" in degraded.next_step


def test_report_status_and_alert_for_a_failing_run() -> None:
    # Given one healthy and one stale cluster
    healthy = verify_cluster(
        ClusterFacts(spec(id="cluster-healthyclstr"), cluster(), backup()),
        NOW,
        RPO,
        IN_PROGRESS_MAX,
    )
    stale = verify_cluster(
        ClusterFacts(spec(), cluster(), backup(timedelta(days=2))), NOW, RPO, IN_PROGRESS_MAX
    )
    report = VerificationReport("hsmdr-prod", NOW, (healthy, stale))
    # Then the run failed, and the alert names the stale cluster, the finding and the fix
    assert report.status == "FAILED"
    assert report.to_dict()["findings_count"] == 1
    alert = verification_alert(report)
    assert len(alert.subject) <= SNS_SUBJECT_MAX
    assert "payments (cluster-abcdefghijk)" in alert.subject
    assert "cluster-healthyclstr" not in alert.subject
    assert "[BACKUP_OLDER_THAN_RPO]" in alert.body
    assert "Next step:" in alert.body
    assert "1 of 2 protected cluster(s)" in alert.body


def test_report_of_healthy_run_succeeds() -> None:
    ok = verify_cluster(ClusterFacts(spec(), cluster(), backup()), NOW, RPO, IN_PROGRESS_MAX)
    report = VerificationReport("hsmdr-prod", NOW, (ok,))
    assert report.status == "SUCCEEDED"
    data = report.to_dict()
    assert data["clusters"][0]["latest_ready_backup"]["backup_id"] == "backup-abcdefghijk"
    assert data["clusters"][0]["backup_age_seconds"] == 7200


def test_long_subject_is_cut_to_sns_limit() -> None:
    reports = tuple(
        verify_cluster(
            ClusterFacts(spec(id=f"cluster-abcdefghij{c}", name="x" * 40), None, None),
            NOW,
            RPO,
            IN_PROGRESS_MAX,
        )
        for c in "abcd"
    )
    subject = verification_alert(VerificationReport("d", NOW, reports)).subject
    assert len(subject) == SNS_SUBJECT_MAX and subject.endswith("...")
