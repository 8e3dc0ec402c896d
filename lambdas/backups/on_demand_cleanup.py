"""What clean-up must do after a failed on-demand backup. Pure: no AWS calls.

The goal is the cluster as it was: the same number of HSMs in each zone. Clean-up
deletes only HSMs this execution created (a temporary HSM, a DEGRADED attempt), and
re-creates only an HSM this execution removed (the cycled one), one at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.shared.models import HSM_ACTIVE, HSM_DEGRADED, Cluster, Hsm

MAX_RECREATE_ATTEMPTS = 3
_IN_TRANSIT = ("CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS")


@dataclass(frozen=True)
class CleanupDecision:
    delete: tuple[str, ...]  # HSM ids to delete now
    create: tuple[tuple[str, str | None], ...]  # (zone, ip) to create now
    remaining: tuple[str, ...]  # what still differs from the start, for people
    done: bool  # nothing more to do now or later (remaining may still be non-empty)


def plan_cleanup(
    plan: Mapping[str, Any], run: Mapping[str, Any], cluster: Cluster
) -> CleanupDecision:
    created = set(run["created_hsm_ids"])
    removed_before = [h for h in run["removed_hsm_ids"] if h in plan["hsms_before"]]
    in_transit = [h for h in cluster.hsms if h.state in _IN_TRANSIT]
    if in_transit:
        waits = tuple(f"HSM {h.hsm_id} is {h.state}" for h in in_transit)
        return CleanupDecision((), (), waits, done=False)

    ours_degraded = [h for h in cluster.hsms if h.hsm_id in created and h.state == HSM_DEGRADED]
    kept = [h for h in cluster.hsms if h not in ours_degraded]
    target: Mapping[str, int] = plan["hsms_per_az_before"]
    have = Counter(h.availability_zone for h in kept)

    delete = [h.hsm_id for h in ours_degraded]
    for zone, count in have.items():
        surplus = count - target.get(zone, 0)
        ours_active = [h for h in kept if h.availability_zone == zone and h.hsm_id in created]
        delete += [h.hsm_id for h in _newest_first(ours_active)[: max(surplus, 0)]]

    create: list[tuple[str, str | None]] = []
    remaining: list[str] = []
    cycled = plan.get("cycled") or {}
    if removed_before and cycled:
        zone = cycled["availability_zone"]
        if have.get(zone, 0) < target.get(zone, 0):
            if run.get("cleanup", {}).get("attempts", 0) >= MAX_RECREATE_ATTEMPTS:
                remaining.append(
                    f"{zone} has {have.get(zone, 0)} HSM(s), {target[zone]} at the start: "
                    f"{MAX_RECREATE_ATTEMPTS} re-creations failed"
                )
            elif not ours_degraded:  # the degraded one holds the IP until it is gone
                create.append((zone, cycled.get("eni_ip") or None))
    if delete or create:
        remaining += [f"deleting HSM {h}" for h in delete]
        remaining += [f"re-creating an HSM in {z}" for z, _ in create]
    # Done when clean-up has nothing left to try: with `remaining` (re-creations used
    # up) the cluster is not as it was, and the alert pages at once instead of after
    # the clean-up deadline.
    return CleanupDecision(
        tuple(delete), tuple(create), tuple(remaining), done=not (delete or create)
    )


def _newest_first(hsms: list[Hsm]) -> list[Hsm]:
    # Prefer removing an HSM that is not serving yet; ids carry no order, so ACTIVE last.
    return sorted(hsms, key=lambda h: (h.state == HSM_ACTIVE, h.hsm_id))


@dataclass(frozen=True)
class StoppedCleanup:
    delete: tuple[str, ...]  # HSM ids this execution created, to delete now
    left: tuple[str, ...]  # what is not as it was and nobody will fix: for people


def plan_after_stop(
    plan: Mapping[str, Any], run: Mapping[str, Any], cluster: Cluster
) -> StoppedCleanup:
    """One pass of clean-up for an execution that was stopped (ABORTED, TIMED_OUT):
    nothing waits any more, so delete at once what this execution created beyond the
    starting HSMs (DEGRADED ones, the temporary HSM, even one still being created) and
    name everything else that differs from the start."""
    created = set(run["created_hsm_ids"])
    live = [h for h in cluster.hsms if h.state != "DELETE_IN_PROGRESS"]
    ours_degraded = [h for h in live if h.hsm_id in created and h.state == HSM_DEGRADED]
    kept = [h for h in live if h not in ours_degraded]
    target: Mapping[str, int] = plan["hsms_per_az_before"]
    have = Counter(h.availability_zone for h in kept)
    delete = [h.hsm_id for h in ours_degraded]
    for zone, count in have.items():
        surplus = count - target.get(zone, 0)
        ours = [h for h in kept if h.availability_zone == zone and h.hsm_id in created]
        delete += [h.hsm_id for h in _newest_first(ours)[: max(surplus, 0)]]
    left: list[str] = []
    cycled = plan.get("cycled") or {}
    for zone, count in sorted(target.items()):
        now = sum(1 for h in kept if h.availability_zone == zone and h.hsm_id not in delete)
        if now < count:
            ip = cycled.get("eni_ip") if cycled.get("availability_zone") == zone else None
            left.append(
                f"{zone} has {now} HSM(s), {count} at the start: add one back with aws "
                f"cloudhsmv2 create-hsm --region {plan['region']} --cluster-id "
                f"{plan['cluster_id']} --availability-zone {zone}"
                + (f" --ip-address {ip}" if ip else "")
            )
    before, recorded = set(plan["hsms_before"]), created
    for h in live:
        if h.hsm_id not in before and h.hsm_id not in recorded:
            left.append(
                f"HSM {h.hsm_id} in {h.availability_zone} ({h.state}) was not there at the "
                "start and this execution did not record it: check whether it is needed"
            )
    return StoppedCleanup(tuple(delete), tuple(left))
