"""The phases a person follows a workflow by, instead of every Choice state and poll.

One table per workflow (keyed by its state machine's name after `{deployment}-`): each
phase, in the order a run that succeeds goes through them, with the minutes it is
expected to take (typical HSM durations, docs/costs.md: 10 to 25 minutes to create an
HSM, 10 to 15 to delete one; no SLA), and the states that belong to it. States on the
way out of a failure belong to `FAILURE`, which is not counted in estimates.
tests/infra/test_phases.py holds the table to the synthesized state machines: every
state of every workflow is in exactly one phase (a state that only some configs
synthesize, such as the key verification's, is named too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

FAILURE = "reporting the failure"


@dataclass(frozen=True)
class Phase:
    name: str
    expected_minutes: int  # 0 for FAILURE: not part of a run that succeeds
    states: frozenset[str]


def _phases(*rows: tuple[str, int, str]) -> tuple[Phase, ...]:
    return tuple(Phase(name, minutes, frozenset(states.split())) for name, minutes, states in rows)


_SHORTEN = "{0} {0}Shorten {0}HasMessage? {0}Parse"  # steps.shorten_error's four states

WORKFLOW_PHASES: dict[str, tuple[Phase, ...]] = {
    "on-demand-backup": _phases(
        (
            "validating and locking the cluster",
            1,
            "Start ValidateAndLock Strategy? Rejected NotifyValidationCrash LockToRelease? "
            "ValidationCrashed ReleaseLockAfterCrash " + _SHORTEN.format("ShortenValidationError"),
        ),
        (
            "adding the temporary HSM",
            25,
            "CreateHsm Discarded? CheckDiscard WaitForDiscard DiscardDegradedHsm NewHsmActive? "
            "CheckNewHsm WaitForNewHsm",
        ),
        ("waiting for the backup", 20, "BackupReady? CheckBackup WaitForBackup DescribeBackup"),
        (
            "removing the temporary HSM",
            15,
            "TemporaryHsmToRemove? RemoveTemporaryHsm Removed? CheckRemoval WaitForRemoval "
            "CleanUp WaitForCleanUp CleanedUp? RemoveCycledHsm WaitForCycledRemoval "
            "CheckCycledRemoval CycledRemoved?",
        ),
        ("releasing the lock", 1, "ReleaseLock Succeeded"),
        (
            FAILURE,
            0,
            "NotifyFailure NotifyFailurePage NotifyFailureNotify ReleaseLockAfterFailure "
            "NotifyCleanupFailure Failed",
        ),
    ),
    "replace-hsm": _phases(
        ("validating and locking the cluster", 1, "Start ValidateAndLock Rejected CreateNeeded?"),
        (
            "creating the replacement HSM",
            25,
            "CreateReplacement ReplacementActive? CheckReplacement WaitForReplacement Discarded? "
            "CheckDiscard WaitForDiscard DiscardDegradedReplacement DescribeReplacement",
        ),
        ("waiting for the keys to synchronise", 10, "Synchronised? CheckSynchronised WaitForSync"),
        ("deleting the failed HSM", 15, "FailedHsmToDelete? DeleteFailedHsm"),
        ("reporting and releasing the lock", 1, "NotifySuccess ReleaseLock Succeeded"),
        (
            FAILURE,
            0,
            "ReportFailure NotifyFailure ReleaseLockAfterFailure NotifyReportFailure Failed",
        ),
    ),
    "restore-cluster": _phases(
        ("choosing the backup", 1, "Start IdentifyBackup Refused"),
        (
            "restoring the cluster from the backup",
            20,
            "ClusterToCreate? CreateCluster CheckCluster WaitForCluster ClusterActive?",
        ),
        (
            "creating the first HSM",
            25,
            "PlanFirstHsm FirstHsmAction? CreateFirstHsm WaitForFirstHsm DiscardDegradedFirstHsm "
            "FirstHsmSettled? CheckFirstHsm",
        ),
        (
            "verifying the restored service",
            2,
            "VerifyKeys KeyVerificationNotRun VerifyRecovery NotifyServiceRestored "
            "PublishClientConfig",
        ),
        (
            "adding the other HSMs",
            25,
            "PlanNextHsm NextHsmAction? AddNextHsm WaitForNextHsm DiscardDegradedNextHsm "
            "NextHsmSettled? CheckNextHsm",
        ),
        ("reporting", 1, "FinalReport NotifySuccess Succeeded"),
        (FAILURE, 0, "ReportFailure NotifyFailure NotifyFailureFallback Failed"),
    ),
    "dr-drill": _phases(
        ("planning", 1, "Start TeardownOnly? Plan NotifyRejected Rejected"),
        (
            "restoring the drill cluster",
            20,
            "CreateCluster WaitForCluster CheckCluster ClusterActive? OpenNetwork",
        ),
        (
            "creating the drill HSM",
            25,
            "CreateHsm Discarded? CheckDiscard WaitForDiscard DiscardHsm HsmActive? CheckHsm "
            "WaitForHsm",
        ),
        (
            "verifying the keys",
            5,
            "RecordKeys VerifyKeys VerifierReachable? RecordKeysError RecordSkippedKeys",
        ),
        (
            "tearing down",
            15,
            "Teardown WaitForTeardown TornDown? TeardownAfterFailure ResumeTeardown "
            "NotifyTeardownNotResumed TeardownNotResumed " + _SHORTEN.format("ShortenResumeError"),
        ),
        ("reporting", 1, "Report Passed? NotifySuccess Succeeded"),
        (
            FAILURE,
            0,
            "NotifyFailure Failed ReportTeardownFailure NotifyTeardownFailure TeardownFailed "
            "NotifyReportFailure ReportFailed "
            + _SHORTEN.format("ShortenTeardownError")
            + " "
            + _SHORTEN.format("ShortenReportError"),
        ),
    ),
}


def workflow_of(state_machine_name: str) -> str | None:
    """The workflow a state machine runs (`{deployment}-restore-cluster`: restore-cluster)."""
    for workflow in sorted(WORKFLOW_PHASES, key=len, reverse=True):
        if state_machine_name.endswith(f"-{workflow}"):
            return workflow
    return None


def phase_of(workflow: str | None, state: str) -> Phase | None:
    for phase in WORKFLOW_PHASES.get(workflow or "", ()):
        if state in phase.states:
            return phase
    return None


@dataclass(frozen=True)
class Progress:
    phase: str | None  # the phase of the latest state entered (None: nothing yet)
    phase_started: str | None  # ISO time its first state was entered
    elapsed_seconds: float  # since the execution started
    remaining_minutes: int | None  # estimate; None when failing or the workflow is unknown
    done: tuple[str, ...]  # phases left behind, in order
    # every phase entered, in order (a phase entered again after another counts again),
    # with the ISO time it was entered: what a log of the run shows, line by line
    entered: tuple[tuple[str, str | None], ...] = ()


def progress(
    workflow: str | None,
    steps: Sequence[Mapping[str, Any]],
    *,
    started: datetime,
    now: datetime,
) -> Progress:
    """Where a run is, from its timeline (presentation.timeline): the current phase,
    and the minutes its remaining phases are expected to take (the current one counted
    from when it began)."""
    phases = WORKFLOW_PHASES.get(workflow or "", ())
    order = [p.name for p in phases]
    seen: list[str] = []
    entered: list[tuple[str, str | None]] = []
    phase_started: str | None = None
    for step in steps:
        phase = phase_of(workflow, str(step["state"]))
        name = phase.name if phase else str(step["state"])
        if not seen or seen[-1] != name:
            seen.append(name)
            phase_started = step.get("start")
            entered.append((name, phase_started))
    current = seen[-1] if seen else None
    elapsed = max(0.0, (now - started).total_seconds())
    remaining: int | None = None
    if phases and current != FAILURE:
        position = order.index(current) if current in order else 0
        in_phase = 0.0
        if current in order and phase_started:
            in_phase = (now - datetime.fromisoformat(phase_started)).total_seconds() / 60
        left = phases[position].expected_minutes - in_phase if current in order else 0
        later = sum(p.expected_minutes for p in phases[position + 1 :] if p.name != FAILURE)
        if current not in order:  # nothing entered yet
            later = sum(p.expected_minutes for p in phases if p.name != FAILURE)
        remaining = max(0, round(max(0.0, left) + later))
    done = tuple(dict.fromkeys(n for n in seen[:-1] if n != current))
    return Progress(current, phase_started, elapsed, remaining, done, tuple(entered))


def clock(seconds: float) -> str:
    """Elapsed time as people read it on a live view: 4:05, 1:02:03."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def live_lines(
    workflow: str | None,
    seen: Progress,
    status: str,
    hsms: Sequence[Mapping[str, str]],
    execution_arn: str,
) -> list[str]:
    """The live view of a run, redrawn in place on a terminal."""
    estimate = (
        f", about {seen.remaining_minutes} min left (expected durations)"
        if seen.remaining_minutes is not None and status == "RUNNING"
        else ""
    )
    since = clock(seen.elapsed_seconds)
    lines = [f"{workflow or 'workflow'} {status}: {since} since it started{estimate}"]
    lines += [f"  done  {name}" for name in seen.done]
    if seen.phase:
        lines.append(f"  now   {seen.phase}")
    lines += [
        f"  HSM   {h['cluster_id']} {h['hsm_id']} {h.get('zone', '')} {h['state']}".rstrip()
        for h in hsms
    ]
    lines.append(f"Ctrl-C detaches (the workflow keeps running): hsmdr follow {execution_arn}")
    return lines


def passed_phase_line(name: str, entered_at: str | None, started: datetime) -> str:
    """A phase the run entered and left between two looks: its line, for a log that
    shows every phase, however short."""
    at = (
        0.0
        if entered_at is None
        else (datetime.fromisoformat(entered_at) - started).total_seconds()
    )
    return f"[{clock(max(0.0, at))}] {name}"


def phase_line(seen: Progress, hsms: Sequence[Mapping[str, str]]) -> str:
    """One line per phase change, for output that is not a terminal."""
    estimate = (
        f" (about {seen.remaining_minutes} min left)" if seen.remaining_minutes is not None else ""
    )
    states = ", ".join(f"{h['hsm_id']} {h['state']}" for h in hsms)
    return f"[{clock(seen.elapsed_seconds)}] {seen.phase}{estimate}" + (
        f"; HSMs: {states}" if states else ""
    )
