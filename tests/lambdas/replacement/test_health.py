"""The health check's decisions, its run with fake AWS calls, and its alert. No AWS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lambdas.replacement.alerts import health_alert
from lambdas.replacement.health import (
    BUSY,
    CHANGING,
    HEALTHY,
    NEEDS_ATTENTION,
    REPLACEMENT_RUNNING,
    REPLACEMENT_STARTED,
    assess,
    cluster_of_alarm,
    decide,
    execution_name,
    unhealthy_alarm_name,
)
from lambdas.replacement.health_run import run_health_check
from lambdas.replacement.replace import Target
from lambdas.shared.errors import CloudHsmAccessDenied
from lambdas.shared.executions import ExecutionView, LockView
from lambdas.shared.models import Cluster
from tests.lambdas.factories import CLUSTER_ID, NOW, cluster, hsm, spec

A, B = "us-east-1a", "us-east-1b"
FAILED = "hsm-abcdefghij1"


def degraded() -> Cluster:
    return cluster(hsm(A, state="DEGRADED", n=1), hsm(B, n=2))


def decision(c: Cluster | None, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"auto_replace": True, "lock": None, "recent": (), "now": NOW}
    options.update(kwargs)
    return decide(assess(spec(), c), **options)


def execution(name: str, status: str, age: timedelta = timedelta(minutes=30)) -> ExecutionView:
    arn = f"arn:aws:states:us-east-1:123456789012:execution:x-replace-hsm:{name}"
    return ExecutionView(name, arn, status, NOW - age)


def test_metrics_count_active_hsms_up_to_each_zones_desired_number() -> None:
    # A spare HSM in 1b must not hide the gap in 1a.
    health = assess(spec(), cluster(hsm(A, state="DEGRADED", n=1), hsm(B, n=2), hsm(B, n=3)))
    assert (health.desired_hsms, health.healthy_hsms, health.degraded_hsms) == (2, 1, 1)
    assert assess(spec(), None).healthy_hsms == 0


def test_healthy_cluster_needs_nothing() -> None:
    assert decision(cluster()).status == HEALTHY


def test_degraded_hsm_starts_a_replacement_with_a_bucketed_name() -> None:
    found = decision(degraded())
    assert found.status == REPLACEMENT_STARTED and found.start
    assert found.target.hsm.hsm_id == FAILED
    assert found.execution_name.startswith(f"{CLUSTER_ID}-{FAILED}-")
    # Two runs minutes apart in the same bucket name the same execution: one start.
    assert decision(degraded(), now=NOW + timedelta(minutes=1)).execution_name == (
        found.execution_name
    )
    assert len(found.execution_name) <= 80


def test_missing_hsm_is_named_by_its_zone() -> None:
    found = decision(cluster(hsm(B, n=2)))
    assert found.status == REPLACEMENT_STARTED
    assert found.target.hsm is None and found.execution_name.startswith(f"{CLUSTER_ID}-{A}-")


def test_a_held_lock_means_wait_quietly() -> None:
    replacing = LockView("arn:execution:1", "HSM replacement", NOW)
    assert decision(degraded(), lock=replacing).status == REPLACEMENT_RUNNING
    backing_up = LockView("arn:execution:2", "on-demand backup", NOW)
    assert decision(degraded(), lock=backing_up).status == BUSY


def test_a_running_replacement_of_the_cluster_means_wait() -> None:
    running = execution(f"{CLUSTER_ID}-{FAILED}-1", "RUNNING")
    assert decision(degraded(), recent=[running]).status == REPLACEMENT_RUNNING


def test_hsms_in_transit_mean_wait_aws_may_be_replacing_it() -> None:
    c = cluster(hsm(A, state="CREATE_IN_PROGRESS", n=1), hsm(B, n=2))
    assert decision(c).status == CHANGING


def test_auto_replace_off_asks_a_person() -> None:
    found = decision(degraded(), auto_replace=False)
    assert found.status == NEEDS_ATTENTION and not found.start
    assert "auto_replace" in found.reason


def test_a_failed_replacement_is_not_retried_automatically_for_a_day() -> None:
    failed = execution(f"{CLUSTER_ID}-{FAILED}-1", "FAILED")
    found = decision(degraded(), recent=[failed])
    assert found.status == NEEDS_ATTENTION and not found.start
    assert found.related_execution == failed
    # A failure of another HSM does not block this one.
    other = execution(f"{CLUSTER_ID}-hsm-abcdefghij7-1", "FAILED")
    assert decision(degraded(), recent=[other]).start
    # A day later it is tried again.
    old = execution(f"{CLUSTER_ID}-{FAILED}-1", "FAILED", age=timedelta(hours=25))
    assert decision(degraded(), recent=[old]).start


def test_missing_cluster_asks_a_person() -> None:
    found = decision(None)
    assert found.status == NEEDS_ATTENTION and "not found" in found.reason


def test_cluster_that_cannot_take_hsms_asks_a_person() -> None:
    found = decision(cluster(hsm(B, n=2), state="UPDATE_IN_PROGRESS"))
    assert found.status == NEEDS_ATTENTION and "UPDATE_IN_PROGRESS" in found.reason


def test_alarm_names_map_back_to_their_cluster() -> None:
    name = unhealthy_alarm_name("prod", CLUSTER_ID)
    assert cluster_of_alarm(name, ["cluster-otherxxxxxxx", CLUSTER_ID]) == CLUSTER_ID
    assert cluster_of_alarm("someone-elses-alarm", [CLUSTER_ID]) is None


def test_execution_name_uses_only_allowed_characters() -> None:
    name = execution_name(CLUSTER_ID, Target(A), NOW)
    assert all(ch.isalnum() or ch in "-_" for ch in name)


# The run ---------------------------------------------------------------------------


class FakeGateway:
    def __init__(self, clusters: list[Cluster], fail: bool = False) -> None:
        self.clusters, self.fail = clusters, fail

    def find_clusters(self, ids: list[str]) -> dict[str, Cluster]:
        if self.fail:
            raise CloudHsmAccessDenied("no DescribeClusters")
        return {c.cluster_id: c for c in self.clusters if c.cluster_id in ids}


def run(clusters: list[Cluster], *, fail: bool = False, **kwargs: Any) -> Any:
    started: list[tuple[str, dict[str, Any]]] = []

    def start(name: str, data: dict[str, Any]) -> tuple[str, bool]:
        started.append((name, data))
        return f"arn:aws:states:us-east-1:1:execution:m:{name}", True

    options: dict[str, Any] = {
        "deployment_name": "prod",
        "trigger": "schedule",
        "auto_replace": True,
        "gateway_for": lambda _region: FakeGateway(clusters, fail),
        "lock_of": lambda _id: None,
        "recent": list,
        "start": start,
        "now": NOW,
    }
    options.update(kwargs)
    return run_health_check([spec()], **options), started


def test_run_starts_one_replacement_and_alerts_with_its_link() -> None:
    report, started = run([degraded()])
    [(name, data)] = started
    assert data == {"cluster_id": CLUSTER_ID, "trigger": "health-check", "hsm_id": FAILED}
    assert report.status == "FAILED"
    assert report.to_dict()["replacements_started"] == [
        f"arn:aws:states:us-east-1:1:execution:m:{name}"
    ]
    alert = health_alert(report)
    assert "replacement started" in alert.subject and len(alert.subject) <= 100
    assert "REPLACEMENT STARTED" in alert.body and name in alert.body
    assert f"HSM {FAILED} in {A} (10.0.1.10) is DEGRADED" in alert.body


def test_healthy_run_reads_no_lock_and_no_execution() -> None:
    def never(*_: Any) -> Any:
        raise AssertionError("not needed for a healthy cluster")

    report, started = run([cluster()], lock_of=never, recent=never, start=never)
    assert report.status == "SUCCEEDED" and not report.alerting and started == []


def test_a_duplicate_start_is_quiet() -> None:
    report, _ = run([degraded()], start=lambda name, _data: (f"arn:execution:{name}", False))
    [entry] = report.entries
    assert entry.decision.status == REPLACEMENT_RUNNING and not report.alerting


def test_a_failed_start_is_reported_not_raised() -> None:
    def refuse(_name: str, _data: dict[str, Any]) -> tuple[str, bool]:
        raise RuntimeError("AccessDenied on StartExecution")

    report, _ = run([degraded()], start=refuse)
    [entry] = report.entries
    assert entry.decision.status == NEEDS_ATTENTION
    assert "AccessDenied on StartExecution" in health_alert(report).body


def test_an_unreadable_region_is_an_error_not_a_crash() -> None:
    report, _ = run([degraded()], fail=True)
    assert report.status == "FAILED" and report.entries == ()
    assert "CloudHsmAccessDenied" in report.errors[0]


def test_needs_attention_alert_gives_the_next_command() -> None:
    report, started = run([degraded()], auto_replace=False)
    assert started == []
    body = health_alert(report).body
    assert (
        f"hsmdr hsm replace --config <deployment config> --cluster {CLUSTER_ID} --hsm {FAILED}"
        in body
    )


@pytest.mark.parametrize("status", [BUSY, REPLACEMENT_RUNNING])
def test_work_in_progress_is_not_alerted(status: str) -> None:
    purpose = "on-demand backup" if status == BUSY else "HSM replacement"
    report, started = run([degraded()], lock_of=lambda _id: LockView("arn:x", purpose, NOW))
    assert started == [] and report.alerting == ()
    assert report.entries[0].decision.status == status


# The event ------------------------------------------------------------------------


def test_events_schedule_alarm_and_operator() -> None:
    from lambdas.replacement.health_check_handler import parse_request
    from lambdas.replacement.settings import ReplacementSettings
    from lambdas.shared.errors import InvalidInput
    from lambdas.shared.settings import VerificationSettings

    settings = VerificationSettings("prod", (spec(),), 24, 180)
    on, off = ReplacementSettings(auto_replace=True), ReplacementSettings(auto_replace=False)
    scheduled = parse_request({"source": "schedule"}, settings, on)
    assert (scheduled.cluster_ids, scheduled.trigger, scheduled.auto_replace) == (
        None,
        "schedule",
        True,
    )
    alarm = {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": unhealthy_alarm_name("prod", CLUSTER_ID)},
    }
    assert parse_request(alarm, settings, on).cluster_ids == (CLUSTER_ID,)
    # An alarm it cannot map still checks every cluster: a page is never ignored.
    alarm["detail"] = {"alarmName": "renamed-by-hand"}
    assert parse_request(alarm, settings, on).cluster_ids is None
    # The event can turn automatic replacement off for a run, never on.
    assert not parse_request({"auto_replace": True}, settings, off).auto_replace
    assert not parse_request({"auto_replace": False}, settings, on).auto_replace
    with pytest.raises(InvalidInput, match="cluster_ids"):
        parse_request({"cluster_ids": ["cluster-notprotected1"]}, settings, on)
    with pytest.raises(InvalidInput, match="publish_alert"):
        parse_request({"publish_alert": "yes"}, settings, on)
