"""The restore's job: the plan (fixed at identification) and the run (what happened),
as the state machine carries them at `$.job`. These helpers keep the run's records;
the AWS calls stay in the handler.

`run.times` holds the milestones (ISO strings, each set once); `run.hsms` the story of
each HSM seen (zone, created, ACTIVE, DEGRADED, removed); `run.created_hsm_ids` the
HSMs this execution created, the only ones it may delete.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lambdas.shared.deadlines import deadline
from lambdas.shared.errors import NotOwnedByThisRun
from lambdas.shared.models import HSM_ACTIVE, HSM_DEGRADED, Cluster

Job = dict[str, Any]


def new_run(started_at: str, now: datetime) -> dict[str, Any]:
    return {
        "step": "identify",
        "cluster_id": None,
        "cluster": None,
        "created_hsm_ids": [],
        "removed_hsm_ids": [],
        "hsms": {},
        "hsm": None,  # the HSM being created, waited for or discarded
        "next": None,  # the plan step's decision: create, wait, discard, done
        "failures_in_a_row": 0,
        "degraded_zones": [],  # one entry per HSM of this run that was discarded
        "notes": [],
        "times": {"started": started_at, "identified": now.isoformat()},
    }


def adopt(job: Job, cluster: Cluster, note: str, now: datetime) -> None:
    run = job["run"]
    run["cluster_id"] = cluster.cluster_id
    run["cluster"] = cluster_record(job, cluster, now)
    run["notes"].append(note.format(cluster.cluster_id))


def cluster_record(job: Job, cluster: Cluster | None, now: datetime) -> dict[str, Any]:
    return {
        "status": cluster.state if cluster else "UNKNOWN",
        "deadline": deadline(now, job["plan"]["cluster_timeout_minutes"]),
        "security_group": cluster.security_group if cluster else "",
    }


def waiting_on(
    plan: Mapping[str, Any], hsm_id: str, status: str, purpose: str, now: datetime
) -> dict[str, Any]:
    return {
        "hsm_id": hsm_id,
        "status": status,
        "purpose": purpose,  # create, discard, or wait (an HSM change under way)
        "deadline": deadline(now, plan["hsm_timeout_minutes"]),
    }


def refresh_hsms(run: dict[str, Any], cluster: Cluster, now: datetime) -> None:
    """Keep each HSM's story: its state and IP, when it became ACTIVE, and DEGRADED."""
    for hsm in cluster.hsms:
        record = run["hsms"].setdefault(hsm.hsm_id, {"availability_zone": hsm.availability_zone})
        record.update(state=hsm.state, eni_ip=hsm.eni_ip)
        if hsm.state == HSM_ACTIVE:
            record.setdefault("active_at", now.isoformat())
        elif hsm.state == HSM_DEGRADED:
            record.setdefault("degraded_at", now.isoformat())


def require_created(run: Mapping[str, Any], hsm_id: str) -> None:
    """The one guard in front of every DeleteHsm of the restore."""
    if hsm_id not in run["created_hsm_ids"]:
        raise NotOwnedByThisRun(
            f"refusing to delete HSM {hsm_id}: this execution did not create it"
        )


def active_ips(cluster: Cluster) -> list[str]:
    return sorted(h.eni_ip for h in cluster.hsms if h.state == HSM_ACTIVE and h.eni_ip)


def mark(run: dict[str, Any], milestone: str, now: datetime) -> None:
    run["times"].setdefault(milestone, now.isoformat())


def done(job: Job, step: str) -> Job:
    job["run"]["step"] = step
    return job
