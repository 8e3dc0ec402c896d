"""Pure decisions of the DR drill (runbook 9.3): what to restore, where, which HSM to
wait for, and what teardown may delete. No AWS calls here; the handler
(lambdas/drill/handler.py) gathers the facts and applies the decisions.

Safety rules that live here, so they are tested without AWS:
- nothing is created before the input, the backup, the subnets and the quotas pass;
- a production (protected) cluster is never a drill cluster: it is refused as input and
  refused again by `ownership_problem` before any delete;
- teardown deletes only a cluster whose id this execution recorded (or found by its own
  `hsmdr:drill` tag) and whose `hsmdr:drill` tag, read again right before each delete,
  is this execution's id;
- a drill of a pilot-light or warm-standby posture borrows the region's standby
  instead of creating a cluster: it never deletes that cluster, and deletes only the
  HSMs it created there, after re-reading the standby's tags (`borrowed_problem`);
- in the recovery account (source `vault`) the drill restores a vault backup and never
  touches a vault cluster or backup: `ownership_problem` refuses anything tagged
  `hsmdr:vault`, whatever its `hsmdr:drill` tag says.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lambdas.drill.settings import DrillSettings
from lambdas.shared.backups import restore_incompatibility
from lambdas.shared.copies import (
    DEPLOYMENT_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    SOURCE_BACKUP_KEY,
    SOURCE_CLUSTER_KEY,
)
from lambdas.shared.errors import (
    BackupNotFound,
    CloudHsmDrError,
    InvalidInput,
)
from lambdas.shared.models import (
    BACKUP_CREATE_IN_PROGRESS,
    BACKUP_DELETED,
    BACKUP_PENDING_DELETION,
    BACKUP_READY,
    CLUSTER_ACTIVE,
    HSM_ACTIVE,
    HSM_CREATE_IN_PROGRESS,
    HSM_DEGRADED,
    HSM_DELETE_IN_PROGRESS,
    Backup,
    Cluster,
)
from lambdas.shared.protected import (
    BACKUP_ID_PATTERN,
    CLUSTER_ID_PATTERN,
    POSTURE_COLD,
    ProtectedCluster,
)
from lambdas.shared.standby import PostureChoice, choose_posture, is_standby_of, standbys_of
from lambdas.shared.vault_tags import DRILL_KEY as _DRILL_KEY
from lambdas.shared.vault_tags import VAULT_KEY

DR_COPY = "dr-copy"
PRIMARY = "primary"
SOURCES = (DR_COPY, PRIMARY)
DRILL_KEY = _DRILL_KEY  # value: the execution id (ARN) that created the cluster
VAULT = "vault"  # the vault stack's drill: the newest READY vault backup, in the vault region
NAME_KEY = "Name"
# Every key CreateCluster may send: IAM's aws:TagKeys condition allows these only.
DRILL_TAG_KEYS = (
    MANAGED_BY_KEY,
    DEPLOYMENT_KEY,
    DRILL_KEY,
    SOURCE_BACKUP_KEY,
    SOURCE_CLUSTER_KEY,
    NAME_KEY,
)
CREATABLE_HSM_TYPE = "hsm2m.medium"  # the only HsmType CloudHSM still creates
DEFAULT_MODE = "FIPS"  # backups from before modes existed are FIPS
SUBNET_ID_PATTERN = r"^subnet-[0-9a-f]{8,17}$"
MAX_SUBNETS = 10  # CreateCluster's limit
FIELDS = frozenset({"cluster", "backup_id", "source", "poll_seconds", "subnet_ids", "trigger"})
# Names someone might use to point a drill at an existing cluster: always refused.
TARGET_FIELDS = frozenset({"target_cluster_id", "drill_cluster_id"})
DELETABLE_CLUSTER_STATES = ("UNINITIALIZED", "INITIALIZED", "ACTIVE", "DEGRADED")
GONE = "GONE"

# What `check_*` steps report about the thing they wait on.
WAITING, READY_STATUS, FAILED_STATUS = "WAITING", "ACTIVE", "DEGRADED"


# Errors (class names are the Step Functions error names) --------------------------


class ProductionClusterRefused(CloudHsmDrError):
    """A production (protected) cluster was named where a drill cluster would go."""


class BackupNotReady(CloudHsmDrError):
    """The backup exists but is not READY: CloudHSM restores only READY backups."""


class NoQuotaHeadroom(CloudHsmDrError):
    """The drill's cluster or HSM would exceed the account's quota in the region."""


class DrillClusterFailed(CloudHsmDrError):
    """The drill cluster ended DEGRADED or disappeared instead of becoming ACTIVE."""


class DrillClusterTimeout(CloudHsmDrError):
    """The drill cluster was not ACTIVE within cluster_timeout_minutes."""


class NotOwnedByThisDrill(CloudHsmDrError):
    """A delete was refused: the cluster is not this execution's drill cluster."""


class TeardownIncomplete(CloudHsmDrError):
    """The drill cluster was not gone by the teardown deadline."""


# The request ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillRequest:
    cluster_id: str  # the protected cluster whose backup is drilled
    source: str  # dr-copy | primary; vault in the recovery account
    poll_seconds: int
    trigger: str
    backup_id: str | None = None
    subnet_ids: tuple[str, ...] | None = None  # None: drills.subnets of the backup's region


def parse_request(event: Any, settings: DrillSettings, protected: Collection[str]) -> DrillRequest:
    """The execution input, checked field by field before anything is read or created."""
    if not isinstance(event, Mapping):
        raise InvalidInput("input", "must be a JSON object")
    for name in sorted(TARGET_FIELDS & set(event)):
        value = event[name]
        if isinstance(value, str) and value in protected:
            raise ProductionClusterRefused(
                f"{name}: {value} is a production cluster of this deployment: a drill never "
                "restores into, changes or deletes it; it creates its own isolated cluster"
            )
        raise InvalidInput(
            name, "a drill always creates its own isolated cluster; no target can be given"
        )
    unknown = sorted(set(event) - FIELDS)
    if unknown:
        raise InvalidInput("input", f"unknown field(s) {unknown}; known: {sorted(FIELDS)}")
    cluster_id = event.get("cluster") or settings.default_cluster
    if not isinstance(cluster_id, str) or not re.fullmatch(CLUSTER_ID_PATTERN, cluster_id):
        raise InvalidInput("cluster", f"{cluster_id!r} is not a CloudHSM cluster id")
    if cluster_id not in protected:
        raise InvalidInput(
            "cluster", f"{cluster_id} is not a protected cluster: a drill tests their backups"
        )
    source = event.get("source") or settings.default_source
    sources = (VAULT,) if settings.vault_deployment else SOURCES
    if source not in sources:
        where = (
            " (the vault stack's drill restores vault backups only)"
            if settings.vault_deployment
            else ""
        )
        raise InvalidInput("source", f"{source!r} is not one of {', '.join(sources)}{where}")
    backup_id = event.get("backup_id") or None
    if backup_id is not None and (
        not isinstance(backup_id, str) or not re.fullmatch(BACKUP_ID_PATTERN, backup_id)
    ):
        raise InvalidInput("backup_id", f"{backup_id!r} is not a CloudHSM backup id")
    poll = event.get("poll_seconds", settings.poll_seconds)
    if isinstance(poll, bool) or not isinstance(poll, int) or not 1 <= poll <= 3600:
        raise InvalidInput("poll_seconds", "must be a whole number from 1 to 3600")
    trigger = event.get("trigger", "manual")
    if not isinstance(trigger, str) or not re.fullmatch(r"[A-Za-z0-9 _.:/-]{1,64}", trigger):
        raise InvalidInput("trigger", "must be a short label such as schedule or manual")
    return DrillRequest(
        cluster_id=cluster_id,
        source=source,
        poll_seconds=poll,
        trigger=trigger,
        backup_id=backup_id,
        subnet_ids=_subnets(event.get("subnet_ids")),
    )


def _subnets(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_SUBNETS
        or not all(isinstance(s, str) and re.fullmatch(SUBNET_ID_PATTERN, s) for s in value)
        or len(set(value)) != len(value)
    ):
        raise InvalidInput(
            "subnet_ids",
            f"must be a list of 1 to {MAX_SUBNETS} distinct subnet ids like subnet-0a1b2c3d",
        )
    return tuple(value)


# The backup --------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillBackup:
    backup: Backup
    region: str  # where it is, so where the drill cluster goes
    # dr-copy (a copy in a DR region), primary (the cluster's own region) or vault (a
    # vault backup in the vault region, seen as a backup of its production cluster)
    source: str
    hsm_type: str  # of the drill cluster
    mode: str


def choose_backup(
    request: DrillRequest,
    spec: ProtectedCluster,
    found: Mapping[str, Sequence[Backup]],
    dr_regions: Sequence[str],
) -> DrillBackup:
    """The backup to drill, from `found` (backups by region: with a backup_id, those
    with that id; for dr-copy, every backup of each DR region; for primary, the
    cluster's own region's; for vault, the vault region's vault backups only, each as a
    backup of its production cluster: lambdas/shared/vault_backups.py)."""
    if request.backup_id is not None:
        backup, region = _given(request.backup_id, found)
        if backup.origin_cluster != spec.id:
            raise InvalidInput(
                "backup_id",
                f"{backup.backup_id} holds the keys of {backup.origin_cluster or 'no cluster'}, "
                f"not of {spec.id}",
            )
        home = PRIMARY if region == spec.region else DR_COPY
        source = VAULT if request.source == VAULT else home
    elif request.source == VAULT:
        backup, region = _newest_ready(
            spec.id, found, hint="check that the vault refresh ran (docs/runbooks/vault.md)"
        )
        source = VAULT
    elif request.source == DR_COPY:
        if not dr_regions:
            raise InvalidInput(
                "source",
                "dr-copy needs DR regions (dr_regions) holding copies; this deployment has "
                "none: run with source primary or set drills.source: primary",
            )
        backup, region = _newest_ready(spec.id, {r: found.get(r, ()) for r in dr_regions})
        source = DR_COPY
    else:
        backup, region = _newest_ready(spec.id, {spec.region: found.get(spec.region, ())})
        source = PRIMARY
    if backup.state != BACKUP_READY:
        raise BackupNotReady(
            f"backup {backup.backup_id} in {region} is {backup.state}: CloudHSM restores "
            "only READY backups; choose a READY one or leave backup_id out for the newest"
        )
    mode = backup.mode or DEFAULT_MODE
    reason = restore_incompatibility(backup.hsm_type, mode, CREATABLE_HSM_TYPE, mode)
    if reason:
        raise BackupNotReady(f"backup {backup.backup_id} cannot be restored: {reason}")
    return DrillBackup(backup, region, source, CREATABLE_HSM_TYPE, mode)


def _given(backup_id: str, found: Mapping[str, Sequence[Backup]]) -> tuple[Backup, str]:
    for region, backups in found.items():
        for backup in backups:
            if backup.backup_id == backup_id:
                return backup, region
    raise BackupNotFound(f"backup {backup_id} not found in {', '.join(found) or 'any region'}")


def _newest_ready(
    cluster_id: str,
    found: Mapping[str, Sequence[Backup]],
    hint: str = "check the copy job: hsmdr backup list",
) -> tuple[Backup, str]:
    candidates = [
        (b, region)
        for region, backups in found.items()
        for b in backups
        if b.origin_cluster == cluster_id
        and b.state == BACKUP_READY
        and b.create_timestamp is not None
    ]
    if not candidates:
        where = ", ".join(found) or "no region"
        raise BackupNotFound(
            f"no READY backup of {cluster_id} in {where}: there is nothing a real restore "
            f"could start from there ({hint})"
        )
    order = list(found)
    return max(
        candidates,
        key=lambda c: (c[0].create_timestamp, -order.index(c[1]), c[0].backup_id),
    )


# Every protected cluster, one after the other ---------------------------------------------

SCHEDULED = "schedule"  # the trigger the drill's schedule starts it with


def next_scheduled_cluster(
    *, trigger: str, cluster_id: str, order: Sequence[str], vault: bool
) -> str | None:
    """A scheduled drill from the vault drills every protected cluster, one per
    execution (two drill clusters at once are refused): the cluster after this one in
    the config's order, None after the last, for a drill started by hand, and in the
    main stack (whose schedule drills drills.cluster)."""
    if not vault or trigger != SCHEDULED or cluster_id not in order:
        return None
    index = list(order).index(cluster_id)
    return order[index + 1] if index + 1 < len(order) else None


def chained_execution_name(execution: str, cluster_id: str) -> str:
    """The next cluster's execution name: the same for a retried report step, so a
    second StartExecution finds the first instead of starting another drill."""
    digest = hashlib.sha256(execution.encode()).hexdigest()[:16]
    return f"{cluster_id}-after-{digest}"[:80]


# Where the cluster goes ------------------------------------------------------------------


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    availability_zone: str
    vpc_id: str
    cidr: str = ""


def drill_subnets(request: DrillRequest, settings: DrillSettings, region: str) -> tuple[str, ...]:
    if request.subnet_ids is not None:
        return request.subnet_ids
    configured = settings.subnets.get(region)
    if not configured:
        raise InvalidInput(
            "subnet_ids",
            f"no drill subnets for {region}, where the backup is: add drills.subnets.{region} "
            "(isolated subnets, one per Availability Zone) or pass subnet_ids",
        )
    return tuple(configured)


def zones_of(subnet_ids: Sequence[str], found: Sequence[Subnet], region: str) -> dict[str, str]:
    """{AZ: subnet} in the order given; CloudHSM wants one subnet per AZ, in one VPC."""
    by_id = {s.subnet_id: s for s in found}
    missing = [s for s in subnet_ids if s not in by_id]
    if missing:
        raise InvalidInput("subnet_ids", f"{', '.join(missing)} not found in {region}")
    if len({by_id[s].vpc_id for s in subnet_ids}) > 1:
        raise InvalidInput("subnet_ids", "are in several VPCs; CloudHSM takes one VPC")
    zones: dict[str, str] = {}
    for subnet_id in subnet_ids:
        zone = by_id[subnet_id].availability_zone
        if zone in zones:
            raise InvalidInput(
                "subnet_ids", f"{zones[zone]} and {subnet_id} are both in {zone}: one per AZ"
            )
        zones[zone] = subnet_id
    return zones


def check_quota(
    clusters: Sequence[Cluster],
    region: str,
    clusters_quota: int,
    hsms_quota: int,
    *,
    new_clusters: int = 1,
    new_hsms: int = 1,
) -> None:
    """A cold drill needs one more cluster and one HSM in the region; a drill of a
    pilot-light standby one HSM; of a warm standby nothing more."""
    live = [c for c in clusters if c.state not in ("DELETE_IN_PROGRESS", "DELETED")]
    if new_clusters and len(live) + new_clusters > clusters_quota:
        raise NoQuotaHeadroom(
            f"{region} already has {len(live)} clusters, the quota is {clusters_quota}: the "
            "drill cluster would not fit; raise the quota (Service Quotas, AWS CloudHSM)"
        )
    hsms = sum(1 for c in live for h in c.hsms if h.state != HSM_DELETE_IN_PROGRESS)
    if new_hsms and hsms + new_hsms > hsms_quota:
        raise NoQuotaHeadroom(
            f"{region} already has {hsms} HSMs, the quota is {hsms_quota}: the drill's HSM "
            "would not fit; raise the quota (Service Quotas, AWS CloudHSM)"
        )


def drill_tags(
    deployment: str, execution: str, backup_id: str, source_cluster: str
) -> dict[str, str]:
    return {
        MANAGED_BY_KEY: MANAGED_BY_VALUE,
        DEPLOYMENT_KEY: deployment,
        DRILL_KEY: execution,
        SOURCE_BACKUP_KEY: backup_id,
        SOURCE_CLUSTER_KEY: source_cluster,
        NAME_KEY: f"drill-{source_cluster}",
    }


# Waiting ---------------------------------------------------------------------------------


def deadline(now: datetime, minutes: float) -> str:
    return (now + timedelta(minutes=minutes)).isoformat()


def passed(deadline_iso: str, now: datetime) -> bool:
    return now >= datetime.fromisoformat(deadline_iso)


def cluster_status(
    cluster: Cluster | None, cluster_id: str, deadline_iso: str, now: datetime
) -> str:
    if cluster is None or cluster.state in ("DELETE_IN_PROGRESS", "DELETED"):
        state = "gone" if cluster is None else cluster.state
        raise DrillClusterFailed(f"drill cluster {cluster_id} is {state}: something deleted it")
    if cluster.state == "DEGRADED":
        raise DrillClusterFailed(
            f"drill cluster {cluster_id} ended DEGRADED ({cluster.state_message or 'no message'})"
        )
    if cluster.state == CLUSTER_ACTIVE:
        return READY_STATUS
    if passed(deadline_iso, now):
        raise DrillClusterTimeout(f"drill cluster {cluster_id} is still {cluster.state}")
    return WAITING


def hsm_status(cluster: Cluster, hsm_id: str) -> str:
    for hsm in cluster.hsms:
        if hsm.hsm_id == hsm_id:
            return hsm.state
    return GONE


def next_zone(zones: Sequence[str], degraded_zones: Sequence[str]) -> str:
    """The first zone where fewest of this drill's HSMs ended DEGRADED (an AZ without
    CloudHSM capacity keeps failing: move on)."""
    return min(zones, key=lambda z: (degraded_zones.count(z), zones.index(z)))


# Teardown ------------------------------------------------------------------------------


def ownership_problem(
    cluster_id: str, tags: Mapping[str, str] | None, execution: str, protected: Collection[str]
) -> str | None:
    """Why this execution may not delete (anything in) `cluster_id`, or None.
    `tags` are the cluster's tags read just now (None: the cluster is gone)."""
    if cluster_id in protected:
        return f"{cluster_id} is a production cluster of this deployment"
    if tags is None:
        return None
    if VAULT_KEY in tags:
        return f"{cluster_id} is a vault cluster ({VAULT_KEY}): a drill never changes the vault"
    found = tags.get(DRILL_KEY)
    if found != execution:
        return (
            f"{cluster_id} is tagged {DRILL_KEY}={found!r}, not this execution ({execution})"
            if found
            else f"{cluster_id} carries no {DRILL_KEY} tag: it is not a drill cluster"
        )
    return None


def borrowed_problem(
    cluster_id: str,
    tags: Mapping[str, str] | None,
    *,
    deployment: str,
    source_cluster: str,
    protected: Collection[str],
) -> str | None:
    """Why this drill may not touch the standby it borrowed, or None. Read right
    before each HSM change: still this deployment's standby of the drilled cluster,
    not adopted by a restore. (Its cluster is never deleted, whatever this says.)"""
    if cluster_id in protected:
        return f"{cluster_id} is a production cluster of this deployment"
    if tags is None:
        return f"standby {cluster_id} is gone"
    if not is_standby_of(tags, deployment, source_cluster):
        return (
            f"{cluster_id}'s tags no longer say it is {deployment}'s standby of "
            f"{source_cluster} (a restore may have adopted it)"
        )
    return None


def drill_posture(
    *,
    spec: ProtectedCluster,
    region: str,
    backup_id_given: bool,
    clusters: Sequence[Cluster],
    deployment: str,
    now: datetime,
    rpo: timedelta,
) -> PostureChoice:
    """The posture the drill exercises: the one configured in the drill's region, so a
    pilot-light or warm-standby cluster is drilled from its standby (the head start
    is measured, not assumed); cold when the region is cold, a backup was asked for,
    or the standby cannot be used (and why: a finding the report carries)."""
    configured = spec.posture(region)
    if backup_id_given and configured != POSTURE_COLD:
        return PostureChoice(
            POSTURE_COLD,
            f"a backup_id was given: drilled cold, not the configured {configured} posture",
        )
    return choose_posture(
        configured=configured,
        standbys=standbys_of(clusters, deployment, spec.id),
        now=now,
        rpo=rpo,
    )


@dataclass(frozen=True)
class TeardownDecision:
    delete_hsms: tuple[str, ...]
    delete_cluster: bool
    waiting: tuple[str, ...]
    gone: bool


def plan_borrowed_teardown(cluster: Cluster | None, created: Collection[str]) -> TeardownDecision:
    """One round of giving a borrowed standby back: only the HSMs this drill created
    are deleted; the cluster (and an HSM the standby had before) stays. `gone` means
    none of the drill's HSMs is left."""
    hsms = [h for h in (cluster.hsms if cluster else ()) if h.hsm_id in created]
    to_delete = tuple(
        h.hsm_id for h in hsms if h.state in (HSM_ACTIVE, HSM_DEGRADED, HSM_CREATE_IN_PROGRESS)
    )
    deleting = [h.hsm_id for h in hsms if h.state == HSM_DELETE_IN_PROGRESS]
    if not to_delete and not deleting:
        return TeardownDecision((), False, (), gone=True)
    waits = tuple(
        f"HSM {h} of the borrowed standby is being deleted" for h in (*deleting, *to_delete)
    )
    return TeardownDecision(to_delete, False, waits, False)


def plan_teardown(cluster: Cluster | None) -> TeardownDecision:
    """One round of tearing a drill cluster down: HSMs first, then the cluster."""
    if cluster is None or cluster.state == "DELETED":
        return TeardownDecision((), False, (), gone=True)
    name = cluster.cluster_id
    if cluster.state == "DELETE_IN_PROGRESS":
        return TeardownDecision((), False, (f"cluster {name} is DELETE_IN_PROGRESS",), False)
    to_delete = tuple(
        h.hsm_id
        for h in cluster.hsms
        if h.state in (HSM_ACTIVE, HSM_DEGRADED, HSM_CREATE_IN_PROGRESS)
    )
    deleting = [h.hsm_id for h in cluster.hsms if h.state == HSM_DELETE_IN_PROGRESS]
    if to_delete or deleting:
        waits = tuple(f"HSM {h} is being deleted" for h in (*deleting, *to_delete))
        return TeardownDecision(to_delete, False, waits, False)
    if cluster.state not in DELETABLE_CLUSTER_STATES:
        return TeardownDecision(
            (), False, (f"cluster {name} is {cluster.state}: deleted once it settles",), False
        )
    return TeardownDecision((), True, (f"cluster {name} is being deleted",), False)


@dataclass(frozen=True)
class BackupCleanup:
    delete: tuple[str, ...]
    waiting: tuple[str, ...]
    left: tuple[str, ...]  # will not be deleted by this drill: the reason for each

    @property
    def done(self) -> bool:
        return not self.delete and not self.waiting


def plan_backup_cleanup(
    backups: Sequence[Backup], *, waited_since: datetime, now: datetime, wait_minutes: float
) -> BackupCleanup:
    """Backups CloudHSM made of the drill cluster (removing its HSM makes one, and the
    service never deletes a cluster's last backup): delete the READY ones, wait a while
    for one still CREATE_IN_PROGRESS, then leave it and say so."""
    delete, waiting, left = [], [], []
    patience_over = now - waited_since >= timedelta(minutes=wait_minutes)
    for backup in backups:
        if backup.state in (BACKUP_PENDING_DELETION, BACKUP_DELETED):
            continue
        if backup.state == BACKUP_READY:
            delete.append(backup.backup_id)
        elif backup.state == BACKUP_CREATE_IN_PROGRESS and not patience_over:
            waiting.append(f"backup {backup.backup_id} of the drill cluster is CREATE_IN_PROGRESS")
        else:
            left.append(
                f"backup {backup.backup_id} of the drill cluster is {backup.state} after "
                f"{wait_minutes:g} minutes: delete it once READY (aws cloudhsmv2 delete-backup "
                f"--backup-id {backup.backup_id})"
            )
    return BackupCleanup(tuple(delete), tuple(waiting), tuple(left))


# Network: letting the key verifier reach the drill cluster ------------------------------

HSM_PORTS = (2223, 2225)  # CloudHSM client to HSM (facts page)


@dataclass(frozen=True)
class NetworkPlan:
    ingress: dict[str, Any] | None  # on the drill cluster's security group
    egress: dict[str, Any] | None  # on the verifier's security group
    problem: str | None = None  # why the verifier cannot reach the cluster


def network_plan(
    *,
    drill_region: str,
    verifier_region: str,
    verifier_group: str,
    drill_group: str,
    verifier_cidrs: Sequence[str],
    drill_subnet_cidrs: Sequence[str],
    execution_name: str,
) -> NetworkPlan:
    """Same region: group references both ways (the verifier's VPC must be the drill
    subnets' VPC). Another region: security groups cannot reference each other across
    regions, so CIDRs: the verifier's subnets (drills.verifier_cidrs, routed to the
    drill VPC by peering or a transit gateway) in, the drill subnets out."""
    description = f"cloudhsm-dr drill {execution_name}"[:255]
    if drill_region == verifier_region:
        return NetworkPlan(
            ingress=_permission(groups=[verifier_group], description=description),
            egress=_permission(groups=[drill_group], description=description),
        )
    if not verifier_cidrs:
        return NetworkPlan(
            None,
            None,
            problem=(
                f"the key verifier runs in {verifier_region} and the drill cluster is in "
                f"{drill_region}: set drills.verifier_cidrs to the verifier subnets' CIDRs "
                "(routed to the drill VPC by peering or a transit gateway)"
            ),
        )
    return NetworkPlan(
        ingress=_permission(cidrs=list(verifier_cidrs), description=description),
        egress=_permission(cidrs=list(drill_subnet_cidrs), description=description),
    )


def _permission(
    *, description: str, groups: Sequence[str] = (), cidrs: Sequence[str] = ()
) -> dict[str, Any]:
    permission: dict[str, Any] = {
        "IpProtocol": "tcp",
        "FromPort": HSM_PORTS[0],
        "ToPort": HSM_PORTS[1],
    }
    if groups:
        permission["UserIdGroupPairs"] = [
            {"GroupId": g, "Description": description} for g in groups
        ]
    if cidrs:
        permission["IpRanges"] = [{"CidrIp": c, "Description": description} for c in cidrs]
    return permission
