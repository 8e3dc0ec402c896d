"""Rules every HSM-creating workflow shares: when to stop creating HSMs that keep
ending DEGRADED, and which HSM an earlier try of a create step made. Pure: no AWS calls.

The restore and the drill share one rule: `max_hsm_attempts` DEGRADED HSMs in a row
in the zone the next HSM would go to stop the run. The count is per zone, so moving
to another zone (the restore after two failures in a zone, the drill after one)
starts that zone from its own count: an AZ that rejects CloudHSM does not use up the
attempts of a spare zone that works. Every zone failing still ends the run, after at
most `max_hsm_attempts` HSMs per zone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from lambdas.shared.errors import HsmCreationFailed
from lambdas.shared.models import HSM_ACTIVE, HSM_CREATE_IN_PROGRESS, HSM_DEGRADED, Cluster, Hsm


def degraded_in_zone(zone: str, degraded_in_a_row: Sequence[str]) -> int:
    """HSMs that ended DEGRADED in `zone` since the run's last ACTIVE one;
    `degraded_in_a_row` holds the zone of each, oldest first."""
    return sum(1 for z in degraded_in_a_row if z == zone)


def check_attempts(zone: str, degraded_in_a_row: Sequence[str], max_attempts: int) -> None:
    """Raise HsmCreationFailed when `zone` has used up its attempts."""
    failed = degraded_in_zone(zone, degraded_in_a_row)
    if failed >= max_attempts:
        raise HsmCreationFailed(
            f"{failed} HSMs in a row ended DEGRADED in {zone}, the zone left to try "
            f"(zones of the DEGRADED HSMs: {', '.join(degraded_in_a_row)}); "
            f"max_hsm_attempts is {max_attempts}"
        )


def adoptable_hsm(cluster: Cluster, known: Collection[str], zones: Collection[str]) -> Hsm | None:
    """An HSM an earlier try of this create step made, or None.

    CreateHsm is not idempotent: a try whose response was lost (a crash, a timeout, the
    SDK retrying a call that had worked) leaves an HSM that the execution never recorded.
    Under the cluster lock nothing else adds HSMs here, so a live HSM in a zone the step
    creates in that is neither one the run started with nor one it knows is that HSM:
    the step records it instead of creating another."""
    for hsm in cluster.hsms:
        if (
            hsm.hsm_id not in known
            and hsm.availability_zone in zones
            and hsm.state in (HSM_CREATE_IN_PROGRESS, HSM_ACTIVE, HSM_DEGRADED)
        ):
            return hsm
    return None
