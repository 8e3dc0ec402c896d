"""Pilot-light standby clusters as pure decisions. No boto3 here.

A pilot-light posture keeps, per protected cluster and DR region, one standby cluster
restored from the newest READY copy there, with no HSM (a cluster without HSMs costs
nothing). The standby refresher (lambdas/standby/) creates and deletes them, the
restore adopts one, and verification reports one that is missing, stale or holding
an HSM. All three read the same tags, defined here.

A cluster is this deployment's standby of cluster X only when it carries
`managed-by=cloudhsm-dr`, `hsmdr:deployment=<this deployment>` and
`hsmdr:standby-of=X`: nothing else is ever deleted by the refresher, and IAM allows
DeleteCluster only on clusters so tagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lambdas.shared.copies import (
    DEPLOYMENT_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    SOURCE_BACKUP_KEY,
    SOURCE_CLUSTER_KEY,
)
from lambdas.shared.models import BACKUP_READY, Backup, Cluster

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


def usable_standby(standbys: Sequence[Cluster]) -> Cluster | None:
    """The standby a restore may adopt: ACTIVE, no HSM, the newest backup."""
    fit = [s for s in standbys if s.state == CLUSTER_ACTIVE and not s.hsms]
    return max(fit, key=lambda s: (backup_time(s) or _NEVER, s.cluster_id), default=None)


# The refresher's plan -------------------------------------------------------------


@dataclass(frozen=True)
class RefreshPlan:
    """What one refresh does for one protected cluster in one region, and why."""

    cluster_id: str
    region: str
    newest_copy: str | None
    create_from: str | None = None  # a copy id: create a standby from it
    delete: tuple[str, ...] = ()  # old standbys, once the current one is ACTIVE
    current: str | None = None  # the standby of the newest copy, if any
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {
            "cluster_id": self.cluster_id,
            "region": self.region,
            "newest_copy": self.newest_copy,
            "create_from": self.create_from,
            "delete": list(self.delete),
            "current": self.current,
            "notes": list(self.notes),
        }


def plan_refresh(
    *,
    deployment: str,
    cluster_id: str,
    region: str,
    clusters: Sequence[Cluster],
    copies: Sequence[Backup],
    clusters_quota: int,
) -> RefreshPlan:
    """One standby per (cluster, region), from the newest READY copy.

    - no standby of the newest copy: create one, if the region's cluster count leaves
      room under the quota;
    - the standby of the newest copy is ACTIVE: delete the older standbys (never one
      holding an HSM: a restore may be using it);
    - otherwise wait (the new one is still being created).
    """
    mine = standbys_of(clusters, deployment, cluster_id)
    newest = newest_ready_copy(copies)
    if newest is None:
        return RefreshPlan(
            cluster_id,
            region,
            None,
            notes=(f"no READY copy of {cluster_id} in {region}: no standby can be made",),
        )
    current = [s for s in mine if s.source_backup_id == newest.backup_id and s.state not in _FAILED]
    if not current:
        live = sum(1 for c in clusters if c.state not in _GONE)
        if live + 1 > clusters_quota:
            return RefreshPlan(
                cluster_id,
                region,
                newest.backup_id,
                notes=(
                    f"the quota of {clusters_quota} clusters in {region} is used up ({live} "
                    f"live): no standby of {newest.backup_id} was created",
                ),
            )
        return RefreshPlan(cluster_id, region, newest.backup_id, create_from=newest.backup_id)
    standby = current[0]
    if standby.state != CLUSTER_ACTIVE:
        return RefreshPlan(
            cluster_id,
            region,
            newest.backup_id,
            current=standby.cluster_id,
            notes=(f"standby {standby.cluster_id} is {standby.state}: older ones are kept",),
        )
    old = [s for s in mine if s.cluster_id != standby.cluster_id]
    kept = [s for s in old if s.hsms]
    notes = tuple(
        f"standby {s.cluster_id} holds {len(s.hsms)} HSM(s): not deleted (a restore may be "
        "using it)"
        for s in kept
    )
    return RefreshPlan(
        cluster_id,
        region,
        newest.backup_id,
        current=standby.cluster_id,
        delete=tuple(sorted(s.cluster_id for s in old if not s.hsms)),
        notes=notes,
    )


# What a restore does with one -----------------------------------------------------


@dataclass(frozen=True)
class PostureChoice:
    """The posture a restore used, and why."""

    posture: str  # "pilot-light" (adopted a standby) or "cold"
    reason: str
    standby_id: str | None = None
    backup_id: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "posture": self.posture,
            "posture_reason": self.reason,
            "standby_cluster_id": self.standby_id,
        }


def choose_posture(
    *,
    configured: str,
    standbys: Sequence[Cluster],
    now: datetime,
    rpo: timedelta,
    requested_backup: str | None = None,
) -> PostureChoice:
    """Adopt the standby when the posture is pilot-light and its backup is within the
    RPO (and is the backup asked for, if one was); else restore cold, saying why."""
    if configured != "pilot-light":
        return PostureChoice("cold", f"the configured posture is {configured}")
    standby = usable_standby(standbys)
    if standby is None:
        states = ", ".join(f"{s.cluster_id} {s.state} {len(s.hsms)} HSM(s)" for s in standbys)
        why = f"no ACTIVE standby without HSMs ({states})" if standbys else "no standby found"
        return PostureChoice("cold", f"pilot-light, but {why}: cold restore")
    taken = backup_time(standby)
    if taken is None or now - taken > rpo:
        age = "unknown" if taken is None else str(now - taken).split(".")[0]
        return PostureChoice(
            "cold",
            f"pilot-light, but standby {standby.cluster_id}'s backup is older than the RPO "
            f"(age {age}): cold restore from the newest copy",
        )
    if requested_backup and requested_backup not in (standby.source_backup_id, None):
        return PostureChoice(
            "cold",
            f"pilot-light, but backup {requested_backup} was asked for and standby "
            f"{standby.cluster_id} holds {standby.source_backup_id}: cold restore",
        )
    return PostureChoice(
        "pilot-light",
        f"adopted standby {standby.cluster_id} (backup {standby.source_backup_id}, "
        f"taken {str(now - taken).split('.')[0]} ago, within the RPO): only HSMs are created",
        standby_id=standby.cluster_id,
        backup_id=standby.source_backup_id,
    )


# What verification says about them ------------------------------------------------


@dataclass(frozen=True)
class StandbyProblem:
    kind: str  # "missing" | "stale" | "holds-hsm"
    cluster_id: str
    region: str
    standby_id: str | None
    detail: str


def standby_problems(
    *,
    deployment: str,
    cluster_id: str,
    region: str,
    clusters: Sequence[Cluster],
    now: datetime,
    rpo: timedelta,
) -> list[StandbyProblem]:
    mine = standbys_of(clusters, deployment, cluster_id)
    problems = [
        StandbyProblem(
            "holds-hsm",
            cluster_id,
            region,
            s.cluster_id,
            f"{len(s.hsms)} HSM(s): {', '.join(h.hsm_id for h in s.hsms)}",
        )
        for s in mine
        if s.hsms
    ]
    active = [s for s in mine if s.state == CLUSTER_ACTIVE]
    if not active:
        states = ", ".join(f"{s.cluster_id} {s.state}" for s in mine) or "none"
        problems.append(StandbyProblem("missing", cluster_id, region, None, states))
        return problems
    newest = max(active, key=lambda s: (backup_time(s) or _NEVER, s.cluster_id))
    taken = backup_time(newest)
    if taken is None or now - taken > rpo:
        age = "unknown" if taken is None else str(now - taken).split(".")[0]
        problems.append(
            StandbyProblem("stale", cluster_id, region, newest.cluster_id, f"backup age {age}")
        )
    return problems
