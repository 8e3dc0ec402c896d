"""Which topic each message goes to (page or notify), and the runbook it names."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.alerting.alerts import PAGING_FINDINGS, Alert, finding_severity
from lambdas.alerting.delivery import publish
from lambdas.alerting.workflow_alerts import on_demand_failure_alert
from lambdas.shared import runbooks
from lambdas.shared.findings import Finding, FindingCode
from lambdas.shared.settings import AlertTopics
from lambdas.shared.severity import NOTIFY, PAGE
from lambdas.verification.alerts import verification_alert
from lambdas.verification.checks import ClusterFacts, VerificationReport, verify_cluster
from tests.alert_text import alert_problems
from tests.conftest import REPO_ROOT
from tests.lambdas.factories import CLUSTER_ID, NOW, backup, cluster, spec

RPO = timedelta(hours=24)
IN_PROGRESS_MAX = timedelta(minutes=30)


def finding(code: FindingCode) -> Finding:
    return Finding(code, CLUSTER_ID, "what is wrong", "what to do")


def report_of(facts: ClusterFacts) -> VerificationReport:
    return VerificationReport(
        "hsmdr-prod", NOW, (verify_cluster(facts, NOW, RPO, IN_PROGRESS_MAX),)
    )


@pytest.mark.parametrize("code", list(FindingCode))
def test_each_finding_has_a_runbook_whose_table_gives_its_severity(code: FindingCode) -> None:
    # Given the runbook the finding points to
    path = runbooks.for_finding(code.value)
    text = (REPO_ROOT / path).read_text()
    # Then that runbook's findings table has a row for it, with the same severity
    [row] = [line for line in text.splitlines() if line.startswith(f"| `{code.value}` |")]
    assert row.split("|")[2].strip() == finding_severity(finding(code))


def test_a_stale_backup_pages_and_names_its_runbook_and_command() -> None:
    # Given a cluster whose newest backup is older than the RPO
    alert = verification_alert(
        report_of(ClusterFacts(spec(), cluster(), backup(timedelta(days=2))))
    )
    # Then the message pages, and says which runbook and which command
    assert alert.severity == PAGE
    assert alert_problems(alert.body, runbook=runbooks.ON_DEMAND_BACKUP) == []


def test_drift_alone_only_notifies() -> None:
    # Given a cluster whose mode differs from the config, and nothing else wrong
    facts = ClusterFacts(spec(mode="FIPS"), cluster(mode="NON_FIPS"), backup())
    report = report_of(facts)
    assert [f.code for f in report.findings] == [FindingCode.CLUSTER_DRIFT]
    # Then the message goes to the notify contacts, with the single-HSM runbook
    alert = verification_alert(report)
    assert alert.severity == NOTIFY
    assert "Runbook: docs/runbooks/single-hsm-failure.md" in alert.body


def test_one_paging_finding_makes_the_whole_message_page() -> None:
    assert {finding_severity(finding(c)) for c in PAGING_FINDINGS} == {PAGE}
    mixed = ClusterFacts(spec(mode="FIPS"), cluster(mode="NON_FIPS"), None)
    alert = verification_alert(report_of(mixed))
    assert alert.severity == PAGE
    assert re.search(r"\[NO_READY_BACKUP\].*\n.*hsmdr backup create", alert.body)


def test_topics_fall_back_to_the_page_topic_without_a_notify_topic() -> None:
    both = AlertTopics(page="arn:page", notify="arn:notify")
    assert (both.for_severity(PAGE), both.for_severity(NOTIFY)) == ("arn:page", "arn:notify")
    assert AlertTopics(page="arn:page").for_severity(NOTIFY) == "arn:page"
    assert AlertTopics().for_severity(PAGE) is None


@mock_aws
def test_publish_sends_each_severity_to_its_own_topic() -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topics = AlertTopics(
        page=sns.create_topic(Name="page")["TopicArn"],
        notify=sns.create_topic(Name="notify")["TopicArn"],
    )
    queues = {}
    for name, arn in (("page", topics.page), ("notify", topics.notify)):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        queues[name] = url
    # When one notice and one page are published
    sent_notice = publish(Alert("drift", "body", NOTIFY), topics)
    sent_page = publish(Alert("stale", "body", PAGE), topics)
    # Then each reached its own topic only
    assert sent_notice is not None and sent_notice["topic_arn"] == topics.notify
    assert sent_page is not None and sent_page["severity"] == PAGE
    for name, subject in (("notify", "drift"), ("page", "stale")):
        messages = sqs.receive_message(QueueUrl=queues[name], MaxNumberOfMessages=10)["Messages"]
        [message] = messages
        assert json.loads(message["Body"])["Subject"] == subject


def test_nothing_is_published_without_a_topic() -> None:
    assert publish(Alert("s", "b", PAGE), AlertTopics()) is None


def on_demand_job(remaining: list[str]) -> dict[str, Any]:
    plan = {
        "cluster_id": CLUSTER_ID,
        "strategy": "cycle-hsm",
        "region": "us-east-1",
        "hsms_per_az_before": {"us-east-1a": 1, "us-east-1b": 1},
        "execution": "arn:aws:states:us-east-1:123456789012:execution:x-on-demand-backup:run",
    }
    cleanup = {"actions": ["deleted HSM hsm-abcdefghij9"], "remaining": remaining}
    return {"plan": plan, "run": {"step": "check_backup", "cleanup": cleanup}}


@pytest.mark.parametrize(
    ("remaining", "severity", "says"),
    [
        ([], NOTIFY, "The cluster has the HSMs it started with"),
        (["us-east-1a has 0 HSM(s), 1 at the start"], PAGE, "NOT back to its starting state"),
    ],
)
def test_an_on_demand_failure_pages_only_when_the_cluster_is_not_as_it_was(
    remaining: list[str], severity: str, says: str
) -> None:
    error = {"Error": "BackupTimeout", "Cause": "no READY backup"}
    alert = on_demand_failure_alert(on_demand_job(remaining), error, "https://console/x")
    assert alert["severity"] == severity and says in alert["body"]
    assert alert_problems(alert["body"], runbook=runbooks.ON_DEMAND_BACKUP) == []
