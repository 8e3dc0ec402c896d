"""The DR drill when the restore lost keys, and when the drill function crashes in any
step: the drill fails with the right error and the drill cluster is still torn down.

These drills run one after another in one sandbox (faults cleared between them): each
must leave nothing behind for the next, which is itself what is being tested.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.drill_scenarios import drill_sandbox, run_drill
from sandbox.session import Sandbox
from stacks.names import DR_DRILL
from tests.sandbox.drill_support import NOTHING_LEAKED, drill_templates, page, states
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shared() -> Iterator[Sandbox]:
    require_softhsm()
    with drill_sandbox(profile="test", templates=drill_templates()) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(shared: Sandbox) -> Iterator[Sandbox]:
    yield shared
    shared.deployment.clear_crash()
    shared.world.faults.clear()


def assert_cleaned_up(report: dict[str, Any]) -> None:
    assert report["leaked_resources"] == NOTHING_LEAKED
    assert report["primary_clusters_unchanged"] is True
    assert report["teardown"]["status"] in ("COMPLETE", "COMPLETE_WITH_LEFTOVERS")


# Key faults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code"),
    [("key-missing", "KEY_MISSING"), ("key-corrupt", "KCV_MISMATCH"), ("bad-pin", "LOGIN_FAILED")],
)
def test_a_restore_that_lost_keys_fails_the_drill_and_still_tears_down(
    sandbox: Sandbox, fault: str, code: str
) -> None:
    sandbox.apply_faults([fault])
    report = run_drill(sandbox)
    assert report["status"] == "FAILED"
    assert report["error"] == code
    assert code in [f["code"] for f in report["findings"]]
    assert report["report"]["status"] == "FAILED"
    assert_cleaned_up(report)
    alert = page(report)
    assert code in alert["subject"] and "DR drill FAILED" in alert["subject"]
    assert report["metrics"][0]["DrillSucceeded"] == 0.0


# A crash in any step ---------------------------------------------------------------------

CRASHING_STEPS = [
    "create_cluster",
    "check_cluster",
    "open_network",
    "create_hsm",
    "check_hsm",
    "record_keys",
]


@pytest.mark.parametrize("step", CRASHING_STEPS)
def test_a_crash_in_any_step_fails_the_drill_and_tears_down(sandbox: Sandbox, step: str) -> None:
    sandbox.apply_faults([f"lambda-crash:{DR_DRILL}@{step}"])
    report = run_drill(sandbox)
    assert report["status"] == "FAILED"
    assert report["error"] == "SandboxInjectedCrash"
    assert "TeardownAfterFailure" in states(report)
    assert_cleaned_up(report)
    assert report["report"]["status"] == "FAILED"
    assert "SandboxInjectedCrash" in page(report)["subject"]


def test_a_crash_while_discarding_a_degraded_hsm_still_deletes_it(sandbox: Sandbox) -> None:
    sandbox.apply_faults(["hsm-degraded", f"lambda-crash:{DR_DRILL}@discard_hsm"])
    report = run_drill(sandbox)
    assert report["status"] == "FAILED" and report["error"] == "SandboxInjectedCrash"
    assert_cleaned_up(report)


def test_a_crash_in_planning_creates_nothing_and_pages(sandbox: Sandbox) -> None:
    created = sandbox.world.api_calls["CreateCluster"]
    sandbox.apply_faults([f"lambda-crash:{DR_DRILL}@plan"])
    report = run_drill(sandbox)
    assert report["status"] == "FAILED" and states(report)[-1] == "Rejected"
    assert sandbox.world.api_calls["CreateCluster"] == created
    assert report["leaked_resources"] == NOTHING_LEAKED
    assert "refused" in page(report)["subject"]


def test_a_teardown_round_that_crashes_is_retried_until_the_cluster_is_gone(
    sandbox: Sandbox,
) -> None:
    sandbox.deployment.crash_function(DR_DRILL, times=1, step="teardown")
    report = run_drill(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert_cleaned_up(report)


def test_a_crash_writing_the_report_pages_after_the_cluster_is_gone(sandbox: Sandbox) -> None:
    sandbox.apply_faults([f"lambda-crash:{DR_DRILL}@report"])
    report = run_drill(sandbox)
    assert report["status"] == "FAILED" and report["error"] == "SandboxInjectedCrash"
    assert states(report)[-1] == "ReportFailed"
    assert report["leaked_resources"] == NOTHING_LEAKED
    assert report["primary_clusters_unchanged"] is True
    assert "report FAILED" in page(report)["subject"]


def test_a_crash_of_the_verifier_is_a_finding_and_the_drill_still_tears_down(
    sandbox: Sandbox,
) -> None:
    sandbox.apply_faults(["lambda-crash:verify-keys"])
    report = run_drill(sandbox)
    assert report["status"] == "FAILED" and report["error"] == "KEY_VERIFICATION_ERROR"
    assert "RecordKeysError" in states(report)
    assert_cleaned_up(report)
