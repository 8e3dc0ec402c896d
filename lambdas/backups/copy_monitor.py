"""The DR region's own look at its copies: runs in that region, reads only that region.

When the primary region is down, the copy job and the verification there are down
too; this check still says, from where the copies are, whether a fresh READY copy
of every protected cluster is there to restore from, and which one it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdas.shared.copies import (
    RegionCopyStatus,
    copies_by_source_cluster,
    copy_freshness_limit,
    region_copy_status,
)
from lambdas.shared.findings import FAILED, SUCCEEDED, Finding, copy_findings, copy_status_dict
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.protected import ProtectedCluster
from lambdas.shared.settings import BackupSettings, VerificationSettings


@dataclass(frozen=True)
class MonitoredCluster:
    spec: ProtectedCluster
    status: RegionCopyStatus
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class CopyMonitorReport:
    deployment_name: str
    region: str
    checked_at: datetime
    clusters: tuple[MonitoredCluster, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for c in self.clusters for f in c.findings)

    @property
    def status(self) -> str:
        return FAILED if self.findings else SUCCEEDED

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "deployment_name": self.deployment_name,
            "region": self.region,
            "checked_at": self.checked_at.isoformat(),
            "clusters": [
                {
                    "cluster_id": c.spec.id,
                    "name": c.spec.name,
                    "source_region": c.spec.region,
                    **copy_status_dict(c.status, self.checked_at),
                    "restore_command": _restore_command(c.status),
                    "findings": [f.to_dict() for f in c.findings],
                }
                for c in self.clusters
            ],
            "findings": [f.to_dict() for f in self.findings],
            "findings_count": len(self.findings),
        }


def monitor_copies(
    settings: VerificationSettings,
    backups: BackupSettings,
    gateway: CloudHsmGateway,
    now: datetime | None = None,
) -> CopyMonitorReport:
    """One listing of the region's backups, then every protected cluster's copy status."""
    region = gateway.region
    listed = copies_by_source_cluster(gateway.iter_backups())
    checked_at = now or datetime.now(UTC)
    stuck_after = timedelta(minutes=backups.copy_stuck_after_minutes)
    clusters = []
    for spec in settings.clusters:
        if spec.region == region:
            continue  # a cluster is never copied into its own region
        status = region_copy_status(
            spec.id, region, listed.get(spec.id, []), checked_at, stuck_after
        )
        limit = copy_freshness_limit(
            timedelta(hours=settings.rpo_hours_for(spec)),
            timedelta(minutes=backups.copy_interval_minutes),
            stuck_after,
        )
        findings = copy_findings(spec, status, checked_at, stuck_after, limit)
        clusters.append(MonitoredCluster(spec, status, tuple(findings)))
    return CopyMonitorReport(settings.deployment_name, region, checked_at, tuple(clusters))


def _restore_command(status: RegionCopyStatus) -> str | None:
    """What a regional restore would start from (the restore workflow comes later)."""
    copy = status.newest_ready
    if copy is None:
        return None
    return (
        f"aws cloudhsmv2 create-cluster --region {status.region} --source-backup-id "
        f"{copy.backup_id} --hsm-type <type> --subnet-ids <subnet per AZ>"
    )
