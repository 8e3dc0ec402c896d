"""When to stop creating HSMs that keep ending DEGRADED. Pure: no AWS calls.

The restore and the drill share one rule: `max_hsm_attempts` DEGRADED HSMs in a row
in the zone the next HSM would go to stop the run. The count is per zone, so moving
to another zone (the restore after two failures in a zone, the drill after one)
starts that zone from its own count: an AZ that rejects CloudHSM does not use up the
attempts of a spare zone that works. Every zone failing still ends the run, after at
most `max_hsm_attempts` HSMs per zone.
"""

from __future__ import annotations

from collections.abc import Sequence

from lambdas.core.errors import HsmCreationFailed


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
