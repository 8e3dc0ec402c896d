"""How long each lifecycle step takes in the emulator.

The facts page gives only HSM durations ("about 10 to 25 minutes to create, 10 to 15
to delete"); everything else is UNCONFIRMED and is a guess marked as such below.
Every field can be overridden with ``dataclasses.replace(PROFILES["demo"], ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    # Emulated seconds per wall-clock second: 1 but for a compressed profile, whose
    # durations are another profile's divided by it (see `compressed`).
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")
        if self.time_scale < 1.0:
            raise ValueError("time_scale must be 1 or more")

    def emulated(self, wall: timedelta) -> timedelta:
        """A span of wall-clock time as emulated time (the same but when compressed)."""
        return wall * self.time_scale


STEPS = (
    "cluster_create",
    "cluster_initialize",
    "cluster_activate",
    "cluster_modify",
    "cluster_delete",
    "hsm_create",
    "hsm_delete",
    "backup_create",
    "backup_copy",
)


def compressed(profile: DurationProfile, speedup: float) -> DurationProfile:
    """`profile`'s durations on a clock running `speedup` times faster than the wall:
    each lasts profile-duration / speedup of wall time, and `emulated` turns a measured
    wall span back into emulated time (a 15-minute HSM creation at 120x takes 7.5 s)."""
    if speedup < 1.0:
        raise ValueError("speedup must be 1 or more")
    durations = {step: getattr(profile, step) / speedup for step in STEPS}
    return replace(
        profile,
        name=f"{profile.name}-x{speedup:g}",
        time_scale=profile.time_scale * speedup,
        **durations,
    )


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

# `hsmdr sandbox ... --speed realistic`: AWS's durations on a clock 120x faster, so a
# restore whose RTO is 20-40 minutes ends in 10-20 s; reports give emulated seconds.
REALISTIC_SPEEDUP = 120.0
SPEEDS: dict[str, DurationProfile] = {
    "demo": PROFILES["demo"],
    "realistic": compressed(PROFILES["realistic"], REALISTIC_SPEEDUP),
}
