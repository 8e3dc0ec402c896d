"""What every step of the drill uses: the clock, the gateways, the protected clusters,
the job's run record, and the checks that a cluster is this drill's own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lambdas.drill.plan import (
    DRILL_KEY,
    NotOwnedByThisDrill,
    borrowed_problem,
    network_plan,
    ownership_problem,
)
from lambdas.drill.settings import DrillSettings
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import (
    Cluster,
)
from lambdas.shared.protected import ProtectedCluster
from lambdas.shared.settings import VerificationSettings

Job = dict[str, Any]
SERVICE = "dr-drill"  # stacks.names.DR_DRILL: the metrics' service dimension
LIVE = ("DELETE_IN_PROGRESS", "DELETED")


def utc_now() -> datetime:
    return datetime.now(UTC)


def gateway_in(region: str, *, retried: bool = True) -> CloudHsmGateway:
    # CreateCluster and CreateHsm are not retried by the SDK: a retry after a lost
    # response could create a second resource. The state machine retries the step,
    # and the step first looks for what an earlier try created.
    if retried:
        return CloudHsmGateway.for_region(region)
    return CloudHsmGateway.for_region(region, max_attempts=1)


def protected() -> dict[str, ProtectedCluster]:
    return {c.id: c for c in VerificationSettings.from_env().clusters}


def mark(run: dict[str, Any], milestone: str, now: datetime | None = None) -> None:
    run["times"].setdefault(milestone, (now or utc_now()).isoformat())


def done(job: Job, step: str) -> Job:
    job["run"]["step"] = step
    return job


def network_rules(job: Job, settings: DrillSettings, drill_group: str) -> Any:
    plan_ = job["plan"]
    return network_plan(
        drill_region=plan_["region"],
        verifier_region=settings.primary_region,
        verifier_group=settings.verifier_security_group,
        drill_group=drill_group,
        verifier_cidrs=settings.verifier_cidrs,
        drill_subnet_cidrs=plan_["subnet_cidrs"],
        execution_name=plan_["execution"].rsplit(":", 1)[-1],
    )


# -----------------------------------------------------------------------------------


def tagged(gateway: CloudHsmGateway, execution: str) -> list[Cluster]:
    return [
        c
        for c in gateway.describe_clusters()
        if c.tags.get(DRILL_KEY) == execution and c.state not in LIVE
    ]


def borrowed(job: Job, cluster_id: str) -> bool:
    """Whether `cluster_id` is the standby this drill borrowed (never deleted by it)."""
    return bool(cluster_id) and job["plan"].get("standby_cluster_id") == cluster_id


def _problem(job: Job, cluster_id: str, tags: dict[str, str] | None) -> str | None:
    plan_ = job["plan"]
    if borrowed(job, cluster_id):
        return borrowed_problem(
            cluster_id,
            tags,
            deployment=plan_["deployment"],
            source_cluster=plan_["source_cluster_id"],
            protected=protected(),
        )
    return ownership_problem(cluster_id, tags, plan_["execution"], protected())


def owned_cluster(job: Job, cluster_id: str) -> Cluster:
    """The drill cluster, or the standby it borrowed, with its tags checked."""
    cluster = gateway_in(job["plan"]["region"]).find_clusters([cluster_id]).get(cluster_id)
    problem = _problem(job, cluster_id, dict(cluster.tags) if cluster else None)
    if problem or cluster is None:
        raise NotOwnedByThisDrill(problem or f"drill cluster {cluster_id} is gone")
    return cluster


def require_owned(job: Job, cluster_id: str, gateway: CloudHsmGateway | None = None) -> None:
    """The cluster's tags, read now, must name this execution (or, for the borrowed
    standby, still say it is this deployment's standby); never a production one."""
    gateway = gateway or gateway_in(job["plan"]["region"])
    tags = gateway.list_tags(cluster_id)
    problem = _problem(job, cluster_id, tags)
    if problem:
        raise NotOwnedByThisDrill(f"refusing to delete anything in {cluster_id}: {problem}")


def cluster_record(cluster: Cluster, region: str) -> dict[str, Any]:
    return {
        "cluster_id": cluster.cluster_id,
        "region": region,
        "state": cluster.state,
        "security_group": cluster.security_group or None,
        "vpc_id": cluster.vpc_id or None,
    }


def hsm_record(hsm_id: str, zone: str, created_at: str | None) -> dict[str, Any]:
    """An HSM of the drill, billed from `created_at` (CreateHsm) until seen gone."""
    return {"hsm_id": hsm_id, "zone": zone, "created_at": created_at, "gone_at": None}


def gone(run: dict[str, Any], hsm_id: str, now: datetime) -> None:
    for record in run["hsms"]:
        if record["hsm_id"] == hsm_id and not record.get("gone_at"):
            record["gone_at"] = now.isoformat()
