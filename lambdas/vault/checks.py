"""The vault verification's findings, pure (docs/runbooks/vault.md#findings)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from lambdas.shared.copies import SOURCE_CLUSTER_KEY, newest_first
from lambdas.shared.models import BACKUP_READY, Backup, Cluster
from lambdas.vault.plan import data_time, is_vault_resource, vault_backups

VAULT_EMPTY = "VAULT_EMPTY"
VAULT_STALE = "VAULT_STALE"
VAULT_REFRESH_FAILED = "VAULT_REFRESH_FAILED"
PRODUCTION_SILENT = "PRODUCTION_SILENT"
VAULT_HOLDS_HSM = "VAULT_HOLDS_HSM"
FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class VaultFinding:
    code: str
    subject: str  # the protected cluster, the execution or the vault cluster concerned
    message: str
    next_step: str

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "subject": self.subject,
            "message": self.message,
            "next_step": self.next_step,
        }


@dataclass(frozen=True)
class Execution:
    name: str
    status: str
    started: datetime


def check_vault(
    *,
    deployment: str,
    cluster_ids: Sequence[str],
    owned: Iterable[Backup],
    shared: Iterable[Backup],
    clusters: Iterable[Cluster],
    executions: Sequence[Execution],
    rpo: timedelta,
    silent_after: timedelta,
    now: datetime,
) -> list[VaultFinding]:
    findings: list[VaultFinding] = []
    ready = newest_first(b for b in vault_backups(owned, deployment) if b.state == BACKUP_READY)
    for cluster_id in cluster_ids:
        mine = [b for b in ready if b.tags.get(SOURCE_CLUSTER_KEY) == cluster_id]
        if not mine:
            findings.append(
                VaultFinding(
                    VAULT_EMPTY,
                    cluster_id,
                    f"the vault holds no READY backup of {cluster_id}",
                    "check production's share-backups job and the vault refresh executions",
                )
            )
            continue
        # The vault's age is its data's: the production backup the freshest vault
        # backup holds, not when the refresh made the vault backup (plan.data_time).
        dated = [(data_time(b), b) for b in mine]
        created, freshest = max(
            ((when, b) for when, b in dated if when is not None),
            key=lambda pair: pair[0],
            default=(None, mine[0]),
        )
        if created is not None and now - created > rpo:
            hours = (now - created).total_seconds() / 3600
            findings.append(
                VaultFinding(
                    VAULT_STALE,
                    cluster_id,
                    f"the newest vault backup of {cluster_id} ({freshest.backup_id}) holds "
                    f"data {hours:.1f} h old, over the vault objective of "
                    f"{rpo.total_seconds() / 3600:g} h",
                    "see the refresh executions and whether production still shares",
                )
            )
    findings += _refresh_failures(executions)
    findings += _silence(shared, silent_after, now)
    for cluster in clusters:
        if (
            is_vault_resource(cluster.tags, deployment)
            and cluster.hsms
            and not _running(executions)
        ):
            findings.append(
                VaultFinding(
                    VAULT_HOLDS_HSM,
                    cluster.cluster_id,
                    f"vault cluster {cluster.cluster_id} holds {len(cluster.hsms)} HSM(s) and "
                    "no refresh is running (HSMs bill by the hour)",
                    f"aws cloudhsmv2 delete-hsm --cluster-id {cluster.cluster_id} --hsm-id "
                    f"{cluster.hsms[0].hsm_id}",
                )
            )
    return findings


def _running(executions: Sequence[Execution]) -> bool:
    return any(e.status == "RUNNING" for e in executions)


def _refresh_failures(executions: Sequence[Execution]) -> list[VaultFinding]:
    """Failed executions newer than the newest one that succeeded."""
    failures = []
    for execution in sorted(executions, key=lambda e: e.started, reverse=True):
        if execution.status == "SUCCEEDED":
            break
        if execution.status in FAILED_STATUSES:
            failures.append(
                VaultFinding(
                    VAULT_REFRESH_FAILED,
                    execution.name,
                    f"vault refresh {execution.name} ended {execution.status}",
                    "open the execution in the Step Functions console; its Cleanup step "
                    "says which HSM it deleted",
                )
            )
    return failures


def _silence(
    shared: Iterable[Backup], silent_after: timedelta, now: datetime
) -> list[VaultFinding]:
    times = [b.create_timestamp for b in shared if b.create_timestamp is not None]
    newest = max(times, default=None)
    if newest is not None and now - newest <= silent_after:
        return []
    seen = "none is shared" if newest is None else f"the newest was made {newest.isoformat()}"
    return [
        VaultFinding(
            PRODUCTION_SILENT,
            "production",
            f"no backup shared by production is younger than "
            f"{silent_after.total_seconds() / 3600:g} h ({seen})",
            "check production's share-backups job; if production is compromised, restore "
            "from the vault",
        )
    ]
