"""DescribeBackups, DeleteBackup, RestoreBackup, ModifyBackupAttributes,
CopyBackupToRegion."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sandbox.emulator import validation
from sandbox.emulator.core import WorldCore
from sandbox.emulator.errors import CloudHsmInvalidRequestException
from sandbox.emulator.ids import partition_for
from sandbox.emulator.models import Backup, BackupState
from sandbox.emulator.pagination import page

MAX_BACKUPS_PAGE = 50
BACKUP_FILTERS = ("backupIds", "sourceBackupIds", "clusterIds", "states", "neverExpires")


def describe_backups(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    wanted = validation.filters(params, BACKUP_FILTERS)
    states = _states_filter(core, wanted.get("states"))
    never_expires = _never_expires_filter(wanted.get("neverExpires"))
    ascending = params.get("SortAscending")
    if ascending is None:
        ascending = core.settings.default_sort_ascending
    # Shared=true lists only backups other accounts shared with this one (and no own).
    candidates = (
        core.backups_shared_with_me(region)
        if params.get("Shared")
        else list(core.regions[region].backups.values())
    )
    selected = [
        b
        for b in candidates
        if ("backupIds" not in wanted or b.backup_id in wanted["backupIds"])
        and ("sourceBackupIds" not in wanted or b.source_backup in wanted["sourceBackupIds"])
        and ("clusterIds" not in wanted or b.cluster_id in wanted["clusterIds"])
        and (states is None or b.state.value in states)
        and (never_expires is None or b.never_expires == never_expires)
    ]
    selected.sort(key=lambda b: (b.create_timestamp, b.backup_id), reverse=not ascending)
    chunk, token = page(
        selected,
        params,
        operation="DescribeBackups",
        limit=MAX_BACKUPS_PAGE,
        default=MAX_BACKUPS_PAGE,
    )
    body: dict[str, Any] = {"Backups": [b.to_api() for b in chunk]}
    if token:
        body["NextToken"] = token
    return body


def _states_filter(core: WorldCore, values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    for value in values:
        validation.one_of(value, [s.value for s in BackupState], "backup state")
    quirk = core.settings.backup_states_filter_quirk
    if len(values) > 1 and quirk == "reject":
        raise CloudHsmInvalidRequestException("The states filter accepts a single value")
    if len(values) > 1 and quirk == "first-only":
        return values[:1]
    return values


def _never_expires_filter(values: list[str] | None) -> bool | None:
    if values is None:
        return None
    if len(values) != 1 or values[0].lower() not in ("true", "false"):
        raise CloudHsmInvalidRequestException(
            "The neverExpires filter takes one value, True or False"
        )
    return values[0].lower() == "true"


def delete_backup(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    backup = core.backup(region, str(validation.require(params, "BackupId")))
    if backup.state != BackupState.READY:
        raise CloudHsmInvalidRequestException(
            f"Backup {backup.backup_id} is {backup.state.value}; only READY backups can be deleted"
        )
    backup.state = BackupState.PENDING_DELETION
    backup.delete_timestamp = core.now() + core.settings.pending_deletion_period
    return {"Backup": backup.to_api()}


def restore_backup(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    backup = core.backup(region, str(validation.require(params, "BackupId")))
    if backup.state != BackupState.PENDING_DELETION:
        raise CloudHsmInvalidRequestException(
            f"Backup {backup.backup_id} is {backup.state.value}; only PENDING_DELETION "
            "backups can be restored"
        )
    backup.state = BackupState.READY
    backup.delete_timestamp = None
    backup.restored_at = core.now()
    return {"Backup": backup.to_api()}


def modify_backup_attributes(
    core: WorldCore, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    backup = core.backup(region, str(validation.require(params, "BackupId")))
    never_expires = params.get("NeverExpires")
    if not isinstance(never_expires, bool):
        raise CloudHsmInvalidRequestException("NeverExpires must be true or false")
    if backup.state == BackupState.DELETED:
        raise CloudHsmInvalidRequestException(f"Backup {backup.backup_id} is DELETED")
    backup.never_expires = never_expires
    return {"Backup": backup.to_api()}


@functools.cache
def _known_regions() -> frozenset[str]:
    import botocore.session

    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in ("aws", "aws-us-gov"):
        regions.update(session.get_available_regions("cloudhsmv2", partition_name=partition))
    return frozenset(regions)


def copy_backup_to_region(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    destination = str(validation.require(params, "DestinationRegion"))
    source = core.backup(region, str(validation.require(params, "BackupId")))
    if destination not in _known_regions():
        raise CloudHsmInvalidRequestException(f"Unknown DestinationRegion {destination}")
    if destination == region:
        raise CloudHsmInvalidRequestException(
            "DestinationRegion must differ from the backup's region"
        )
    if partition_for(destination) != partition_for(region):
        raise CloudHsmInvalidRequestException(
            "Backups cannot be copied between GovCloud and standard regions"
        )
    if source.state != BackupState.READY:
        raise CloudHsmInvalidRequestException(
            f"Backup {source.backup_id} is {source.state.value}; only READY backups can be copied"
        )
    if params.get("TagList") is not None:
        tags = validation.tags_from_list(params["TagList"])
    else:
        tags = dict(source.tags)  # documented: without TagList the source's tags are copied
    now = core.now()
    source_cluster = source.cluster_id or source.source_cluster
    copy = Backup(
        backup_id=core.ids.backup_id(),
        region=destination,
        account_id=core.account_id,
        state=BackupState.CREATE_IN_PROGRESS,
        cluster_id=None,  # a copy is no longer tied to a cluster, so has no retention
        create_timestamp=(
            source.create_timestamp if core.settings.copy_keeps_source_create_timestamp else now
        ),
        hsm_type=source.hsm_type,
        mode=source.mode,
        copy_timestamp=now,
        source_region=region,
        source_backup=source.backup_id,
        source_cluster=source_cluster,
        tags=tags,
        certificates=dict(source.certificates),
    )
    core.regions[destination].backups[copy.backup_id] = copy
    core.key_store.backup_copied(source.backup_id, copy.backup_id)
    fails = core.faults.flag("copy-fails")

    def finish(due: datetime) -> None:
        if copy.state != BackupState.CREATE_IN_PROGRESS:
            return
        if fails:
            copy.state = BackupState.DELETED
            copy.deleted_at = due
        else:
            copy.state = BackupState.READY
            copy.ready_at = due

    core.scheduler.at(now + core.duration("backup_copy"), f"copy {copy.backup_id} done", finish)
    destination_backup: dict[str, Any] = {
        "CreateTimestamp": source.create_timestamp,
        "SourceRegion": region,
        "SourceBackup": source.backup_id,
    }
    if source_cluster is not None:
        destination_backup["SourceCluster"] = source_cluster
    return {"DestinationBackup": destination_backup}
