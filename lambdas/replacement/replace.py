"""Pure decisions of the single-HSM replacement (runbook 9.2.2). No AWS calls.

Replacing is "capacity first": the new HSM is created in the failed HSM's zone and
must be ACTIVE before the failed one is deleted. A DEGRADED HSM still holds its ENI IP,
so the replacement gets a new IP; the old IP is reused only when the failed HSM is
already gone and the address is free. Deleting first to keep the IP would leave the
zone with nothing if the new HSM then fails (an unsupported AZ, a quota, a second
DEGRADED), and on a one-HSM cluster it would delete the only HSM there is.

Deletion is fenced twice: only an HSM the plan names (or one this run created), and
only when a fresh read shows it DEGRADED. An ACTIVE HSM is never deleted.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from lambdas.replacement.settings import ReplacementSettings
from lambdas.shared.errors import CloudHsmDrError, InvalidInput, NoQuotaHeadroom
from lambdas.shared.models import (
    CLUSTER_ACTIVE,
    CLUSTER_DEGRADED,
    HSM_ACTIVE,
    HSM_DEGRADED,
    HSM_DELETE_IN_PROGRESS,
    Cluster,
    Hsm,
)
from lambdas.shared.protected import CLUSTER_ID_PATTERN, HSM_ID_PATTERN, ProtectedCluster
from lambdas.shared.topology import TopologyCheck, check_topology

GONE = "GONE"  # what `hsm_status` reports once an HSM is no longer listed
# A cluster whose HSM failed may itself report DEGRADED; CloudHSM accepts HSMs then.
REPAIRABLE_CLUSTER_STATES = (CLUSTER_ACTIVE, CLUSTER_DEGRADED)
_IPV4 = r"^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$"

__all__ = ["NoQuotaHeadroom"]  # re-exported: the replacement raises it too


# Errors: the class names are the Step Functions error names ---------------------


class NothingToReplace(CloudHsmDrError):
    """The cluster has no DEGRADED HSM and no zone short of ACTIVE HSMs."""


class HsmNotFailed(CloudHsmDrError):
    """The HSM named to be replaced is not DEGRADED: a working HSM is never replaced."""


class ClusterChanging(CloudHsmDrError):
    """HSMs are being created or deleted (AWS may be replacing one itself): wait."""


class RefusedToDelete(CloudHsmDrError):
    """A delete was refused: not an HSM of the plan, or not DEGRADED on a fresh read."""


class ReplacementFailed(CloudHsmDrError):
    """Every HSM created for the replacement ended DEGRADED (bounded attempts)."""


class SyncTimeout(CloudHsmDrError):
    """The cluster did not show its desired ACTIVE HSMs in the zone within the timeout."""


# Input ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplacementRequest:
    cluster_id: str
    hsm_id: str | None  # the failed HSM; None: the plan picks a DEGRADED HSM or a gap
    ip_address: str | None  # the old IP of an HSM that is already gone, to reuse
    poll_seconds: int
    hsm_timeout_minutes: float
    trigger: str


def parse_request(event: Mapping[str, Any], defaults: ReplacementSettings) -> ReplacementRequest:
    """The execution input, checked field by field before anything is read or created."""
    if not isinstance(event, Mapping):
        raise InvalidInput("input", "must be a JSON object")
    cluster_id = event.get("cluster_id")
    if not isinstance(cluster_id, str) or not cluster_id:
        raise InvalidInput("cluster_id", "is required, e.g. cluster-igklspoyj5v")
    if not re.fullmatch(CLUSTER_ID_PATTERN, cluster_id):
        raise InvalidInput("cluster_id", f"{cluster_id!r} is not a CloudHSM cluster id")
    hsm_id = _optional(event, "hsm_id", HSM_ID_PATTERN, "an HSM id, e.g. hsm-abcdefghijk")
    ip_address = _optional(event, "ip_address", _IPV4, "an IPv4 address")
    poll = event.get("poll_seconds", defaults.poll_seconds)
    if isinstance(poll, bool) or not isinstance(poll, int) or not 1 <= poll <= 3600:
        raise InvalidInput("poll_seconds", "must be a whole number from 1 to 3600")
    timeout = event.get("hsm_timeout_minutes", defaults.hsm_timeout_minutes)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 1440:
        raise InvalidInput(
            "hsm_timeout_minutes", "must be a number of minutes above 0, at most 1440"
        )
    trigger = event.get("trigger", "operator")
    if not isinstance(trigger, str) or not re.fullmatch(r"[a-z-]{1,32}", trigger):
        raise InvalidInput("trigger", "must be a short lowercase word, e.g. health-check")
    return ReplacementRequest(
        cluster_id=cluster_id,
        hsm_id=hsm_id,
        ip_address=ip_address,
        poll_seconds=poll,
        hsm_timeout_minutes=float(timeout),
        trigger=trigger,
    )


def _optional(event: Mapping[str, Any], name: str, pattern: str, what: str) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise InvalidInput(name, f"{value!r} is not {what}")
    return value


# What to replace ------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One failed unit: a DEGRADED HSM (which also names its zone) or a zone short of HSMs."""

    availability_zone: str
    hsm: Hsm | None = None

    @property
    def key(self) -> str:
        """Stable name of the failure, for execution names: the HSM id, else the zone."""
        return self.hsm.hsm_id if self.hsm else self.availability_zone

    def describe(self) -> str:
        if self.hsm:
            return f"DEGRADED HSM {self.hsm.hsm_id} in {self.availability_zone}"
        return f"a missing HSM in {self.availability_zone}"


def select_target(check: TopologyCheck) -> Target | None:
    """The failure to repair first: a DEGRADED HSM in a zone that is short, then any
    DEGRADED HSM, then the zone missing the most HSMs. None when nothing is wrong."""
    short = {g.availability_zone for g in check.gaps}
    degraded = sorted(
        check.degraded, key=lambda h: (h.availability_zone not in short, h.availability_zone)
    )
    if degraded:
        return Target(degraded[0].availability_zone, degraded[0])
    if check.gaps:
        gap = sorted(check.gaps, key=lambda g: (-g.missing, g.availability_zone))[0]
        return Target(gap.availability_zone)
    return None


def create_zone(check: TopologyCheck, target: Target) -> str | None:
    """Where the new HSM goes: the failed HSM's zone if that zone is short, else the
    zone short of the most HSMs; None when every zone already has its desired HSMs
    (then only the DEGRADED HSM is deleted)."""
    short = {g.availability_zone: g.missing for g in check.gaps}
    if target.availability_zone in short:
        return target.availability_zone
    if short:
        return sorted(short, key=lambda zone: (-short[zone], zone))[0]
    return None


def choose_ip(
    requested: str | None, failed: Hsm | None, cluster: Cluster
) -> tuple[str | None, str]:
    """(IP for the new HSM or None for a new one, the reason, for people)."""
    if failed is not None:
        return None, (
            f"the DEGRADED HSM {failed.hsm_id} still holds {failed.eni_ip or 'its IP'}: the "
            "replacement takes a new IP so it can be ACTIVE before the failed HSM is deleted"
        )
    if requested is None:
        return None, "the failed HSM is gone and no IP of it was given: a new IP is used"
    holder = next((h for h in cluster.hsms if h.eni_ip == requested and h.state != "DELETED"), None)
    if holder is not None:
        return None, f"{requested} is held by {holder.hsm_id} ({holder.state}): a new IP is used"
    return requested, f"reusing {requested}, so clients configured with it keep working"


# The plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplacementPlan:
    cluster_id: str
    region: str
    label: str
    failed_hsm: dict[str, str] | None  # hsm_id, availability_zone, eni_ip, state_message
    create: bool
    zone: str  # where the replacement goes, or the failed HSM's zone when none is created
    ip_address: str | None
    ip_reason: str
    desired: dict[str, int]
    hsms_before: dict[str, dict[str, str]]  # hsm id -> zone, state, IP at the start
    max_attempts: int
    poll_seconds: int
    hsm_timeout_minutes: float
    started_at: str
    trigger: str

    @property
    def delete_failed(self) -> bool:
        return self.failed_hsm is not None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "delete_failed": self.delete_failed}


def make_plan(
    *,
    request: ReplacementRequest,
    spec: ProtectedCluster,
    cluster: Cluster | None,
    hsms_in_region: int,
    settings: ReplacementSettings,
    now: datetime,
) -> ReplacementPlan:
    """Decide what to replace and how, or refuse with the reason. Creates nothing."""
    if cluster is None:
        raise InvalidInput("cluster_id", f"{spec.label} does not exist in {spec.region}")
    if cluster.state not in REPAIRABLE_CLUSTER_STATES:
        raise InvalidInput(
            "cluster_id", f"{spec.label} is {cluster.state}; HSMs are replaced in ACTIVE clusters"
        )
    changing = [f"{h.hsm_id} {h.state}" for h in cluster.hsms if h.state in _IN_TRANSIT]
    if changing:
        raise ClusterChanging(
            f"{spec.label} has HSMs being created or deleted ({', '.join(changing)}); AWS may "
            "be replacing one itself. Check again when they are done."
        )
    check = check_topology(cluster, spec.hsms_per_az)
    target = _requested_target(request, spec, cluster, check)
    zone = create_zone(check, target)
    failed = target.hsm
    if zone is not None and hsms_in_region >= settings.hsms_per_region_quota:
        held = f" (the DEGRADED HSM {failed.hsm_id} holds one)" if failed else ""
        raise NoQuotaHeadroom(
            f"{spec.region} already has {hsms_in_region} HSMs, the quota is "
            f"{settings.hsms_per_region_quota}{held}: raise the quota, or delete the DEGRADED "
            "HSM by hand and replace it with its IP (hsmdr hsm replace --ip)"
        )
    ip, ip_reason = choose_ip(request.ip_address, failed, cluster) if zone else (None, "")
    return ReplacementPlan(
        cluster_id=cluster.cluster_id,
        region=spec.region,
        label=spec.label,
        failed_hsm=None
        if failed is None
        else {
            "hsm_id": failed.hsm_id,
            "availability_zone": failed.availability_zone,
            "eni_ip": failed.eni_ip,
            "state_message": failed.state_message,
        },
        create=zone is not None,
        zone=zone or target.availability_zone,
        ip_address=ip,
        ip_reason=ip_reason,
        desired=dict(spec.hsms_per_az),
        hsms_before={
            h.hsm_id: {"availability_zone": h.availability_zone, "state": h.state, "ip": h.eni_ip}
            for h in cluster.hsms
        },
        max_attempts=settings.max_attempts,
        poll_seconds=request.poll_seconds,
        hsm_timeout_minutes=request.hsm_timeout_minutes,
        started_at=now.isoformat(),
        trigger=request.trigger,
    )


_IN_TRANSIT = ("CREATE_IN_PROGRESS", HSM_DELETE_IN_PROGRESS)


def _requested_target(
    request: ReplacementRequest, spec: ProtectedCluster, cluster: Cluster, check: TopologyCheck
) -> Target:
    if request.hsm_id is None:
        target = select_target(check)
        if target is None:
            raise NothingToReplace(
                f"{spec.label} has no DEGRADED HSM and every zone has its desired ACTIVE HSMs"
            )
        return target
    named = next((h for h in cluster.hsms if h.hsm_id == request.hsm_id), None)
    if named is None:
        gaps = ", ".join(g.availability_zone for g in check.gaps) or "none"
        raise InvalidInput(
            "hsm_id",
            f"{request.hsm_id} is not an HSM of {spec.label} (already gone?); zones short of "
            f"HSMs: {gaps}. Leave hsm_id out to fill a gap.",
        )
    if named.state != HSM_DEGRADED:
        raise HsmNotFailed(
            f"{named.hsm_id} in {named.availability_zone} is {named.state}: only a DEGRADED "
            "HSM is replaced, a working one never is"
        )
    return Target(named.availability_zone, named)


# Guards and progress, used by the steps with a fresh read of the cluster ------------------


def hsm_status(cluster: Cluster, hsm_id: str) -> str:
    """State of one HSM of the cluster, or GONE once it is no longer listed."""
    found = next((h for h in cluster.hsms if h.hsm_id == hsm_id), None)
    return GONE if found is None or found.state == "DELETED" else found.state


DELETE = "delete"
ALREADY_GONE = "gone"
ALREADY_DELETING = "deleting"


def deletion_verdict(
    cluster: Cluster,
    hsm_id: str,
    allowed: Collection[str],
    replacement_id: str | None = None,
) -> tuple[str, str]:
    """May `hsm_id` be deleted now? (DELETE | ALREADY_GONE | ALREADY_DELETING, why), or
    RefusedToDelete. `cluster` must be read right before the DeleteHsm call.

    Refused: an HSM the plan does not name and this run did not create; an HSM in any
    state but DEGRADED (ACTIVE above all: a DEGRADED HSM never recovers, so nothing
    that is not DEGRADED is ours to remove); and, when a replacement was created, while
    that replacement is not ACTIVE (the zone would be left with nothing)."""
    if hsm_id not in allowed:
        raise RefusedToDelete(f"refusing to delete {hsm_id}: this run's plan does not name it")
    status = hsm_status(cluster, hsm_id)
    if status == GONE:
        return ALREADY_GONE, f"{hsm_id} is already gone"
    if status == HSM_DELETE_IN_PROGRESS:
        return ALREADY_DELETING, f"{hsm_id} is already being deleted"
    if status != HSM_DEGRADED:
        raise RefusedToDelete(f"refusing to delete {hsm_id}: it is {status}, not DEGRADED")
    if replacement_id is not None and hsm_status(cluster, replacement_id) != HSM_ACTIVE:
        raise RefusedToDelete(
            f"refusing to delete {hsm_id}: its replacement {replacement_id} is "
            f"{hsm_status(cluster, replacement_id)}, not ACTIVE"
        )
    return DELETE, f"{hsm_id} is DEGRADED"


def sync_waits(cluster: Cluster, plan: Mapping[str, Any]) -> list[str]:
    """What the cluster still lacks before this replacement is done; empty when done:
    the zone has its desired ACTIVE HSMs, nothing there is in transit, and the failed
    HSM is gone."""
    zone = plan["zone"]
    want = int(plan["desired"].get(zone, 0))
    in_zone = [h for h in cluster.hsms if h.availability_zone == zone]
    active = sum(1 for h in in_zone if h.state == HSM_ACTIVE)
    waits = []
    if active < want:
        waits.append(f"{zone} has {active} ACTIVE HSM(s) of {want}")
    waits += [f"{h.hsm_id} is {h.state}" for h in in_zone if h.state in _IN_TRANSIT]
    failed = plan.get("failed_hsm")
    if failed and hsm_status(cluster, failed["hsm_id"]) != GONE:
        waits.append(f"the failed HSM {failed['hsm_id']} is not gone yet")
    return waits
