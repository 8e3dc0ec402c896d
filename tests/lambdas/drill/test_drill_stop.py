"""The decisions behind a teardown-only run of a stopped drill (lambdas/drill/stop.py)."""

from __future__ import annotations

import pytest

from lambdas.drill.stop import (
    execution_to_tear_down,
    resumable_problem,
    resumed_job,
    teardown_run_name,
)
from lambdas.shared.errors import InvalidInput

MACHINE = "arn:aws:states:us-east-1:123456789012:execution:prod-dr-drill"
THIS = f"{MACHINE}:teardown-run-1"
STOPPED = f"{MACHINE}:run-1"


def test_the_teardown_run_is_named_after_the_stopped_execution() -> None:
    assert teardown_run_name(STOPPED) == "teardown-run-1"


def test_a_long_name_is_cut_to_the_limit_and_stays_distinct() -> None:
    long_a, long_b = f"{MACHINE}:{'a' * 79}x", f"{MACHINE}:{'a' * 79}y"
    names = {teardown_run_name(long_a), teardown_run_name(long_b)}
    assert len(names) == 2
    assert all(len(n) == 80 and n.startswith("teardown-") for n in names)


def test_an_execution_of_this_machine_is_accepted() -> None:
    assert execution_to_tear_down({"teardown_of": STOPPED}, THIS) == STOPPED


@pytest.mark.parametrize(
    ("execution_input", "field", "problem"),
    [
        ({"teardown_of": "run-1"}, "teardown_of", "an execution ARN is expected"),
        ({"teardown_of": 7}, "teardown_of", "an execution ARN is expected"),
        (
            {"teardown_of": STOPPED.replace("prod-dr-drill", "prod-restore-cluster")},
            "teardown_of",
            "is not an execution of this state machine",
        ),
        ({"teardown_of": THIS}, "teardown_of", "cannot tear down after itself"),
        ({"teardown_of": STOPPED, "backup_id": "b"}, "input", "teardown_of alone"),
    ],
)
def test_anything_else_is_refused_naming_the_field(
    execution_input: dict[str, object], field: str, problem: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        execution_to_tear_down(execution_input, THIS)
    assert refused.value.field == field and problem in str(refused.value)


@pytest.mark.parametrize(
    ("status", "has_job", "problem"),
    [
        ("ABORTED", True, None),
        ("TIMED_OUT", True, None),
        ("FAILED", True, None),
        ("RUNNING", True, "still RUNNING"),
        ("SUCCEEDED", True, "after its own teardown"),
        ("ABORTED", False, "created nothing"),
    ],
)
def test_which_executions_can_be_torn_down(status: str, has_job: bool, problem: str | None) -> None:
    found = resumable_problem(status, has_job)
    assert found is None if problem is None else problem in (found or "")


def test_the_resumed_job_says_why_and_keeps_what_teardown_already_did() -> None:
    job = {
        "plan": {"execution": STOPPED},
        "run": {
            "step": "check_hsm",
            "error": None,
            "teardown": {"deadline": "2026-01-01T00:00:00+00:00", "actions": ["a"], "done": False},
        },
    }
    resumed = resumed_job(job, stopped_status="TIMED_OUT", teardown_run=THIS)
    run = resumed["run"]
    assert run["error"]["Error"] == "DrillTimedOut"
    assert "after its step check_hsm" in run["error"]["Message"]
    assert run["last_step"] == "check_hsm"
    # a deadline of its own (the old one may have passed), and what was done is kept
    assert run["teardown"] == {"actions": ["a"], "owned": []}
    assert run["teardown_run"] == THIS
    assert job["run"]["error"] is None  # the input is not changed


def test_a_failed_drill_keeps_its_own_error() -> None:
    job = {"plan": {}, "run": {"step": "teardown", "error": {"Error": "X", "Message": "m"}}}
    resumed = resumed_job(job, stopped_status="FAILED", teardown_run=THIS)
    assert resumed["run"]["error"] == {"Error": "X", "Message": "m"}
