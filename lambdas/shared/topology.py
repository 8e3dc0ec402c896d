"""Pure comparison of a cluster's HSMs with the topology it should have."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from lambdas.shared.models import HSM_ACTIVE, HSM_DEGRADED, Cluster, Hsm


@dataclass(frozen=True)
class ZoneGap:
    availability_zone: str
    desired: int
    active: int

    @property
    def missing(self) -> int:
        return max(self.desired - self.active, 0)


@dataclass(frozen=True)
class TopologyCheck:
    desired: Mapping[str, int]
    active_per_az: Mapping[str, int]
    gaps: tuple[ZoneGap, ...]
    degraded: tuple[Hsm, ...]
    transitional: tuple[Hsm, ...]  # being created or deleted right now
    unexpected_zones: tuple[str, ...]  # HSMs in zones the topology does not name

    @property
    def active_total(self) -> int:
        return sum(self.active_per_az.values())

    @property
    def desired_total(self) -> int:
        return sum(self.desired.values())

    @property
    def healthy(self) -> bool:
        return not self.gaps and not self.degraded


def check_topology(cluster: Cluster, desired: Mapping[str, int]) -> TopologyCheck:
    active = Counter(h.availability_zone for h in cluster.hsms if h.state == HSM_ACTIVE)
    gaps = tuple(
        ZoneGap(zone, want, active.get(zone, 0))
        for zone, want in sorted(desired.items())
        if active.get(zone, 0) < want
    )
    return TopologyCheck(
        desired=dict(desired),
        active_per_az=dict(active),
        gaps=gaps,
        degraded=tuple(h for h in cluster.hsms if h.state == HSM_DEGRADED),
        transitional=tuple(h for h in cluster.hsms if h.state not in (HSM_ACTIVE, HSM_DEGRADED)),
        unexpected_zones=tuple(sorted({z for z in active if z not in desired})),
    )
