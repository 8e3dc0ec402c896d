"""How long each lifecycle step takes in the emulator.

The facts page gives only HSM durations ("about 10 to 25 minutes to create, 10 to 15
to delete"); everything else is UNCONFIRMED and is a guess marked as such below.
Every field can be overridden with ``dataclasses.replace(PROFILES["demo"], ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class DurationProfile:
    """Durations of the transitional states.

    ``jitter`` spreads each duration uniformly by +/- that fraction, drawn from the
    world's seeded random generator, so a realistic run does not tick like a metronome.
    """

    name: str
    cluster_create: timedelta  # CREATE_IN_PROGRESS -> UNINITIALIZED (or ACTIVE from a backup)
    cluster_initialize: timedelta  # INITIALIZE_IN_PROGRESS -> INITIALIZED
    cluster_activate: timedelta  # INITIALIZED -> ACTIVE, standing in for the operator's CLI step
    cluster_modify: timedelta  # MODIFY_IN_PROGRESS -> ACTIVE (HsmType change)
    cluster_delete: timedelta  # DELETE_IN_PROGRESS -> DELETED
    hsm_create: timedelta  # CREATE_IN_PROGRESS -> ACTIVE | DEGRADED
    hsm_delete: timedelta  # DELETE_IN_PROGRESS -> gone
    backup_create: timedelta  # CREATE_IN_PROGRESS -> READY
    backup_copy: timedelta  # copy CREATE_IN_PROGRESS -> READY | DELETED
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


PROFILES: dict[str, DurationProfile] = {
    # HSM create/delete: facts page (10-25 min, 10-15 min). The rest is UNCONFIRMED:
    # cluster create 5 min, initialize 3 min, activation 1 min, HsmType change 10 min,
    # cluster delete 2 min, backup 5 min, cross-region copy 10 min.
    "realistic": DurationProfile(
        name="realistic",
        cluster_create=_m(5),
        cluster_initialize=_m(3),
        cluster_activate=_m(1),
        cluster_modify=_m(10),
        cluster_delete=_m(2),
        hsm_create=_m(15),
        hsm_delete=_m(12),
        backup_create=_m(5),
        backup_copy=_m(10),
        jitter=0.25,
    ),
    # Seconds: fast enough to watch a DR drill live.
    "demo": DurationProfile(
        name="demo",
        cluster_create=_s(2),
        cluster_initialize=_s(1),
        cluster_activate=_s(1),
        cluster_modify=_s(2),
        cluster_delete=_s(1),
        hsm_create=_s(3),
        hsm_delete=_s(2),
        backup_create=_s(1),
        backup_copy=_s(2),
    ),
    # Fractions of a second: for the test suite.
    "test": DurationProfile(
        name="test",
        cluster_create=_s(0.1),
        cluster_initialize=_s(0.05),
        cluster_activate=_s(0.05),
        cluster_modify=_s(0.1),
        cluster_delete=_s(0.05),
        hsm_create=_s(0.15),
        hsm_delete=_s(0.1),
        backup_create=_s(0.05),
        backup_copy=_s(0.1),
    ),
}
# "fast" is the name used in early design notes; it is the test profile.
PROFILES["fast"] = PROFILES["test"]
