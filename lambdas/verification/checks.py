"""Backup verification as a pure function: facts in, findings and a report out.

What "verified" means here is what the CloudHSM API can show: the cluster exists
and is ACTIVE, its newest READY backup is younger than the RPO and restorable into
a cluster like it, no backup is stuck in CREATE_IN_PROGRESS, and its HSMs match the
desired topology. With DR regions configured, each region also holds a fresh READY
copy of every cluster's backups, and no copy failed or hangs. Proof that keys come
back takes a restore (the DR drill).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lambdas.shared.backups import BackupClass, check_rpo, classify, restore_incompatibility
from lambdas.shared.copies import RegionCopyStatus
from lambdas.shared.findings import (
    FAILED,
    SUCCEEDED,
    Finding,
    FindingCode,
    _human,
    _iso,
    _seconds,
    copy_status_dict,
)
from lambdas.shared.models import CLUSTER_ACTIVE, Backup, Cluster
from lambdas.shared.protected import ProtectedCluster
from lambdas.shared.topology import TopologyCheck, check_topology


@dataclass(frozen=True)
class ClusterFacts:
    """What the API said about one protected cluster, gathered by the caller."""

    spec: ProtectedCluster
    cluster: Cluster | None
    latest_ready: Backup | None
    in_progress: Sequence[Backup] = ()


@dataclass(frozen=True)
class ClusterReport:
    spec: ProtectedCluster
    cluster: Cluster | None
    latest_ready: Backup | None
    rpo: timedelta
    backup_age: timedelta | None
    topology: TopologyCheck | None
    findings: tuple[Finding, ...]
    copies: tuple[RegionCopyStatus, ...] = ()  # one per DR region, when configured
    checked_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        c, b = self.cluster, self.latest_ready
        return {
            "cluster_id": self.spec.id,
            "name": self.spec.name,
            "region": self.spec.region,
            "state": c.state if c else None,
            "hsm_type": c.hsm_type if c else None,
            "mode": c.mode if c else None,
            "hsms": [
                {
                    "hsm_id": h.hsm_id,
                    "availability_zone": h.availability_zone,
                    "state": h.state,
                    "eni_ip": h.eni_ip,
                }
                for h in (c.hsms if c else ())
            ],
            "desired_hsms_per_az": dict(self.spec.hsms_per_az),
            "latest_ready_backup": None
            if b is None
            else {
                "backup_id": b.backup_id,
                "backup_arn": b.backup_arn,
                "state": b.state,
                "create_timestamp": _iso(b.create_timestamp),
                "hsm_type": b.hsm_type,
                "mode": b.mode,
                "never_expires": b.never_expires,
            },
            "backup_age_seconds": _seconds(self.backup_age),
            "rpo_seconds": _seconds(self.rpo),
            "copies": [copy_status_dict(s, self.checked_at) for s in self.copies],
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class VerificationReport:
    deployment_name: str
    checked_at: datetime
    clusters: tuple[ClusterReport, ...]
    errors: tuple[str, ...] = field(default=())

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for c in self.clusters for f in c.findings)

    @property
    def status(self) -> str:
        return FAILED if self.findings or self.errors else SUCCEEDED

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "deployment_name": self.deployment_name,
            "checked_at": _iso(self.checked_at),
            "clusters": [c.to_dict() for c in self.clusters],
            "findings": [f.to_dict() for f in self.findings],
            "findings_count": len(self.findings),
        }


def verify_cluster(
    facts: ClusterFacts, now: datetime, rpo: timedelta, in_progress_max: timedelta
) -> ClusterReport:
    spec, cluster, latest = facts.spec, facts.cluster, facts.latest_ready
    findings: list[Finding] = []
    topology = None
    if cluster is None:
        findings.append(_not_found(spec))
    else:
        findings.extend(_cluster_state(spec, cluster))
        topology = check_topology(cluster, spec.hsms_per_az)
        findings.extend(_topology(spec, topology))
    findings.extend(_stuck(spec, facts.in_progress, now, in_progress_max))
    backup_age = None
    if latest is None:
        findings.append(_no_ready_backup(spec))
    else:
        rpo_check = check_rpo(latest, now, rpo)
        backup_age = rpo_check.age if rpo_check else None
        if rpo_check is not None and not rpo_check.within:
            findings.append(_too_old(spec, latest, rpo_check.age, rpo))
        findings.extend(_restorability(spec, cluster, latest))
    return ClusterReport(
        spec=spec,
        cluster=cluster,
        latest_ready=latest,
        rpo=rpo,
        backup_age=backup_age,
        topology=topology,
        findings=tuple(findings),
    )


# Each finding says what is wrong and what the on-call engineer does next.


def _not_found(spec: ProtectedCluster) -> Finding:
    return Finding(
        FindingCode.CLUSTER_NOT_FOUND,
        spec.id,
        f"Cluster {spec.label} does not exist in {spec.region}.",
        "If the cluster was lost, restore it from its latest backup (complete cluster "
        "failure runbook); if it was replaced on purpose, update the deployment config: "
        f"aws cloudhsmv2 describe-backups --region {spec.region} "
        f"--filters clusterIds={spec.id}",
    )


def _cluster_state(spec: ProtectedCluster, cluster: Cluster) -> list[Finding]:
    findings = []
    if cluster.state != CLUSTER_ACTIVE:
        findings.append(
            Finding(
                FindingCode.CLUSTER_NOT_ACTIVE,
                spec.id,
                f"Cluster {spec.label} is {cluster.state}, not ACTIVE"
                + (f": {cluster.state_message}" if cluster.state_message else "."),
                "Check the cluster: aws cloudhsmv2 describe-clusters "
                f"--region {spec.region} --filters clusterIds={spec.id}",
            )
        )
    drift = [
        f"{what} is {actual}, config expects {expected}"
        for what, actual, expected in (
            ("HsmType", cluster.hsm_type, spec.hsm_type),
            ("Mode", cluster.mode, spec.mode),
        )
        if expected and actual != expected
    ]
    if drift:
        findings.append(
            Finding(
                FindingCode.CLUSTER_DRIFT,
                spec.id,
                f"Cluster {spec.label}: " + "; ".join(drift) + ".",
                "Confirm the change was intended, then update hsm_type/mode in the "
                "deployment config so restores target the right cluster type.",
            )
        )
    return findings


def _topology(spec: ProtectedCluster, topology: TopologyCheck) -> list[Finding]:
    findings = [
        Finding(
            FindingCode.HSM_DEGRADED,
            spec.id,
            f"HSM {h.hsm_id} in {h.availability_zone} ({h.eni_ip or 'no IP'}) is DEGRADED"
            + (f": {h.state_message}" if h.state_message else "."),
            "A DEGRADED HSM does not recover: replace it (a new HSM in the same AZ first, "
            "then the DEGRADED one is deleted): hsmdr hsm replace --config <deployment "
            f"config> --cluster {spec.id} --hsm {h.hsm_id} --follow",
        )
        for h in topology.degraded
    ]
    for gap in topology.gaps:
        zone = gap.availability_zone
        busy = [h for h in topology.transitional if h.availability_zone == zone]
        degraded = [h for h in topology.degraded if h.availability_zone == zone]
        notes = [f"{len(busy)} being created or deleted"] if busy else []
        notes += [f"{len(degraded)} DEGRADED"] if degraded else []
        note = f" ({', '.join(notes)})" if notes else ""
        step = (
            "Replacing the DEGRADED HSM in this AZ closes the gap."
            if len(degraded) >= gap.missing
            else "Add an HSM in that AZ (one at a time, waiting for ACTIVE): hsmdr hsm "
            f"replace --config <deployment config> --cluster {spec.id} --follow"
        )
        findings.append(
            Finding(
                FindingCode.HSM_COUNT_BELOW_DESIRED,
                spec.id,
                f"Cluster {spec.label} has {gap.active} ACTIVE HSM(s) in {zone}, "
                f"{gap.desired} desired{note}.",
                step,
            )
        )
    if topology.unexpected_zones:
        zones = ", ".join(topology.unexpected_zones)
        findings.append(
            Finding(
                FindingCode.HSM_IN_UNPLANNED_AZ,
                spec.id,
                f"Cluster {spec.label} has ACTIVE HSMs in {zones}, which the desired "
                "topology does not name.",
                "Add the zone to hsms_per_az in the deployment config, or move the HSM.",
            )
        )
    return findings


def _stuck(
    spec: ProtectedCluster, in_progress: Sequence[Backup], now: datetime, limit: timedelta
) -> list[Finding]:
    return [
        Finding(
            FindingCode.BACKUP_STUCK,
            spec.id,
            f"Backup {b.backup_id} of {spec.label} has been CREATE_IN_PROGRESS since "
            f"{_iso(b.create_timestamp)}, longer than {_human(limit)}.",
            "Open an AWS Support case with the backup id; meanwhile make sure a READY "
            f"backup younger than the RPO exists: aws cloudhsmv2 describe-backups "
            f"--region {spec.region} --filters clusterIds={spec.id}",
        )
        for b in in_progress
        if classify(b, now, limit) is BackupClass.STUCK
    ]


def _no_ready_backup(spec: ProtectedCluster) -> Finding:
    return Finding(
        FindingCode.NO_READY_BACKUP,
        spec.id,
        f"Cluster {spec.label} has no READY backup: it cannot be restored.",
        "Force a backup now (it adds an HSM, waits for the backup, removes the HSM): "
        f"hsmdr backup create --config <deployment config> --cluster {spec.id} --follow",
    )


def _too_old(spec: ProtectedCluster, latest: Backup, age: timedelta, rpo: timedelta) -> Finding:
    return Finding(
        FindingCode.BACKUP_OLDER_THAN_RPO,
        spec.id,
        f"The newest READY backup of {spec.label}, {latest.backup_id}, is {_human(age)} "
        f"old; the RPO allows {_human(rpo)}.",
        "Force a fresh backup now: hsmdr backup create --config <deployment config> "
        f"--cluster {spec.id} --follow. CloudHSM backs up at least daily: a missing daily "
        "backup also needs an AWS Support case.",
    )


def _restorability(
    spec: ProtectedCluster, cluster: Cluster | None, latest: Backup
) -> list[Finding]:
    target_type = spec.hsm_type or (cluster.hsm_type if cluster else "")
    target_mode = spec.mode or (cluster.mode if cluster else "")
    reason = restore_incompatibility(latest.hsm_type, latest.mode, target_type, target_mode)
    if reason is None:
        return []
    return [
        Finding(
            FindingCode.BACKUP_NOT_RESTORABLE,
            spec.id,
            f"Backup {latest.backup_id} ({latest.hsm_type}, {latest.mode}) cannot restore "
            f"{spec.label} as configured: {reason}.",
            "Restore into a cluster of the backup's HsmType and Mode, or correct "
            "hsm_type/mode in the deployment config.",
        )
    ]


# Copies in the DR regions -------------------------------------------------------------
