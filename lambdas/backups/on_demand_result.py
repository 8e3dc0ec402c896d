"""The result of a successful on-demand backup: the backup, its copies, its checks."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from lambdas.shared.backups import restore_incompatibility
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.settings import BackupSettings


def describe_result(
    job: dict[str, Any], gateway: CloudHsmGateway, settings: BackupSettings, now: datetime
) -> dict[str, Any]:
    plan, run = job["plan"], job["run"]
    backup = gateway.get_backup(run["backup"]["backup_id"])
    cluster = gateway.get_cluster(plan["cluster_id"])
    copies = []
    for region in settings.dr_regions:
        found = CloudHsmGateway.for_region(region).iter_backups(
            source_backup_ids=[backup.backup_id]
        )
        copies += [{"region": region, "backup_id": c.backup_id, "state": c.state} for c in found]
    per_az = dict(sorted(Counter(h.availability_zone for h in cluster.hsms).items()))
    problems = []
    reason = restore_incompatibility(backup.hsm_type, backup.mode, cluster.hsm_type, cluster.mode)
    if reason:
        problems.append(reason)
    if per_az != plan["hsms_per_az_before"]:
        problems.append(f"HSMs per zone are {per_az}, {plan['hsms_per_az_before']} at the start")
    started = datetime.fromisoformat(plan["started_at"])
    return {
        "status": "SUCCEEDED",
        "cluster_id": plan["cluster_id"],
        "region": plan["region"],
        "strategy": plan["strategy"],
        "backup": {
            "backup_id": backup.backup_id,
            "backup_arn": backup.backup_arn,
            "state": backup.state,
            "create_timestamp": backup.create_timestamp.isoformat()
            if backup.create_timestamp
            else None,
            "hsm_type": backup.hsm_type,
            "mode": backup.mode,
            "source_cluster": backup.cluster_id,
            "never_expires": backup.never_expires,
        },
        "copies": copies,
        "verification_problems": problems,
        "hsms_per_az_before": plan["hsms_per_az_before"],
        "hsms_per_az_after": per_az,
        "created_hsm_ids": run["created_hsm_ids"],
        "removed_hsm_ids": run["removed_hsm_ids"],
        "started_at": plan["started_at"],
        "finished_at": now.isoformat(),
        "duration_seconds": round((now - started).total_seconds(), 3),
    }
