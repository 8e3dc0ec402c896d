"""What one copy-job run did and found, per cluster, as the JSON report and alert read it.

Pure: the results are filled by copy_job.py; the findings of the copy job itself
(retention drift, an API step that failed, nothing to copy) are built here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lambdas.shared.copies import CopyAction, CopyDecision, RegionCopyStatus, RetentionCheck
from lambdas.shared.findings import FAILED, SUCCEEDED, Finding, FindingCode, copy_status_dict
from lambdas.shared.models import Backup
from lambdas.shared.protected import ProtectedCluster

# Replication results that leave a DR region without a usable customerCA.crt.
TRUST_ANCHOR_PROBLEMS = ("MISSING", "FAILED")


@dataclass
class RegionResult:
    """One cluster in one DR region: the copy decision, what was created, how copies stand."""

    region: str
    decision: CopyDecision | None = None
    created: list[dict[str, Any]] = field(default_factory=list)
    status: RegionCopyStatus | None = None

    def to_dict(self, now: datetime) -> dict[str, Any]:
        status = copy_status_dict(self.status, now) if self.status else {"region": self.region}
        decision = self.decision
        existing = decision.existing if decision and decision.action is CopyAction.EXISTS else None
        return {
            **status,
            "decision": None if decision is None else decision.action.value,
            "reason": None if decision is None else decision.reason,
            "created": self.created,
            "existing": [existing.backup_id] if existing else [],
        }


@dataclass
class ClusterResult:
    spec: ProtectedCluster
    latest: Backup | None = None
    regions: list[RegionResult] = field(default_factory=list)
    pruned: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    golden_marked: list[dict[str, Any]] = field(default_factory=list)
    golden_unmarked: list[dict[str, Any]] = field(default_factory=list)
    retention: RetentionCheck | None = None
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self, now: datetime) -> dict[str, Any]:
        latest = self.latest
        retention = self.retention
        return {
            "cluster_id": self.spec.id,
            "name": self.spec.name,
            "region": self.spec.region,
            "latest_ready_backup": None
            if latest is None
            else {
                "backup_id": latest.backup_id,
                "create_timestamp": _iso(latest.create_timestamp),
            },
            "copies": {r.region: r.to_dict(now) for r in self.regions},
            "pruned": self.pruned,
            "kept": self.kept,
            "golden": {"marked": self.golden_marked, "unmarked": self.golden_unmarked},
            "retention": None
            if retention is None
            else {
                "status": retention.status.value,
                "actual_days": retention.actual,
                "desired_days": retention.desired,
                "reason": retention.reason,
            },
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class CopyJobReport:
    deployment_name: str
    checked_at: datetime
    dry_run: bool
    clusters: tuple[ClusterResult, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for c in self.clusters for f in c.findings)

    # DR region -> what replicating the trust anchor there did (client_config statuses).
    trust_anchor: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def trust_anchor_problems(self) -> dict[str, str]:
        """DR regions where clients of a restored cluster would find no customerCA.crt."""
        return {
            region: str(result.get("note"))
            for region, result in sorted(self.trust_anchor.items())
            if result.get("status") in TRUST_ANCHOR_PROBLEMS
        }

    @property
    def status(self) -> str:
        return FAILED if self.findings or self.trust_anchor_problems else SUCCEEDED

    @property
    def copies_created(self) -> int:
        return sum(len(r.created) for c in self.clusters for r in c.regions)

    @property
    def copies_failed(self) -> int:
        return sum(len(r.status.failed) for c in self.clusters for r in c.regions if r.status)

    @property
    def copies_pruned(self) -> int:
        return sum(len(c.pruned) for c in self.clusters)

    def newest_copy_ages(self) -> list[tuple[str, str, timedelta]]:
        """(cluster id, DR region, age of the newest READY copy) where one exists."""
        ages = []
        for cluster in self.clusters:
            for region in cluster.regions:
                age = region.status.newest_age(self.checked_at) if region.status else None
                if age is not None:
                    ages.append((cluster.spec.id, region.region, age))
        return ages

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "deployment_name": self.deployment_name,
            "checked_at": _iso(self.checked_at),
            "dry_run": self.dry_run,
            "clusters": [c.to_dict(self.checked_at) for c in self.clusters],
            "totals": {
                "copies_created": self.copies_created,
                "copies_failed": self.copies_failed,
                "copies_pruned": self.copies_pruned,
            },
            "findings": [f.to_dict() for f in self.findings],
            "findings_count": len(self.findings),
            "trust_anchor": {r: dict(v) for r, v in sorted(self.trust_anchor.items())},
        }


# The copy job's own findings. Each says what is wrong and what to do next.


def retention_drift(spec: ProtectedCluster, check: RetentionCheck) -> Finding:
    return Finding(
        FindingCode.RETENTION_DRIFT,
        spec.id,
        f"Cluster {spec.label}: {check.reason}.",
        "Set it back (or set backups.enforce_retention: true to let the copy job do it): "
        f"aws cloudhsmv2 modify-cluster --region {spec.region} --cluster-id {spec.id} "
        f"--backup-retention-policy Type=DAYS,Value={check.desired}",
    )


def step_failed(spec: ProtectedCluster, step: str, error: Exception) -> Finding:
    return Finding(
        FindingCode.COPY_JOB_ERROR,
        spec.id,
        f"The copy job could not {step} for {spec.label}: {type(error).__name__}: {error}",
        "Fix the cause (permissions, quotas, a regional outage), then run the job again: "
        f"hsmdr backup copy --config <deployment config> --cluster {spec.id}",
    )


def nothing_to_copy(spec: ProtectedCluster) -> Finding:
    return Finding(
        FindingCode.NO_READY_BACKUP,
        spec.id,
        f"Cluster {spec.label} has no READY backup in {spec.region}: nothing can be copied "
        "to the DR regions.",
        "Force a backup by adding an HSM (then remove it): aws cloudhsmv2 create-hsm "
        f"--region {spec.region} --cluster-id {spec.id} --availability-zone <AZ>",
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
