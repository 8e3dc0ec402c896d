"""The result of a successful HSM replacement: what was done, what the cluster is now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lambdas.replacement.alerts import replacement_success_alert
from lambdas.replacement.health import assess, hsm_rows, zone_rows
from lambdas.shared.models import Cluster
from lambdas.shared.protected import ProtectedCluster


def describe_result(job: dict[str, Any], cluster: Cluster, now: datetime) -> dict[str, Any]:
    plan, run = job["plan"], job["run"]
    spec = ProtectedCluster(
        id=plan["cluster_id"], region=plan["region"], hsms_per_az=plan["desired"]
    )
    health = assess(spec, cluster)
    new = next((h for h in cluster.hsms if h.hsm_id == run["replacement_hsm_id"]), None)
    started = datetime.fromisoformat(plan["started_at"])
    result: dict[str, Any] = {
        "status": "SUCCEEDED",
        "cluster_id": plan["cluster_id"],
        "label": plan["label"],
        "region": plan["region"],
        "trigger": plan["trigger"],
        "failed_hsm": plan["failed_hsm"],
        "replacement_hsm": None
        if new is None
        else {
            "hsm_id": new.hsm_id,
            "availability_zone": new.availability_zone,
            "eni_ip": new.eni_ip,
            "state": new.state,
        },
        "ip_reason": plan["ip_reason"],
        "attempts": run["attempts"],
        "created_hsm_ids": run["created_hsm_ids"],
        "deleted_hsm_ids": run["deleted_hsm_ids"],
        "actions": run["actions"],
        "hsms": hsm_rows(cluster),
        "zones": zone_rows(health),
        "remaining_problems": list(health.problems),
        "started_at": plan["started_at"],
        "synchronised_at": (run.get("sync") or {}).get("at"),
        "finished_at": now.isoformat(),
        "duration_seconds": round((now - started).total_seconds(), 3),
        "execution": plan["execution"],
    }
    result["alert"] = replacement_success_alert(result)
    return result
