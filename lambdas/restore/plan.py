"""Pure decisions of the restore: where it goes, which HSM to create, wait for or
discard next, and when a cluster or an HSM has failed. No AWS calls here.

HSMs are created one at a time (CloudHSM refuses a second CreateHsm while one is
CREATE_IN_PROGRESS), round robin over the Availability Zones of the subnets in the
order given. An HSM that ends DEGRADED never recovers: it is deleted and another is
created, at most `max_hsm_attempts` times in a row. A zone where HSMs keep ending
DEGRADED (an AZ without CloudHSM capacity, say) is swapped for another zone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lambdas.shared.errors import CloudHsmDrError, InvalidInput
from lambdas.shared.hsm_attempts import check_attempts
from lambdas.shared.models import (
    CLUSTER_ACTIVE,
    CLUSTER_DEGRADED,
    HSM_ACTIVE,
    HSM_CREATE_IN_PROGRESS,
    HSM_DEGRADED,
    HSM_DELETE_IN_PROGRESS,
    Cluster,
)

# One DEGRADED HSM is CloudHSM's known, random creation failure ("delete this HSM and
# try again"); a second one in the same zone points at the zone itself.
AZ_FAILURES_BEFORE_SWAP = 2
IN_TRANSIT = (HSM_CREATE_IN_PROGRESS, HSM_DELETE_IN_PROGRESS)

CREATE, WAIT, DISCARD, DONE = "create", "wait", "discard", "done"


class ClusterCreationFailed(CloudHsmDrError):
    """The restored cluster ended DEGRADED, or disappeared, instead of becoming ACTIVE."""


class ClusterTimeout(CloudHsmDrError):
    """The restored cluster was not ACTIVE within cluster_timeout_minutes."""


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    availability_zone: str
    vpc_id: str


def zones_of(subnet_ids: Sequence[str], found: Sequence[Subnet], region: str) -> dict[str, str]:
    """{AZ: subnet} in the order given; CloudHSM wants one subnet per AZ, one VPC."""
    by_id = {s.subnet_id: s for s in found}
    missing = [s for s in subnet_ids if s not in by_id]
    if missing:
        raise InvalidInput("subnet_ids", f"{', '.join(missing)} not found in {region}")
    vpcs = sorted({by_id[s].vpc_id for s in subnet_ids})
    if len(vpcs) > 1:
        raise InvalidInput("subnet_ids", f"are in several VPCs ({', '.join(vpcs)}); use one VPC")
    zones: dict[str, str] = {}
    for subnet_id in subnet_ids:
        zone = by_id[subnet_id].availability_zone
        if zone in zones:
            raise InvalidInput(
                "subnet_ids",
                f"{zones[zone]} and {subnet_id} are both in {zone}: CloudHSM takes one subnet "
                "per Availability Zone",
            )
        zones[zone] = subnet_id
    return zones


def cluster_status(
    cluster: Cluster | None, cluster_id: str, deadline: datetime, now: datetime
) -> str:
    """The restored cluster's state, or the failure that stops the restore."""
    if cluster is None or cluster.state in ("DELETE_IN_PROGRESS", "DELETED"):
        state = "gone" if cluster is None else cluster.state
        raise ClusterCreationFailed(f"cluster {cluster_id} is {state}: something deleted it")
    if cluster.state == CLUSTER_DEGRADED:
        raise ClusterCreationFailed(
            f"cluster {cluster_id} ended DEGRADED ({cluster.state_message or 'no message'}). "
            "It is left as it is for you to inspect; delete it "
            f"(aws cloudhsmv2 delete-cluster --cluster-id {cluster_id}) and start again"
        )
    if cluster.state != CLUSTER_ACTIVE and now >= deadline:
        raise ClusterTimeout(f"cluster {cluster_id} is still {cluster.state} at the deadline")
    return cluster.state


@dataclass(frozen=True)
class HsmDecision:
    action: str  # CREATE, WAIT, DISCARD or DONE
    hsm_id: str | None = None  # the HSM to wait for or discard
    zone: str | None = None  # where to create
    notes: tuple[str, ...] = ()


def next_hsm(
    cluster: Cluster,
    *,
    target: int,
    zones: Sequence[str],
    created: Collection[str],
    degraded_zones: Sequence[str],
    failures_in_a_row: int,
    max_attempts: int,
) -> HsmDecision:
    """What to do to reach `target` ACTIVE HSMs; `created` are this run's HSM ids,
    `degraded_zones` one entry per HSM of this run that ended DEGRADED."""
    moving = [h for h in cluster.hsms if h.state in IN_TRANSIT]
    if moving:  # one HSM change at a time: finish the one under way first
        return HsmDecision(WAIT, hsm_id=moving[0].hsm_id)
    ours = [h for h in cluster.hsms if h.state == HSM_DEGRADED and h.hsm_id in created]
    if ours:
        return HsmDecision(DISCARD, hsm_id=ours[0].hsm_id, zone=ours[0].availability_zone)
    notes = tuple(
        f"HSM {h.hsm_id} in {h.availability_zone} is DEGRADED and was not created by this "
        "execution: it is left for an engineer to delete"
        for h in cluster.hsms
        if h.state == HSM_DEGRADED
    )
    active = [h for h in cluster.hsms if h.state == HSM_ACTIVE]
    if len(active) >= target:
        return HsmDecision(DONE, notes=notes)
    zone = choose_zone(zones, Counter(h.availability_zone for h in active), degraded_zones)
    # Only the failures since the last ACTIVE HSM, and only those in the zone chosen,
    # count against it: a swap to a spare zone starts that zone afresh.
    check_attempts(
        zone, degraded_zones[-failures_in_a_row:] if failures_in_a_row else (), max_attempts
    )
    return HsmDecision(CREATE, zone=zone, notes=notes)


def choose_zone(
    zones: Sequence[str], active_per_zone: Mapping[str, int], degraded_zones: Sequence[str]
) -> str:
    """Round robin: the zone with the fewest ACTIVE HSMs, in the order given, skipping
    zones where HSMs keep ending DEGRADED while another zone is left."""
    if not zones:
        raise InvalidInput("subnet_ids", "the cluster has no Availability Zone to place HSMs in")
    failures = Counter(degraded_zones)
    healthy = [z for z in zones if failures[z] < AZ_FAILURES_BEFORE_SWAP] or list(zones)
    return min(healthy, key=lambda z: (active_per_zone.get(z, 0), zones.index(z)))


def settled(status: str) -> bool:
    return status not in IN_TRANSIT


def quota_note(
    clusters: Sequence[Cluster], region: str, hsm_count: int, clusters_quota: int, hsms_quota: int
) -> str | None:
    """Refuse a restore the account's quotas cannot hold at all; warn when they hold
    the cluster and its first HSM but not every HSM asked for."""
    from lambdas.shared.errors import NoQuotaHeadroom

    live = [c for c in clusters if c.state not in ("DELETE_IN_PROGRESS", "DELETED")]
    if len(live) >= clusters_quota:
        raise NoQuotaHeadroom(
            f"{region} already has {len(live)} clusters, the quota is {clusters_quota}: "
            "delete one, or raise the quota (Service Quotas, AWS CloudHSM)"
        )
    hsms = sum(1 for c in live for h in c.hsms if h.state != HSM_DELETE_IN_PROGRESS)
    headroom = hsms_quota - hsms
    if headroom < 1:
        raise NoQuotaHeadroom(
            f"{region} already has {hsms} HSMs, the quota is {hsms_quota}: not even one HSM "
            "of the restored cluster would fit; raise the quota (Service Quotas, AWS CloudHSM)"
        )
    if headroom < hsm_count:
        return (
            f"the HSM quota in {region} leaves room for {headroom} of the {hsm_count} HSMs "
            "asked for: raise it (Service Quotas, AWS CloudHSM) to reach full HA"
        )
    return None
