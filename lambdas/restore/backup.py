"""Which backup a restore starts from, or why none can be used. Pure: no AWS calls.

The handler lists the backups (the target region's, and the other configured
regions' only when the target region has nothing usable); these functions decide.
Every refusal names the backup and the rule, and what to run next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lambdas.restore.request import RestoreRequest
from lambdas.shared.backups import age, restore_incompatibility
from lambdas.shared.errors import BackupNotFound, CloudHsmDrError, InvalidInput
from lambdas.shared.models import (
    BACKUP_CREATE_IN_PROGRESS,
    BACKUP_DELETED,
    BACKUP_PENDING_DELETION,
    BACKUP_READY,
    Backup,
)
from lambdas.shared.protected import ProtectedCluster

# The only HsmType CloudHSM still creates; hsm1.medium backups restore into it (FIPS).
CREATABLE_HSM_TYPE = "hsm2m.medium"
LEGACY_HSM_TYPE = "hsm1.medium"
DEFAULT_MODE = "FIPS"  # backups and clusters from before modes existed are FIPS


class BackupNotRestorable(CloudHsmDrError):
    """The backup exists but CloudHSM cannot create a cluster from it (state, type, mode)."""


class BackupNotInRegion(CloudHsmDrError):
    """The backup is in another region and the target region holds no READY copy of it."""


@dataclass(frozen=True)
class BackupChoice:
    backup: Backup
    source_cluster_id: str  # whose keys it holds (a copy's SourceCluster)
    hsm_type: str  # of the cluster to create
    mode: str
    notes: tuple[str, ...] = ()


Elsewhere = Callable[[], Mapping[str, Sequence[Backup]]]


def choose_backup(
    request: RestoreRequest,
    specs: Mapping[str, ProtectedCluster],
    here: Sequence[Backup],
    elsewhere: Elsewhere,
) -> BackupChoice:
    """The backup to restore in `request.region` from `here` (that region's backups).
    `elsewhere` lists the other regions' backups; it is called only to explain why
    nothing here can be used. `specs` are the protected clusters, by id."""
    notes: list[str] = []
    if request.backup_id is not None:
        backup = _given_backup(request, here, elsewhere, notes)
        if request.source_cluster_id and backup.origin_cluster != request.source_cluster_id:
            raise InvalidInput(
                "backup_id",
                f"{request.backup_id} holds the keys of {backup.origin_cluster or 'no cluster'}, "
                f"not of source_cluster_id {request.source_cluster_id}",
            )
    else:
        backup = _latest_ready(request, here, elsewhere, notes)
    refuse_state(backup, request.region)
    return _target(backup, specs.get(backup.origin_cluster), notes)


def refuse_state(backup: Backup, region: str) -> None:
    """Only READY backups restore: say why this one does not, and what to do."""
    if backup.state == BACKUP_READY:
        return
    name = backup.backup_id
    if backup.state == BACKUP_PENDING_DELETION:
        raise BackupNotRestorable(
            f"backup {name} is PENDING_DELETION: CloudHSM creates clusters only from READY "
            f"backups. Bring it back first (possible for 7 days after the deletion): "
            f"aws cloudhsmv2 restore-backup --region {region} --backup-id {name}, "
            "then start the restore again"
        )
    if backup.state == BACKUP_DELETED:
        raise BackupNotRestorable(
            f"backup {name} is DELETED: it can no longer be restored; choose another "
            f"backup (aws cloudhsmv2 describe-backups --region {region})"
        )
    if backup.state == BACKUP_CREATE_IN_PROGRESS:
        raise BackupNotRestorable(
            f"backup {name} is still CREATE_IN_PROGRESS: CloudHSM creates clusters only from "
            "READY backups. Wait until it is READY, or restore the latest READY backup "
            "(give source_cluster_id instead of backup_id)"
        )
    raise BackupNotRestorable(f"backup {name} is {backup.state}: only READY backups restore")


def _given_backup(
    request: RestoreRequest, here: Sequence[Backup], elsewhere: Elsewhere, notes: list[str]
) -> Backup:
    wanted = request.backup_id
    found = next((b for b in here if b.backup_id == wanted), None)
    if found is not None:
        return found
    copies = [b for b in here if b.source_backup == wanted]
    ready = _newest(c for c in copies if c.state == BACKUP_READY)
    if ready is not None:
        notes.append(
            f"{wanted} is in {ready.source_region}; restoring its copy {ready.backup_id} "
            f"in {request.region}"
        )
        return ready
    others = elsewhere()
    for region, backups in sorted(others.items()):
        original = next((b for b in backups if b.backup_id == wanted), None)
        if original is not None:
            raise BackupNotInRegion(_copy_first(original, region, request.region, copies))
    regions = ", ".join([request.region, *sorted(others)])
    raise BackupNotFound(f"backup {wanted} not found in {regions}")


def _latest_ready(
    request: RestoreRequest, here: Sequence[Backup], elsewhere: Elsewhere, notes: list[str]
) -> Backup:
    source = request.source_cluster_id
    mine = [b for b in here if b.origin_cluster == source and b.create_timestamp is not None]
    ready = _newest(b for b in mine if b.state == BACKUP_READY)
    if ready is not None:
        newer = [b for b in mine if _newer(b, ready) and b.state == BACKUP_CREATE_IN_PROGRESS]
        if newer:
            notes.append(
                f"a newer backup {newer[0].backup_id} is still CREATE_IN_PROGRESS: not used"
            )
        return ready
    others = elsewhere()
    for region, backups in sorted(others.items()):
        remote = _newest(
            b for b in backups if b.origin_cluster == source and b.state == BACKUP_READY
        )
        if remote is not None:
            raise BackupNotInRegion(
                f"no READY backup of {source} in {request.region}. "
                + _copy_first(remote, region, request.region, [])
            )
    newest = _newest(mine)
    if newest is not None:  # only unusable ones: the state rule says why and what to do
        return newest
    regions = ", ".join([request.region, *sorted(others)])
    raise BackupNotFound(f"no backup of {source} in {regions}")


def _copy_first(original: Backup, region: str, target: str, copies: Sequence[Backup]) -> str:
    pending = [c for c in copies if c.state == BACKUP_CREATE_IN_PROGRESS]
    if pending:
        return (
            f"Backup {original.backup_id} is in {region}; its copy {pending[0].backup_id} in "
            f"{target} is still CREATE_IN_PROGRESS: wait until it is READY, then restore it"
        )
    return (
        f"Backup {original.backup_id} is in {region}, not in {target}, and {target} holds no "
        f"READY copy of it. Copy it first: aws cloudhsmv2 copy-backup-to-region --region "
        f"{region} --backup-id {original.backup_id} --destination-region {target}; wait "
        f"until the copy is READY (aws cloudhsmv2 describe-backups --region {target} "
        f"--filters sourceBackupIds={original.backup_id}), then restore the copy"
    )


def _target(backup: Backup, spec: ProtectedCluster | None, notes: list[str]) -> BackupChoice:
    backup_mode = backup.mode or DEFAULT_MODE
    mode = (spec.mode if spec else None) or backup_mode
    reason = restore_incompatibility(backup.hsm_type, backup_mode, CREATABLE_HSM_TYPE, mode)
    if reason:
        pinned = f" (the config pins mode {mode} for {spec.id})" if spec and spec.mode else ""
        raise BackupNotRestorable(
            f"backup {backup.backup_id} ({backup.hsm_type or 'unknown type'}, {backup_mode}) "
            f"cannot be restored into a {CREATABLE_HSM_TYPE} {mode} cluster{pinned}: {reason}"
        )
    if backup.hsm_type == LEGACY_HSM_TYPE:
        notes.append(
            "hsm1.medium clusters can no longer be created: this hsm1.medium backup is "
            f"restored into an {CREATABLE_HSM_TYPE} {mode} cluster"
        )
    if spec and spec.hsm_type == LEGACY_HSM_TYPE:
        notes.append(
            f"the config expects hsm1.medium for {spec.id}; the restored cluster is "
            f"{CREATABLE_HSM_TYPE}: update protected_clusters[].hsm_type"
        )
    return BackupChoice(
        backup=backup,
        source_cluster_id=backup.origin_cluster,
        hsm_type=CREATABLE_HSM_TYPE,
        mode=mode,
        notes=tuple(notes),
    )


def _newest(backups: Iterable[Backup]) -> Backup | None:
    dated = [b for b in backups if b.create_timestamp is not None]
    return max(dated, key=lambda b: (b.create_timestamp, b.backup_id), default=None)


def _newer(candidate: Backup, than: Backup) -> bool:
    if candidate.create_timestamp is None or than.create_timestamp is None:
        return False
    return candidate.create_timestamp > than.create_timestamp


def backup_age_seconds(backup: Backup, now: datetime) -> float | None:
    """The achieved RPO: how old the restored data is (a copy is as old as its source)."""
    delta = age(backup, now)
    return None if delta is None else round(delta.total_seconds(), 3)
