"""What the on-call engineer reads about copies: finding texts, alerts, request parsing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lambdas.alerting.alerts import SNS_SUBJECT_MAX
from lambdas.backups.copy_alerts import copy_job_alert
from lambdas.backups.copy_handler import parse_request
from lambdas.backups.copy_report import ClusterResult, CopyJobReport
from lambdas.shared.copies import region_copy_status
from lambdas.shared.errors import InvalidInput
from lambdas.shared.findings import FindingCode, copy_findings
from lambdas.shared.models import Backup
from lambdas.shared.settings import VerificationSettings
from tests.lambdas.factories import CLUSTER_ID, NOW, spec

STUCK_AFTER = timedelta(hours=4)
LIMIT = timedelta(hours=52)


def copy(
    age: timedelta,
    state: str = "READY",
    copied_ago: timedelta | None = None,
    cluster_id: str = CLUSTER_ID,
) -> Backup:
    created = NOW - age
    return Backup(
        backup_id="backup-thecopy2345",
        state=state,
        create_timestamp=created,
        copy_timestamp=NOW - copied_ago if copied_ago else created,
        source_backup="backup-thesource23",
        source_cluster=cluster_id,
    )


def findings_for(*copies: Backup, missing_after: timedelta | None = LIMIT) -> list[str]:
    status = region_copy_status(CLUSTER_ID, "us-west-2", copies, NOW, STUCK_AFTER)
    return [
        f"{f.code}|{f.message}|{f.next_step}"
        for f in copy_findings(spec(), status, NOW, STUCK_AFTER, missing_after)
    ]


def test_a_fresh_ready_copy_is_no_finding() -> None:
    assert findings_for(copy(timedelta(hours=3))) == []


def test_failed_copy_names_both_backups_the_region_and_the_command() -> None:
    [text] = findings_for(copy(timedelta(hours=3), "DELETED"), missing_after=None)
    code, message, step = text.split("|")
    assert code == FindingCode.COPY_FAILED
    assert "backup-thecopy2345 of backup backup-thesource23 of payments" in message
    assert "to us-west-2 ended DELETED" in message
    assert f"hsmdr backup copy --config <deployment config> --cluster {CLUSTER_ID}" in step
    assert "--region us-west-2 --filters sourceBackupIds=backup-thesource23" in step


def test_stuck_copy_says_how_long_and_what_to_use_meanwhile() -> None:
    stuck = copy(timedelta(days=2), "CREATE_IN_PROGRESS", copied_ago=timedelta(hours=5))
    [text] = findings_for(stuck, missing_after=None)
    code, message, step = text.split("|")
    assert code == FindingCode.COPY_STUCK and "longer than 4h." in message
    assert "hsmdr backup list" in step and "--region us-west-2" in step


def test_missing_copy_states_the_age_and_the_allowed_slack() -> None:
    [text] = findings_for(copy(timedelta(hours=60)))
    code, message, _ = text.split("|")
    assert code == FindingCode.COPY_MISSING
    assert "backup-thecopy2345, is 2d 12h old" in message
    assert "at most 2d 4h old (RPO + one copy interval" in message
    [none] = findings_for()
    assert "us-west-2 holds no READY copy of payments" in none


def test_copy_job_alert_groups_findings_and_fits_sns_subject_limits() -> None:
    many = tuple(spec(id=f"cluster-abcdefghij{n}", name="x" * 30) for n in range(5))
    results = []
    for cluster_spec in many:
        result = ClusterResult(cluster_spec)
        status = region_copy_status(
            cluster_spec.id,
            "us-west-2",
            [copy(timedelta(hours=3), "DELETED", cluster_id=cluster_spec.id)],
            NOW,
            STUCK_AFTER,
        )
        result.findings.extend(copy_findings(cluster_spec, status, NOW, STUCK_AFTER, None))
        results.append(result)
    alert = copy_job_alert(CopyJobReport("hsmdr-prod", NOW, False, tuple(results)))
    assert len(alert.subject) <= SNS_SUBJECT_MAX and alert.subject.endswith("...")
    assert alert.subject.startswith("[hsmdr-prod] CloudHSM backup copies FAILED:")
    assert alert.body.count("[COPY_FAILED]") == 5
    assert alert.body.count("Next step:") == 5
    assert "found 5 problem(s) on 5 of 5 protected cluster(s)" in alert.body


def test_copy_request_is_parsed_strictly() -> None:
    settings = VerificationSettings("d", (spec(),), 24, 60)
    assert parse_request({"source": "schedule"}, settings).dry_run is False
    request = parse_request({"dry_run": True, "cluster_ids": [CLUSTER_ID]}, settings)
    assert request.dry_run and request.cluster_ids == (CLUSTER_ID,)
    with pytest.raises(InvalidInput, match="dry_run: must be true or false"):
        parse_request({"dry_run": "yes"}, settings)
    with pytest.raises(InvalidInput, match="not protected by this deployment"):
        parse_request({"cluster_ids": ["cluster-notprotected"]}, settings)
