"""Pure planning for an on-demand backup: CloudHSM has no backup API.

The service backs a cluster up when an HSM is added to or removed from an ACTIVE
cluster, so a backup is forced by one of two strategies:

- `add-temporary-hsm`: add one HSM in a zone the cluster already uses, wait for the
  backup that the addition triggers, remove the HSM again. Needs one HSM of quota.
- `cycle-hsm`: remove one HSM and re-create it in the same zone with the same ENI IP,
  so clients keep working. For accounts with no HSM headroom; on a one-HSM cluster it
  means downtime, so it needs `allow_downtime`.

Nothing here calls AWS: the handler gathers facts, these functions decide.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from lambdas.shared.errors import InvalidInput, NoQuotaHeadroom
from lambdas.shared.models import (
    BACKUP_CREATE_IN_PROGRESS,
    BACKUP_READY,
    CLUSTER_ACTIVE,
    HSM_ACTIVE,
    Backup,
    Cluster,
    Hsm,
)
from lambdas.shared.protected import CLUSTER_ID_PATTERN, ProtectedCluster
from lambdas.shared.settings import BackupSettings

ADD_TEMPORARY_HSM = "add-temporary-hsm"
CYCLE_HSM = "cycle-hsm"
STRATEGIES = (ADD_TEMPORARY_HSM, CYCLE_HSM)
MAX_HSM_ATTEMPTS = 3  # an HSM that ends DEGRADED is replaced at most this often


# The lock outlives the execution by this much, so the handler of a stopped execution
# still finds it held by that execution and releases it itself.
LOCK_MARGIN_MINUTES = 30


def workflow_timeout_minutes(hsm_timeout_minutes: float, backup_timeout_minutes: float) -> int:
    """The state machine's timeout: up to four HSM changes (create, discard, remove,
    clean-up) and the backup, plus an hour for polls and retries."""
    return int(4 * hsm_timeout_minutes + backup_timeout_minutes + 60)


def lock_ttl_seconds(settings: BackupSettings) -> int:
    """Never shorter than the state machine's timeout (both from the same settings): a
    lock that expired under a running execution would let a second one in."""
    timeout = workflow_timeout_minutes(
        settings.hsm_timeout_minutes, settings.backup_timeout_minutes
    )
    return (timeout + LOCK_MARGIN_MINUTES) * 60


@dataclass(frozen=True)
class OnDemandRequest:
    cluster_id: str
    strategy: str
    allow_downtime: bool
    poll_seconds: int
    hsm_timeout_minutes: float
    backup_timeout_minutes: float


def parse_request(event: Mapping[str, Any], defaults: BackupSettings) -> OnDemandRequest:
    """The execution input, checked field by field before anything is created."""
    if not isinstance(event, Mapping):
        raise InvalidInput("input", "must be a JSON object")
    cluster_id = event.get("cluster_id")
    if not isinstance(cluster_id, str) or not cluster_id:
        raise InvalidInput("cluster_id", "is required, e.g. cluster-igklspoyj5v")
    if not re.fullmatch(CLUSTER_ID_PATTERN, cluster_id):
        raise InvalidInput("cluster_id", f"{cluster_id!r} is not a CloudHSM cluster id")
    strategy = event.get("strategy") or defaults.default_strategy
    if strategy not in STRATEGIES:
        raise InvalidInput("strategy", f"{strategy!r} is not one of {', '.join(STRATEGIES)}")
    allow_downtime = event.get("allow_downtime", False)
    if not isinstance(allow_downtime, bool):
        raise InvalidInput("allow_downtime", "must be true or false")
    return OnDemandRequest(
        cluster_id=cluster_id,
        strategy=strategy,
        allow_downtime=allow_downtime,
        poll_seconds=_positive_int(event, "poll_seconds", defaults.poll_seconds, 3600),
        hsm_timeout_minutes=_minutes(event, "hsm_timeout_minutes", defaults.hsm_timeout_minutes),
        backup_timeout_minutes=_minutes(
            event, "backup_timeout_minutes", defaults.backup_timeout_minutes
        ),
    )


def _minutes(event: Mapping[str, Any], name: str, default: float) -> float:
    value = event.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 24 * 60:
        raise InvalidInput(name, "must be a number of minutes above 0 and at most 1440")
    return float(value)


def _positive_int(event: Mapping[str, Any], name: str, default: int, maximum: int) -> int:
    value = event.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(name, f"must be a whole number from 1 to {maximum}")
    return value


@dataclass(frozen=True)
class CycledHsm:
    hsm_id: str
    availability_zone: str
    eni_ip: str


@dataclass(frozen=True)
class Plan:
    cluster_id: str
    region: str
    strategy: str
    zones: tuple[str, ...]  # where to create the HSM, first choice first
    hsms_before: tuple[str, ...]
    hsms_per_az_before: Mapping[str, int]
    cycled: CycledHsm | None
    started_at: str
    poll_seconds: int
    hsm_timeout_minutes: float
    backup_timeout_minutes: float
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hsms_per_az_before"] = dict(self.hsms_per_az_before)
        return data


def make_plan(
    *,
    request: OnDemandRequest,
    spec: ProtectedCluster | None,
    cluster: Cluster | None,
    hsms_in_region: int,
    settings: BackupSettings,
    now: datetime,
) -> Plan:
    """Decide how to force the backup, or refuse with the reason, creating nothing."""
    if spec is None:
        raise InvalidInput(
            "cluster_id", f"{request.cluster_id} is not a protected cluster of this deployment"
        )
    if cluster is None:
        raise InvalidInput("cluster_id", f"{spec.label} does not exist in {spec.region}")
    if cluster.state != CLUSTER_ACTIVE:
        raise InvalidInput(
            "cluster_id",
            f"{spec.label} is {cluster.state}; a backup can only be forced on an ACTIVE cluster",
        )
    active = [h for h in cluster.hsms if h.state == HSM_ACTIVE]
    if not active:
        raise InvalidInput("cluster_id", f"{spec.label} has no ACTIVE HSM to back up")
    busy = [h.hsm_id for h in cluster.hsms if h.state not in (HSM_ACTIVE, "DEGRADED")]
    if busy:
        raise InvalidInput(
            "cluster_id", f"{spec.label} has HSMs being created or deleted: {', '.join(busy)}"
        )
    per_az = Counter(h.availability_zone for h in cluster.hsms)
    plan = Plan(
        cluster_id=cluster.cluster_id,
        region=spec.region,
        strategy=request.strategy,
        zones=(),
        hsms_before=tuple(sorted(h.hsm_id for h in cluster.hsms)),
        hsms_per_az_before=dict(sorted(per_az.items())),
        cycled=None,
        started_at=now.isoformat(),
        poll_seconds=request.poll_seconds,
        hsm_timeout_minutes=request.hsm_timeout_minutes,
        backup_timeout_minutes=request.backup_timeout_minutes,
    )
    if request.strategy == ADD_TEMPORARY_HSM:
        if hsms_in_region >= settings.hsms_per_region_quota:
            raise NoQuotaHeadroom(
                f"{spec.region} already has {hsms_in_region} HSMs, the quota is "
                f"{settings.hsms_per_region_quota}: use strategy cycle-hsm, or raise the quota"
            )
        return replace(plan, zones=_zones_for_temporary_hsm(active))
    if len(active) < 2 and not request.allow_downtime:
        raise InvalidInput(
            "allow_downtime",
            f"{spec.label} has one ACTIVE HSM: cycling it stops the cluster until the "
            "HSM is back; set allow_downtime to true to accept that",
        )
    victim = _hsm_to_cycle(active, per_az)
    cycled = CycledHsm(victim.hsm_id, victim.availability_zone, victim.eni_ip)
    return replace(plan, zones=(victim.availability_zone,), cycled=cycled)


def _zones_for_temporary_hsm(active: Sequence[Hsm]) -> tuple[str, ...]:
    # Zones the cluster already uses, fewest HSMs first (the temporary HSM then adds
    # the least concentration); the others stay as fallbacks if a zone fails.
    counts = Counter(h.availability_zone for h in active)
    return tuple(sorted(counts, key=lambda zone: (counts[zone], zone)))


def _hsm_to_cycle(active: Sequence[Hsm], per_az: Mapping[str, int]) -> Hsm:
    # From the most crowded zone, so the cluster keeps its spread while one is away.
    return sorted(active, key=lambda h: (-per_az[h.availability_zone], h.hsm_id))[0]


def newest_backup_since(backups: Sequence[Backup], started_at: datetime) -> Backup | None:
    """The backup the forced HSM change produced: the newest one created since start."""
    fresh = [
        b
        for b in backups
        if b.create_timestamp is not None
        and b.create_timestamp >= started_at
        and b.state in (BACKUP_READY, BACKUP_CREATE_IN_PROGRESS)
    ]
    return max(fresh, key=lambda b: b.create_timestamp or started_at, default=None)


def missing_hsms(cluster: Cluster, before: Mapping[str, int]) -> dict[str, int]:
    """Per zone, how many HSMs the cluster has fewer than when the run started."""
    now_per_az = Counter(
        h.availability_zone for h in cluster.hsms if h.state != "DELETE_IN_PROGRESS"
    )
    return {
        zone: count - now_per_az.get(zone, 0)
        for zone, count in before.items()
        if now_per_az.get(zone, 0) < count
    }
