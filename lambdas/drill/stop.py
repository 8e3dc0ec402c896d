"""A drill execution that was ABORTED or TIMED_OUT never ran its teardown.

Its stopped rule starts a teardown-only run of the same state machine, with the input
`{"teardown_of": <stopped execution ARN>}`. That run takes the stopped execution's job
from its history and goes through the usual teardown loop, report and page: the same
ownership checks (tags read again before each delete) guard it. A teardown run that is
itself stopped starts no other: a person takes over. Pure decisions; the calls are in
lambdas/drill/handler.py.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import Any

from lambdas.shared.errors import InvalidInput
from lambdas.shared.executions import state_machine_of

TEARDOWN_OF = "teardown_of"
# Stopped without running the teardown; FAILED ran it, and may be worth another round.
RESUMABLE = frozenset({"ABORTED", "TIMED_OUT", "FAILED"})
_NAME_MAX = 80  # Step Functions execution names
_PREFIX = "teardown-"


def teardown_run_name(stopped_execution: str) -> str:
    """One name per stopped execution: a redelivered event starts no second run."""
    name = stopped_execution.rsplit(":", 1)[-1]
    if len(_PREFIX + name) <= _NAME_MAX:
        return _PREFIX + name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{_PREFIX}{name[: _NAME_MAX - len(_PREFIX) - 9]}-{digest}"


def is_teardown_run(execution_input: Mapping[str, Any]) -> bool:
    return TEARDOWN_OF in execution_input


def execution_to_tear_down(execution_input: Mapping[str, Any], this_execution: str) -> str:
    """The execution a teardown-only run is for: another execution of this same state
    machine. Refused before anything is read or deleted."""
    target = execution_input.get(TEARDOWN_OF)
    extra = sorted(set(execution_input) - {TEARDOWN_OF})
    if extra:
        raise InvalidInput("input", f"a teardown-only run takes {TEARDOWN_OF} alone, not {extra}")
    if not isinstance(target, str) or not target.startswith("arn:") or ":execution:" not in target:
        raise InvalidInput(TEARDOWN_OF, f"an execution ARN is expected, not {target!r}")
    if state_machine_of(target) != state_machine_of(this_execution):
        raise InvalidInput(
            TEARDOWN_OF,
            f"{target} is not an execution of this state machine "
            f"({state_machine_of(this_execution)})",
        )
    if target == this_execution:
        raise InvalidInput(TEARDOWN_OF, "a run cannot tear down after itself")
    return target


def resumable_problem(status: str, has_job: bool) -> str | None:
    """Why the stopped execution cannot be torn down by a teardown-only run, if so."""
    if status == "RUNNING":
        return (
            "it is still RUNNING and will tear down after itself; stop it first "
            "(aws stepfunctions stop-execution) to tear down now"
        )
    if status not in RESUMABLE:
        return f"it ended {status}, after its own teardown"
    if not has_job:
        return "it stopped before its plan was made, so it created nothing"
    return None


def resumed_job(
    job: Mapping[str, Any], *, stopped_status: str, teardown_run: str
) -> dict[str, Any]:
    """The stopped execution's job, ready for the teardown loop: why it stopped is its
    error (unless it already had one), and its teardown starts over with a deadline of
    its own, keeping what was already done."""
    resumed: dict[str, Any] = copy.deepcopy(dict(job))
    run = resumed["run"]
    if not run.get("error"):
        run["error"] = {
            "Error": f"Drill{stopped_status.title().replace('_', '')}",
            "Message": (
                f"the drill execution was {stopped_status} after its step {run.get('step')} "
                f"and skipped its teardown; the teardown-only run "
                f"{teardown_run.rsplit(':', 1)[-1]} tore down what it left"
            ),
        }
        run["last_step"] = run.get("step")
    before = run.get("teardown") or {}
    run["teardown"] = {
        "actions": list(before.get("actions") or []),
        "owned": list(before.get("owned") or []),
    }
    run["teardown_run"] = teardown_run
    return resumed
