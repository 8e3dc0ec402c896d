"""What a check found, in the words every alert uses: the finding codes, and the
findings about backup copies that the verification and the copy job both report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from lambdas.shared.copies import RegionCopyStatus, copy_is_missing, copy_started
from lambdas.shared.models import Backup
from lambdas.shared.protected import ProtectedCluster
from lambdas.shared.standby import StandbyProblem

SUCCEEDED = "SUCCEEDED"

FAILED = "FAILED"


class FindingCode(StrEnum):
    CLUSTER_NOT_FOUND = "CLUSTER_NOT_FOUND"
    CLUSTER_NOT_ACTIVE = "CLUSTER_NOT_ACTIVE"
    CLUSTER_DRIFT = "CLUSTER_DRIFT"
    NO_READY_BACKUP = "NO_READY_BACKUP"
    BACKUP_OLDER_THAN_RPO = "BACKUP_OLDER_THAN_RPO"
    BACKUP_STUCK = "BACKUP_STUCK"
    BACKUP_NOT_RESTORABLE = "BACKUP_NOT_RESTORABLE"
    HSM_DEGRADED = "HSM_DEGRADED"
    HSM_COUNT_BELOW_DESIRED = "HSM_COUNT_BELOW_DESIRED"
    HSM_IN_UNPLANNED_AZ = "HSM_IN_UNPLANNED_AZ"
    COPY_FAILED = "COPY_FAILED"
    COPY_STUCK = "COPY_STUCK"
    COPY_MISSING = "COPY_MISSING"
    RETENTION_DRIFT = "RETENTION_DRIFT"
    COPY_JOB_ERROR = "COPY_JOB_ERROR"
    STANDBY_MISSING = "STANDBY_MISSING"
    STANDBY_STALE = "STANDBY_STALE"
    STANDBY_HOLDS_HSM = "STANDBY_HOLDS_HSM"
    STANDBY_DEGRADED = "STANDBY_DEGRADED"
    STANDBY_NO_HSM = "STANDBY_NO_HSM"
    # The DR region's daily key check of its warm standbys (lambdas/standby/key_check.py)
    STANDBY_KEYS_MISMATCH = "STANDBY_KEYS_MISMATCH"
    STANDBY_KEYS_UNCHECKED = "STANDBY_KEYS_UNCHECKED"


@dataclass(frozen=True)
class Finding:
    code: FindingCode
    cluster_id: str
    message: str
    next_step: str

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code.value,
            "cluster_id": self.cluster_id,
            "message": self.message,
            "next_step": self.next_step,
        }


def copy_findings(
    spec: ProtectedCluster,
    status: RegionCopyStatus,
    now: datetime,
    stuck_after: timedelta,
    missing_after: timedelta | None,
) -> list[Finding]:
    """COPY_FAILED, COPY_STUCK and (unless `missing_after` is None) COPY_MISSING for one
    cluster in one DR region."""
    findings = [_copy_failed(spec, status.region, c) for c in status.failed]
    findings += [_copy_stuck(spec, status.region, c, stuck_after) for c in status.stuck]
    if missing_after is not None and copy_is_missing(status, now, missing_after):
        findings.append(_copy_missing(spec, status, now, missing_after))
    return findings


def _copy_failed(spec: ProtectedCluster, region: str, copy: Backup) -> Finding:
    return Finding(
        FindingCode.COPY_FAILED,
        spec.id,
        f"The copy {copy.backup_id} of backup {copy.source_backup} of {spec.label} to "
        f"{region} ended DELETED (started {_iso(copy_started(copy))}): that region holds "
        "no READY copy of it.",
        "Run the copy job again: hsmdr backup copy --config <deployment config> "
        f"--cluster {spec.id}; if the copy fails again, open an AWS Support case with "
        f"both backup ids. Check: aws cloudhsmv2 describe-backups --region {region} "
        f"--filters sourceBackupIds={copy.source_backup}",
    )


def _copy_stuck(spec: ProtectedCluster, region: str, copy: Backup, limit: timedelta) -> Finding:
    return Finding(
        FindingCode.COPY_STUCK,
        spec.id,
        f"The copy {copy.backup_id} of backup {copy.source_backup} of {spec.label} to "
        f"{region} has been CREATE_IN_PROGRESS since {_iso(copy_started(copy))}, longer "
        f"than {_human(limit)}.",
        "Open an AWS Support case with the copy's id; meanwhile the newest READY copy in "
        f"that region is what a regional restore would use: hsmdr backup list --config "
        f"<deployment config> --cluster {spec.id} --region {region}",
    )


def _copy_missing(
    spec: ProtectedCluster, status: RegionCopyStatus, now: datetime, limit: timedelta
) -> Finding:
    newest, age = status.newest_ready, status.newest_age(now)
    region = status.region
    if newest is None or age is None:
        what = f"{region} holds no READY copy of {spec.label}'s backups"
    else:
        what = (
            f"The newest READY copy of {spec.label} in {region}, {newest.backup_id}, is "
            f"{_human(age)} old"
        )
    return Finding(
        FindingCode.COPY_MISSING,
        spec.id,
        f"{what}; copies may be at most {_human(limit)} old (RPO + one copy interval + "
        "the time a copy may take): a regional disaster would lose more than the RPO.",
        "Check that the copy job runs (its schedule, its errors alarm), then copy now: "
        f"hsmdr backup copy --config <deployment config> --cluster {spec.id}",
    )


def copy_status_dict(status: RegionCopyStatus, now: datetime | None) -> dict[str, Any]:
    newest = status.newest_ready
    age = status.newest_age(now) if now is not None else None
    return {
        "region": status.region,
        "newest_ready_copy": None
        if newest is None
        else {
            "backup_id": newest.backup_id,
            "source_backup": newest.source_backup,
            "create_timestamp": _iso(newest.create_timestamp),
            "copy_timestamp": _iso(newest.copy_timestamp),
        },
        "newest_ready_copy_age_seconds": _seconds(age),
        "in_progress": [c.backup_id for c in status.in_progress],
        "stuck": [c.backup_id for c in status.stuck],
        "failed": [c.backup_id for c in status.failed],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _seconds(value: timedelta | None) -> float | None:
    return round(value.total_seconds(), 3) if value is not None else None


def _human(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m"]
    return " ".join(p for p in parts if p and (p != "0m" or not (days or hours)))


def standby_findings(spec: ProtectedCluster, problems: Sequence[StandbyProblem]) -> list[Finding]:
    """STANDBY_MISSING, STANDBY_STALE, STANDBY_DEGRADED, and per posture
    STANDBY_HOLDS_HSM (pilot light) or STANDBY_NO_HSM (warm standby)."""
    return [_standby_finding(spec, p) for p in problems]


def _standby_finding(spec: ProtectedCluster, problem: StandbyProblem) -> Finding:
    region, look = problem.region, f"aws cloudhsmv2 describe-clusters --region {problem.region}"
    refresher = f"Check the standby refresher in {region} (its errors alarm, its log, its alerts"
    posture = problem.posture
    if problem.kind == "holds-hsm":
        return Finding(
            FindingCode.STANDBY_HOLDS_HSM,
            spec.id,
            f"The pilot-light standby {problem.standby_id} of {spec.label} in {region} holds "
            f"{problem.detail}: a standby is kept with no HSM, and each HSM is charged by "
            "the hour.",
            "If no drill or restore is using it, delete the HSM(s): aws cloudhsmv2 delete-hsm "
            f"--region {region} --cluster-id {problem.standby_id} --hsm-id <hsm id>",
        )
    if problem.kind == "degraded":
        return Finding(
            FindingCode.STANDBY_DEGRADED,
            spec.id,
            f"The {posture} standby {problem.standby_id} of {spec.label} in {region} is "
            f"DEGRADED ({problem.detail}): it never recovers, and a restore will not adopt it.",
            f"{refresher}): a DEGRADED HSM of a warm standby is deleted and re-created by the "
            "refresher; a DEGRADED standby cluster must be deleted by hand: aws cloudhsmv2 "
            f"delete-cluster --region {region} --cluster-id {problem.standby_id}",
        )
    if problem.kind == "no-hsm":
        return Finding(
            FindingCode.STANDBY_NO_HSM,
            spec.id,
            f"{spec.label} has a warm-standby posture in {region} and its standby "
            f"{problem.standby_id} has no ACTIVE HSM ({problem.detail}): a restore there "
            "would only be a pilot-light restore (it creates the first HSM).",
            f"{refresher}, the HSM quota): {look}",
        )
    if problem.kind == "stale":
        return Finding(
            FindingCode.STANDBY_STALE,
            spec.id,
            f"The {posture} standby {problem.standby_id} of {spec.label} in {region} was "
            f"restored from a backup older than the RPO ({problem.detail}): a restore "
            "there would fall back to a cold restore.",
            f"Check the standby refresher in {region} (its errors alarm, its log) and that "
            f"a fresh READY copy is there: hsmdr backup list --config <deployment config> "
            f"--cluster {spec.id} --region {region}",
        )
    return Finding(
        FindingCode.STANDBY_MISSING,
        spec.id,
        f"{spec.label} has a {posture} posture in {region} and no ACTIVE standby cluster "
        f"there (standbys: {problem.detail}): a restore there would fall back to a cold "
        "restore.",
        f"Check the standby refresher in {region} (its errors alarm, its log, the clusters "
        f"quota) and list the clusters: {look}",
    )
