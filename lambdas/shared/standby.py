"""Standby clusters (pilot-light and warm-standby postures) as pure decisions. No
boto3 here.

A pilot-light posture keeps, per protected cluster and DR region, one standby cluster
restored from the newest READY copy there, with no HSM (a cluster without HSMs costs
nothing). A warm-standby posture keeps the same standby with one ACTIVE HSM (charged
by the hour), so a restore only re-points clients and adds HSMs for HA. The standby
refresher (lambdas/standby/) creates and deletes them (and, warm, their one HSM), the
restore adopts one, and verification reports one that is missing, stale, DEGRADED,
holding an HSM under pilot light or without its HSM under warm standby. All three
read the same tags, defined here.

A cluster is this deployment's standby of cluster X only when it carries
`managed-by=cloudhsm-dr`, `hsmdr:deployment=<this deployment>` and
`hsmdr:standby-of=X`: nothing else is ever deleted by the refresher, and IAM allows
DeleteCluster only on clusters so tagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from lambdas.shared.copies import (
    DEPLOYMENT_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    SOURCE_BACKUP_KEY,
    SOURCE_CLUSTER_KEY,
)
from lambdas.shared.models import (
    BACKUP_READY,
    CLUSTER_DEGRADED,
    HSM_ACTIVE,
    HSM_CREATE_IN_PROGRESS,
    HSM_DEGRADED,
    HSM_DELETE_IN_PROGRESS,
    Backup,
    Cluster,
    Hsm,
)
from lambdas.shared.protected import (
    POSTURE_COLD,
    POSTURE_PILOT_LIGHT,
    POSTURE_WARM_STANDBY,
    STANDBY_POSTURES,
)

STANDBY_OF_KEY = "hsmdr:standby-of"
# A restore that adopts a standby tags it with its restore id (lambdas/restore/tags.py):
# from then on it is that restore's cluster, no longer a standby.
ADOPTED_BY_KEY = "hsmdr:restore-id"
BACKUP_TIME_KEY = "hsmdr:backup-time"  # the copy's CreateTimestamp, ISO 8601 UTC
NAME_KEY = "Name"
# Every key the refresher's CreateCluster may send (IAM aws:TagKeys allows these only).
STANDBY_TAG_KEYS = (
    MANAGED_BY_KEY,
    DEPLOYMENT_KEY,
    STANDBY_OF_KEY,
    SOURCE_BACKUP_KEY,
    SOURCE_CLUSTER_KEY,
    BACKUP_TIME_KEY,
    NAME_KEY,
)
CLUSTER_ACTIVE = "ACTIVE"
_GONE = ("DELETE_IN_PROGRESS", "DELETED")
_FAILED = ("CREATE_FAILED", "DEGRADED")
_NEVER = datetime.min.replace(tzinfo=UTC)


def standby_tags(deployment: str, cluster_id: str, copy: Backup) -> dict[str, str]:
    """The TagList of a new standby of `cluster_id` restored from `copy`."""
    created = copy.create_timestamp
    return {
        MANAGED_BY_KEY: MANAGED_BY_VALUE,
        DEPLOYMENT_KEY: deployment,
        STANDBY_OF_KEY: cluster_id,
        SOURCE_BACKUP_KEY: copy.backup_id,
        SOURCE_CLUSTER_KEY: cluster_id,
        BACKUP_TIME_KEY: created.strftime("%Y-%m-%dT%H:%M:%SZ") if created else "unknown",
        NAME_KEY: f"standby-{cluster_id}",
    }


def is_standby_of(tags: Mapping[str, str], deployment: str, cluster_id: str) -> bool:
    """True when `tags` say: this deployment's standby of `cluster_id`, not adopted by
    a restore."""
    return (
        tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE
        and tags.get(DEPLOYMENT_KEY) == deployment
        and tags.get(STANDBY_OF_KEY) == cluster_id
        and ADOPTED_BY_KEY not in tags
    )


def standbys_of(clusters: Sequence[Cluster], deployment: str, cluster_id: str) -> list[Cluster]:
    """The live standbys of `cluster_id` in one region's DescribeClusters answer."""
    return [
        c
        for c in clusters
        if c.state not in _GONE and is_standby_of(c.tags, deployment, cluster_id)
    ]


def backup_time(cluster: Cluster) -> datetime | None:
    """When the backup a standby was restored from was taken (its tag), if known."""
    raw = cluster.tags.get(BACKUP_TIME_KEY, "")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def newest_ready_copy(copies: Sequence[Backup]) -> Backup | None:
    ready = [c for c in copies if c.state == BACKUP_READY and c.create_timestamp is not None]
    return max(ready, key=lambda c: (c.create_timestamp, c.backup_id), default=None)


def live_hsms(cluster: Cluster) -> list[Hsm]:
    """HSMs that are there or coming (a DELETE_IN_PROGRESS one is going, and free)."""
    return [h for h in cluster.hsms if h.state not in (HSM_DELETE_IN_PROGRESS, "DELETED")]


def serving_hsm(cluster: Cluster) -> Hsm | None:
    """A warm standby's ACTIVE HSM, if it has one."""
    return next((h for h in cluster.hsms if h.state == HSM_ACTIVE), None)


def _newest(standbys: Sequence[Cluster]) -> Cluster | None:
    return max(standbys, key=lambda s: (backup_time(s) or _NEVER, s.cluster_id), default=None)


def usable_standby(standbys: Sequence[Cluster]) -> Cluster | None:
    """The pilot-light standby a restore may adopt: ACTIVE, no HSM, the newest backup."""
    return _newest([s for s in standbys if s.state == CLUSTER_ACTIVE and not s.hsms])


def warm_standby(standbys: Sequence[Cluster]) -> Cluster | None:
    """The warm standby a restore may adopt: ACTIVE with an ACTIVE HSM and no DEGRADED
    one, the newest backup."""
    fit = [
        s
        for s in standbys
        if s.state == CLUSTER_ACTIVE
        and serving_hsm(s) is not None
        and not any(h.state == HSM_DEGRADED for h in s.hsms)
    ]
    return _newest(fit)


# The refresher's plan -------------------------------------------------------------


@dataclass(frozen=True)
class RefreshPlan:
    """What one refresh does for one protected cluster in one region, and why.

    `refusals` are what the refresher could not do and a person must fix (a quota, a
    standby with no subnet to put its HSM in): they are alerted, not only logged."""

    cluster_id: str
    region: str
    newest_copy: str | None
    create_from: str | None = None  # a copy id: create a standby from it
    delete: tuple[str, ...] = ()  # old standbys, once the current one is ACTIVE
    current: str | None = None  # the standby of the newest copy, if any
    notes: tuple[str, ...] = field(default=())
    posture: str = POSTURE_PILOT_LIGHT
    create_hsm_in: str | None = None  # warm: the standby that gets its one HSM
    hsm_zone: str | None = None  # ... in this Availability Zone
    delete_hsms: tuple[tuple[str, str], ...] = ()  # (standby, HSM) the refresher deletes
    refusals: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "cluster_id": self.cluster_id,
            "region": self.region,
            "posture": self.posture,
            "newest_copy": self.newest_copy,
            "create_from": self.create_from,
            "create_hsm_in": self.create_hsm_in,
            "hsm_zone": self.hsm_zone,
            "delete_hsms": [list(pair) for pair in self.delete_hsms],
            "delete": list(self.delete),
            "current": self.current,
            "notes": list(self.notes),
            "refusals": list(self.refusals),
        }


def plan_refresh(
    *,
    deployment: str,
    cluster_id: str,
    region: str,
    clusters: Sequence[Cluster],
    copies: Sequence[Backup],
    clusters_quota: int,
    posture: str = POSTURE_PILOT_LIGHT,
    hsms_quota: int = 6,
) -> RefreshPlan:
    """One standby per (cluster, region), from the newest READY copy.

    - no standby of the newest copy: create one, if the region's cluster count leaves
      room under the quota;
    - warm standby: once that standby is ACTIVE, give it one HSM (if the region's HSM
      quota leaves room); an HSM of it that ended DEGRADED is deleted (it never
      recovers) and another is created on the next run;
    - the standby of the newest copy is ready (ACTIVE; warm: with an ACTIVE HSM):
      delete the older standbys. Pilot light never deletes one holding an HSM (a drill
      or a person put it there); warm standby deletes their HSMs first, then them;
    - otherwise wait (the new one is still being created), keeping the older ones.
    """
    if posture not in STANDBY_POSTURES:
        raise ValueError(f"posture: {posture!r} keeps no standby")
    mine = standbys_of(clusters, deployment, cluster_id)
    newest = newest_ready_copy(copies)
    base = RefreshPlan(cluster_id, region, None, posture=posture)
    if newest is None:
        return replace(
            base, notes=(f"no READY copy of {cluster_id} in {region}: no standby can be made",)
        )
    base = replace(base, newest_copy=newest.backup_id)
    current = [s for s in mine if s.source_backup_id == newest.backup_id and s.state not in _FAILED]
    if not current:
        live = sum(1 for c in clusters if c.state not in _GONE)
        if live + 1 > clusters_quota:
            return replace(
                base,
                refusals=(
                    f"the quota of {clusters_quota} clusters in {region} is used up ({live} "
                    f"live): no standby of {newest.backup_id} was created",
                ),
            )
        return replace(base, create_from=newest.backup_id)
    standby = current[0]
    base = replace(base, current=standby.cluster_id)
    if standby.state != CLUSTER_ACTIVE:
        return replace(
            base, notes=(f"standby {standby.cluster_id} is {standby.state}: older ones are kept",)
        )
    if posture == POSTURE_WARM_STANDBY and serving_hsm(standby) is None:
        return _warm_up(base, standby, clusters, hsms_quota)
    old = [s for s in mine if s.cluster_id != standby.cluster_id]
    retire = _retire_warm if posture == POSTURE_WARM_STANDBY else _retire_pilot
    return retire(base, old)


def _retire_pilot(plan: RefreshPlan, old: Sequence[Cluster]) -> RefreshPlan:
    """The current pilot-light standby is ACTIVE: the older ones without HSMs go."""
    notes = tuple(
        f"standby {s.cluster_id} holds {len(s.hsms)} HSM(s): not deleted (a restore may be "
        "using it)"
        for s in old
        if s.hsms
    )
    return replace(plan, delete=tuple(sorted(s.cluster_id for s in old if not s.hsms)), notes=notes)


def _warm_up(
    plan: RefreshPlan, standby: Cluster, clusters: Sequence[Cluster], hsms_quota: int
) -> RefreshPlan:
    """The current warm standby has no ACTIVE HSM yet: create it, wait for it, or
    first delete one that ended DEGRADED. Older standbys are kept meanwhile."""
    hsms = live_hsms(standby)
    degraded = tuple((standby.cluster_id, h.hsm_id) for h in hsms if h.state == HSM_DEGRADED)
    # One HSM change at a time, as CloudHSM wants: wait for one being created or deleted.
    moving = [
        h for h in standby.hsms if h.state in (HSM_CREATE_IN_PROGRESS, HSM_DELETE_IN_PROGRESS)
    ]
    if degraded or moving:
        waiting = (
            f"HSM {moving[0].hsm_id} of standby {standby.cluster_id} is {moving[0].state}"
            if moving
            else f"HSM(s) of standby {standby.cluster_id} ended DEGRADED: deleted, another is "
            "created on the next run"
        )
        return replace(plan, delete_hsms=degraded, notes=(f"{waiting}; older ones are kept",))
    used = sum(len(live_hsms(c)) for c in clusters if c.state not in _GONE)
    if used + 1 > hsms_quota:
        return replace(
            plan,
            refusals=(
                f"the quota of {hsms_quota} HSMs in {plan.region} is used up ({used} live): "
                f"warm standby {standby.cluster_id} got no HSM",
            ),
        )
    zones = sorted(standby.subnet_mapping)
    failed = {h.availability_zone for h in standby.hsms if h.state == HSM_DEGRADED}
    zone = next((z for z in zones if z not in failed), zones[0] if zones else None)
    if zone is None:
        return replace(
            plan,
            refusals=(
                f"warm standby {standby.cluster_id} has no subnet (SubnetMapping is empty): "
                "no HSM can be created in it",
            ),
        )
    return replace(plan, create_hsm_in=standby.cluster_id, hsm_zone=zone)


def _retire_warm(plan: RefreshPlan, old: Sequence[Cluster]) -> RefreshPlan:
    """The current warm standby serves: the older ones lose their HSMs, then go."""
    delete_hsms: list[tuple[str, str]] = []
    delete: list[str] = []
    notes: list[str] = []
    for s in sorted(old, key=lambda c: c.cluster_id):
        coming = [h for h in s.hsms if h.state == HSM_CREATE_IN_PROGRESS]
        going = [h for h in s.hsms if h.state == HSM_DELETE_IN_PROGRESS]
        if coming:  # CloudHSM deletes no HSM that is still being created
            notes.append(f"standby {s.cluster_id}: HSM {coming[0].hsm_id} is being created")
        elif live_hsms(s):
            delete_hsms += [(s.cluster_id, h.hsm_id) for h in live_hsms(s)]
        elif going:
            notes.append(f"standby {s.cluster_id}: waiting for its HSM to be deleted")
        else:
            delete.append(s.cluster_id)
    return replace(plan, delete=tuple(delete), delete_hsms=tuple(delete_hsms), notes=tuple(notes))


# What a restore does with one -----------------------------------------------------


@dataclass(frozen=True)
class PostureChoice:
    """The posture a restore used, and why."""

    posture: str  # "warm-standby", "pilot-light" (adopted a standby) or "cold"
    reason: str
    standby_id: str | None = None
    backup_id: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "posture": self.posture,
            "posture_reason": self.reason,
            "standby_cluster_id": self.standby_id,
        }


def _age(now: datetime, taken: datetime) -> str:
    return str(now - taken).split(".")[0]


def _not_adoptable(
    standby: Cluster, now: datetime, rpo: timedelta, requested_backup: str | None
) -> str | None:
    """Why a restore may not adopt `standby`, or None when it may."""
    taken = backup_time(standby)
    if taken is None or now - taken > rpo:
        age = "unknown" if taken is None else _age(now, taken)
        return (
            f"standby {standby.cluster_id}'s backup is older than the RPO (age {age}): "
            "cold restore from the newest copy"
        )
    if requested_backup and requested_backup != standby.source_backup_id:
        return (
            f"backup {requested_backup} was asked for and standby {standby.cluster_id} holds "
            f"{standby.source_backup_id}: cold restore"
        )
    return None


def choose_posture(
    *,
    configured: str,
    standbys: Sequence[Cluster],
    now: datetime,
    rpo: timedelta,
    requested_backup: str | None = None,
) -> PostureChoice:
    """Warm standby: adopt the standby whose HSM is ACTIVE, when its backup is within
    the RPO (and is the backup asked for, if one was): clients are re-pointed and HSMs
    added for HA only. Pilot light (or a warm standby whose HSM is not ACTIVE): adopt
    the standby with no HSM on the same terms and create its HSMs. Else cold, saying
    why."""
    if configured not in STANDBY_POSTURES:
        return PostureChoice(POSTURE_COLD, f"the configured posture is {configured}")
    prefix = configured
    if configured == POSTURE_WARM_STANDBY:
        warm = warm_standby(standbys)
        why = (
            _not_adoptable(warm, now, rpo, requested_backup)
            if warm
            else "no ACTIVE standby with an ACTIVE HSM"
        )
        if warm is None or why is not None:
            prefix = f"warm-standby, but {(why or '').split(':')[0]}; as pilot-light"
        else:
            taken = backup_time(warm) or now
            hsm = serving_hsm(warm)
            return PostureChoice(
                POSTURE_WARM_STANDBY,
                f"adopted warm standby {warm.cluster_id} (backup {warm.source_backup_id}, "
                f"taken {_age(now, taken)} ago, within the RPO; HSM "
                f"{hsm.hsm_id if hsm else '?'} already ACTIVE): clients are re-pointed and "
                "HSMs added for HA only",
                standby_id=warm.cluster_id,
                backup_id=warm.source_backup_id,
            )
    standby = usable_standby(standbys)
    if standby is None:
        states = ", ".join(f"{s.cluster_id} {s.state} {len(s.hsms)} HSM(s)" for s in standbys)
        why = f"no ACTIVE standby without HSMs ({states})" if standbys else "no standby found"
        return PostureChoice(POSTURE_COLD, f"{prefix}, but {why}: cold restore")
    refused = _not_adoptable(standby, now, rpo, requested_backup)
    if refused is not None:
        return PostureChoice(POSTURE_COLD, f"{prefix}, but {refused}")
    taken = backup_time(standby) or now
    lead = "" if configured == POSTURE_PILOT_LIGHT else f"{prefix}: "
    return PostureChoice(
        POSTURE_PILOT_LIGHT,
        f"{lead}adopted standby {standby.cluster_id} (backup {standby.source_backup_id}, "
        f"taken {_age(now, taken)} ago, within the RPO): only HSMs are created",
        standby_id=standby.cluster_id,
        backup_id=standby.source_backup_id,
    )


# What verification says about them ------------------------------------------------


@dataclass(frozen=True)
class StandbyProblem:
    kind: str  # "missing" | "stale" | "degraded" | "holds-hsm" | "no-hsm"
    cluster_id: str
    region: str
    standby_id: str | None
    detail: str
    posture: str = POSTURE_PILOT_LIGHT


def standby_problems(
    *,
    deployment: str,
    cluster_id: str,
    region: str,
    clusters: Sequence[Cluster],
    now: datetime,
    rpo: timedelta,
    posture: str = POSTURE_PILOT_LIGHT,
) -> list[StandbyProblem]:
    """Missing (no ACTIVE standby), stale (the newest ACTIVE one is older than the
    RPO), DEGRADED (a standby or its HSM), and per posture: pilot light holding an HSM
    (charged by the hour), warm standby whose newest standby has no ACTIVE HSM."""
    mine = standbys_of(clusters, deployment, cluster_id)

    def problem(kind: str, standby_id: str | None, detail: str) -> StandbyProblem:
        return StandbyProblem(kind, cluster_id, region, standby_id, detail, posture)

    problems = [
        problem(
            "degraded",
            s.cluster_id,
            f"cluster {s.state}"
            if s.state == CLUSTER_DEGRADED
            else "HSM(s) DEGRADED: "
            + ", ".join(h.hsm_id for h in s.hsms if h.state == HSM_DEGRADED),
        )
        for s in mine
        if s.state == CLUSTER_DEGRADED or any(h.state == HSM_DEGRADED for h in s.hsms)
    ]
    if posture == POSTURE_PILOT_LIGHT:
        problems += [
            problem(
                "holds-hsm",
                s.cluster_id,
                f"{len(s.hsms)} HSM(s): {', '.join(h.hsm_id for h in s.hsms)}",
            )
            for s in mine
            if s.hsms
        ]
    active = [s for s in mine if s.state == CLUSTER_ACTIVE]
    if not active:
        states = ", ".join(f"{s.cluster_id} {s.state}" for s in mine) or "none"
        problems.append(problem("missing", None, states))
        return problems
    newest = max(active, key=lambda s: (backup_time(s) or _NEVER, s.cluster_id))
    taken = backup_time(newest)
    if taken is None or now - taken > rpo:
        age = "unknown" if taken is None else _age(now, taken)
        problems.append(problem("stale", newest.cluster_id, f"backup age {age}"))
    if posture == POSTURE_WARM_STANDBY and not any(serving_hsm(s) for s in active):
        states = ", ".join(f"{h.hsm_id} {h.state}" for h in newest.hsms) or "no HSM"
        problems.append(problem("no-hsm", newest.cluster_id, states))
    return problems


# What each posture costs ----------------------------------------------------------

HOURS_PER_MONTH = 730  # AWS prices a month as 730 hours
# A warm standby is rotated onto each new copy (daily, `schedules.copy_backups`): the
# new standby's HSM runs beside the old one from its CreateHsm until the old one is
# deleted, about one refresh interval (hourly) plus a deletion (10 to 15 minutes).
ROTATION_OVERLAP_HOURS = 1.25


@dataclass(frozen=True)
class PostureCost:
    posture: str
    hsm_hours_per_month: float
    usd_per_month: float
    basis: str

    def to_dict(self) -> dict[str, object]:
        return {
            "posture": self.posture,
            "hsm_hours_per_month": self.hsm_hours_per_month,
            "usd_per_month": self.usd_per_month,
            "basis": self.basis,
        }


def posture_cost(
    posture: str,
    hsm_hour_usd: float,
    *,
    rotations_per_month: float = 30,
    overlap_hours: float = ROTATION_OVERLAP_HOURS,
) -> PostureCost:
    """The standing HSM cost of keeping a posture in one DR region for one cluster
    (`drills.hsm_hour_usd`, an assumed price). Clusters without HSMs cost nothing."""
    if posture == POSTURE_WARM_STANDBY:
        hours = HOURS_PER_MONTH + rotations_per_month * overlap_hours
        basis = (
            f"one HSM for {HOURS_PER_MONTH} h, plus {rotations_per_month:g} rotations onto a "
            f"new copy x {overlap_hours:g} h of two HSMs"
        )
    elif posture in (POSTURE_PILOT_LIGHT, POSTURE_COLD):
        hours = 0.0
        basis = "no HSM is kept (a cluster without HSMs, and copies, cost nothing)"
    else:
        raise ValueError(f"posture: {posture!r} is not one of cold, pilot-light, warm-standby")
    return PostureCost(posture, round(hours, 2), round(hours * hsm_hour_usd, 2), basis)
