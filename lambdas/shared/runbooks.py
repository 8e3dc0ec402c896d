"""Where each alert sends a person: the runbooks under docs/runbooks/, and which one
covers each verification finding. Alarm descriptions (stacks/) use the same paths."""

from __future__ import annotations

COMPLETE_CLUSTER_FAILURE = "docs/runbooks/complete-cluster-failure.md"
SINGLE_HSM_FAILURE = "docs/runbooks/single-hsm-failure.md"
DR_DRILL = "docs/runbooks/dr-drill.md"
ON_DEMAND_BACKUP = "docs/runbooks/on-demand-backup.md"
COPY_FAILURE = "docs/runbooks/copy-failure.md"

ALL = (COMPLETE_CLUSTER_FAILURE, SINGLE_HSM_FAILURE, DR_DRILL, ON_DEMAND_BACKUP, COPY_FAILURE)

# Finding code -> the runbook whose table explains it. Keyed by the code's string so
# this module stays free of the verification model (no import cycle).
FINDING_RUNBOOKS = {
    "CLUSTER_NOT_FOUND": COMPLETE_CLUSTER_FAILURE,
    "CLUSTER_NOT_ACTIVE": COMPLETE_CLUSTER_FAILURE,
    "CLUSTER_DRIFT": SINGLE_HSM_FAILURE,
    "NO_READY_BACKUP": ON_DEMAND_BACKUP,
    "BACKUP_OLDER_THAN_RPO": ON_DEMAND_BACKUP,
    "BACKUP_STUCK": ON_DEMAND_BACKUP,
    "BACKUP_NOT_RESTORABLE": ON_DEMAND_BACKUP,
    "HSM_DEGRADED": SINGLE_HSM_FAILURE,
    "HSM_COUNT_BELOW_DESIRED": SINGLE_HSM_FAILURE,
    "HSM_IN_UNPLANNED_AZ": SINGLE_HSM_FAILURE,
    "COPY_FAILED": COPY_FAILURE,
    "COPY_STUCK": COPY_FAILURE,
    "COPY_MISSING": COPY_FAILURE,
    "RETENTION_DRIFT": COPY_FAILURE,
    "COPY_JOB_ERROR": COPY_FAILURE,
}


def for_finding(code: str) -> str:
    return FINDING_RUNBOOKS[code]
