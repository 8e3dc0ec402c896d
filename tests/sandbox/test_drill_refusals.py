"""The DR drill refuses bad input before anything is created, and pages: a scheduled
drill that cannot start is a finding in itself. These tests share one sandbox (a
refusal changes nothing another refusal depends on)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sandbox.drill_scenarios import drill_sandbox, run_drill
from sandbox.session import Sandbox
from tests.sandbox.drill_support import NOTHING_LEAKED, drill_templates, page, states
from tests.softhsm_support import require_softhsm

CLUSTER = "cluster-sandboxprimary"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shared() -> Iterator[Sandbox]:
    require_softhsm()
    with drill_sandbox(profile="test", templates=drill_templates()) as sandbox:
        yield sandbox


# Refused before anything is created ----------------------------------------------------------


CHANGES = ("CreateCluster", "CreateHsm", "DeleteHsm", "DeleteCluster", "DeleteBackup")


def refused(sandbox: Sandbox, execution_input: dict[str, Any]) -> dict[str, Any]:
    calls = {name: sandbox.world.api_calls[name] for name in CHANGES}
    report = run_drill(sandbox, execution_input)
    assert report["status"] == "FAILED"
    assert states(report)[-1] == "Rejected"
    assert {name: sandbox.world.api_calls[name] for name in CHANGES} == calls
    assert report["leaked_resources"] == NOTHING_LEAKED
    assert report["primary_clusters_unchanged"] is True
    assert "refused before anything was created" in page(report)["subject"]
    return report


def test_an_unknown_backup_is_refused(shared: Sandbox) -> None:
    report = refused(shared, {"backup_id": "backup-unknownbackup"})
    assert report["error"] == "BackupNotFound"


def test_a_backup_that_is_not_ready_is_refused(shared: Sandbox) -> None:
    # Given a backup deleted by hand (PENDING_DELETION, not restorable until restored)
    oldest = shared.world.backups("us-east-1")[0]
    boto3.client("cloudhsmv2", region_name="us-east-1").delete_backup(BackupId=oldest["BackupId"])
    report = refused(shared, {"backup_id": oldest["BackupId"]})
    assert report["error"] == "BackupNotReady"
    assert "PENDING_DELETION" in (report["cause"] or "")


@pytest.mark.parametrize("field", ["drill_cluster_id", "target_cluster_id"])
def test_a_production_cluster_named_as_the_drill_target_is_refused(
    shared: Sandbox, field: str
) -> None:
    report = refused(shared, {field: CLUSTER})
    assert report["error"] == "ProductionClusterRefused"
    assert "production cluster" in (report["cause"] or "")


@pytest.mark.parametrize(
    ("execution_input", "error"),
    [
        ({"cluster": "cluster-notprotectedx"}, "InvalidInput"),
        ({"source": "tape"}, "InvalidInput"),
        ({"surprise": 1}, "InvalidInput"),
        ({"poll_seconds": 0}, "InvalidInput"),
    ],
)
def test_bad_input_is_refused(shared: Sandbox, execution_input: dict[str, Any], error: str) -> None:
    assert refused(shared, execution_input)["error"] == error


def test_the_scheduled_drill_without_drill_subnets_is_refused_and_pages(shared: Sandbox) -> None:
    sandbox = shared
    # Given the config names no drills.subnets (the sandbox's subnet ids are made at run time)
    [schedule] = [s for s in sandbox.deployment.schedules() if "DrDrill" in s.logical_id]
    assert schedule.expression == "cron(0 9 1 1,4,7,10 ? *)"
    assert schedule.input_json == {"trigger": "schedule"}
    # When EventBridge Scheduler fires it
    seen = len(sandbox.messages())
    created = sandbox.world.api_calls["CreateCluster"]
    fired = sandbox.fire(schedule.logical_id)
    # Then the drill is refused before anything is created, and someone is told
    assert fired.execution is not None and fired.execution.status == "FAILED"
    assert fired.execution.error == "InvalidInput"
    assert "drills.subnets.us-west-2" in (fired.execution.cause or "")
    assert sandbox.world.api_calls["CreateCluster"] == created
    [alert] = sandbox.messages()[seen:]
    assert "refused" in (alert.subject or "")
