"""The smallest poll interval each workflow can use without running out of history.

Step Functions keeps at most 25,000 history events per Standard execution; an execution
that reaches the limit fails at once, without its Catch paths (no clean-up, no alert).
Every status wait is a poll loop of a Wait state (2 events: entered, exited), a Lambda
task (5: entered, scheduled, started, succeeded, exited) and a Choice (2). A loop runs
until its step's own deadline, so the time a workflow can spend polling is the sum of
the deadlines its loops obey; the state machine's timeout adds a margin for the steps
themselves, which are not polled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HISTORY_EVENT_LIMIT = 25_000
EVENTS_PER_POLL = 9
# Events outside the loops: input checks, plans, HSM changes, retries, alerts, teardown.
RESERVED_EVENTS = 2_500


@dataclass(frozen=True)
class PollBudget:
    """One workflow's longest polling time, and how that time is made up."""

    section: str  # the config section whose poll_seconds is checked, e.g. "restore"
    poll_seconds: int
    polled_minutes: float
    made_of: str  # the formula, for the message

    @property
    def minimum_poll_seconds(self) -> int:
        polls = (HISTORY_EVENT_LIMIT - RESERVED_EVENTS) // EVENTS_PER_POLL
        return max(1, math.ceil(self.polled_minutes * 60 / polls))

    def problem(self) -> str | None:
        floor = self.minimum_poll_seconds
        if self.poll_seconds >= floor:
            return None
        return (
            f"{self.section}.poll_seconds: {self.poll_seconds} is below the minimum of "
            f"{floor} s for these timeouts: the workflow may poll for "
            f"{self.polled_minutes:g} minutes ({self.made_of}), {EVENTS_PER_POLL} history "
            f"events per poll, and a Step Functions execution holds {HISTORY_EVENT_LIMIT:,} "
            f"events; set poll_seconds to {floor} or more, or shorten the timeouts"
        )


def on_demand_budget(
    poll_seconds: int, hsm_timeout_minutes: float, backup_timeout_minutes: float
) -> PollBudget:
    # Add (or remove), wait for the backup, remove (or re-create), and a clean-up.
    return PollBudget(
        "backups.on_demand",
        poll_seconds,
        4 * hsm_timeout_minutes + backup_timeout_minutes,
        "4 x hsm_timeout_minutes + backup_timeout_minutes",
    )


def replacement_budget(
    poll_seconds: int, hsm_timeout_minutes: float, max_attempts: int
) -> PollBudget:
    # Every attempt may create and discard one HSM, then the delete and the sync wait.
    return PollBudget(
        "hsm_replacement",
        poll_seconds,
        (2 * max_attempts + 2) * hsm_timeout_minutes,
        "(2 x max_attempts + 2) x hsm_timeout_minutes",
    )


def restore_budget(
    poll_seconds: int,
    cluster_timeout_minutes: float,
    hsm_timeout_minutes: float,
    max_hsm_attempts: int,
    most_hsms: int,
) -> PollBudget:
    # The cluster, then each HSM of the largest cluster (plus a spare) created and, when
    # DEGRADED, discarded, max_hsm_attempts times.
    return PollBudget(
        "restore",
        poll_seconds,
        cluster_timeout_minutes + most_hsms * max_hsm_attempts * 2 * hsm_timeout_minutes,
        f"cluster_timeout_minutes + {most_hsms} HSMs x max_hsm_attempts x 2 x hsm_timeout_minutes",
    )


def drill_budget(
    poll_seconds: int,
    cluster_timeout_minutes: float,
    hsm_timeout_minutes: float,
    max_hsm_attempts: int,
    teardown_timeout_minutes: float,
) -> PollBudget:
    return PollBudget(
        "drills",
        poll_seconds,
        cluster_timeout_minutes
        + max_hsm_attempts * 2 * hsm_timeout_minutes
        + teardown_timeout_minutes,
        "cluster_timeout_minutes + max_hsm_attempts x 2 x hsm_timeout_minutes + "
        "teardown_timeout_minutes",
    )
