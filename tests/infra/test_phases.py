"""The live view's phases (presentation/phases.py) against the synthesized state
machines: every state of every workflow is in exactly one phase, so a new state cannot
be left unmapped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from presentation.phases import FAILURE, WORKFLOW_PHASES, clock, progress, workflow_of
from tests.conftest import Synthesized
from tests.docs.test_runbooks import definition


def state_names(states: dict[str, Any]) -> Iterator[str]:
    for name, state in states.items():
        yield name
        for branch in state.get("Branches", []):
            yield from state_names(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from state_names(state[key]["States"])


def machines(synthesized: Synthesized) -> dict[str, set[str]]:
    """Each workflow's states, over every stack (the restore runs in DR regions too)."""
    found: dict[str, set[str]] = {}
    for template in synthesized.templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                name = resource["Properties"]["StateMachineName"]
                workflow = workflow_of(name)
                assert workflow is not None, f"{name}: no phases in presentation/phases.py"
                found.setdefault(workflow, set()).update(
                    state_names(definition(resource)["States"])
                )
    return found


def test_every_state_of_every_workflow_is_in_exactly_one_phase(synthesized: Synthesized) -> None:
    found = machines(synthesized)
    assert set(found) == set(WORKFLOW_PHASES)
    for workflow, states in found.items():
        phases = WORKFLOW_PHASES[workflow]
        unmapped = sorted(s for s in states if not any(s in p.states for p in phases))
        twice = sorted(s for s in states if sum(s in p.states for p in phases) > 1)
        assert (workflow, unmapped, twice) == (workflow, [], [])
        assert phases[-1].name == FAILURE and all(p.expected_minutes > 0 for p in phases[:-1])


def test_progress_names_the_phase_and_estimates_from_the_expected_durations() -> None:
    started = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)

    def at(minutes: int) -> str:
        return (started + timedelta(minutes=minutes)).isoformat()

    steps = [
        {"state": "Start", "start": at(0)},
        {"state": "IdentifyBackup", "start": at(0)},
        {"state": "ClusterToCreate?", "start": at(1)},
        {"state": "CreateCluster", "start": at(1)},
        {"state": "WaitForCluster", "start": at(2)},
        {"state": "CheckCluster", "start": at(6)},
    ]
    now = started + timedelta(minutes=11)
    seen = progress("restore-cluster", steps, started=started, now=now)
    assert seen.phase == "restoring the cluster from the backup"
    assert seen.done == ("choosing the backup",)
    assert seen.elapsed_seconds == 660
    # 20 expected for the cluster, 10 of them gone; then 25 + 2 + 25 + 1
    assert seen.remaining_minutes == 10 + 53
    failing = progress(
        "restore-cluster",
        [*steps, {"state": "NotifyFailure", "start": at(12)}],
        started=started,
        now=now,
    )
    assert failing.phase == FAILURE and failing.remaining_minutes is None
    assert progress(None, steps, started=started, now=now).remaining_minutes is None
    assert (clock(65), clock(3723)) == ("1:05", "1:02:03")
