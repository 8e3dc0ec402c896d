"""Lifecycle rules: what happens when transitions fall due, and the periodic sweeps.

Service behaviour reproduced here (facts page):
- backups are made on activation, when an HSM is added to an ACTIVE cluster that has an
  ACTIVE HSM to copy, when an HSM is removed from an ACTIVE cluster that still has an
  ACTIVE HSM (including the one being removed), and at least every 24 hours;
- retention moves a cluster's READY backup older than the policy to PENDING_DELETION
  (never NeverExpires backups, never copies, never the cluster's newest READY backup),
  and PENDING_DELETION becomes DELETED after 7 days.
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from datetime import datetime, timedelta

from sandbox.emulator import ram_shares
from sandbox.emulator.core import WorldCore
from sandbox.emulator.models import (
    HSM_DEGRADED_MESSAGE,
    HSM_FAILED_MESSAGE,
    HSM_MESSAGES,
    Backup,
    BackupState,
    Cluster,
    ClusterState,
    Hsm,
    HsmState,
    RegionState,
)


def fake_pem(label: str, seed: str) -> str:
    """A PEM-looking blob: enough for code that stores or compares certificates."""
    digest = hashlib.sha256(f"{label}:{seed}".encode()).digest() * 6
    body = base64.b64encode(digest).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def hardware_certificates(hsm_id: str) -> dict[str, str]:
    return {
        "HsmCertificate": fake_pem("CERTIFICATE", f"hsm:{hsm_id}"),
        "AwsHardwareCertificate": fake_pem("CERTIFICATE", f"aws:{hsm_id}"),
        "ManufacturerHardwareCertificate": fake_pem("CERTIFICATE", f"mfr:{hsm_id}"),
    }


# -- backups -------------------------------------------------------------------------------
def start_backup(core: WorldCore, region: str, cluster: Cluster, at: datetime) -> Backup:
    """The service backs the cluster up; READY after profile.backup_create."""
    backup = Backup(
        backup_id=core.ids.backup_id(),
        region=region,
        account_id=core.account_id,
        state=BackupState.CREATE_IN_PROGRESS,
        cluster_id=cluster.cluster_id,
        create_timestamp=at,
        hsm_type=cluster.hsm_type,
        mode=cluster.mode,
        certificates=_carried_certificates(cluster),
    )
    core.regions[region].backups[backup.backup_id] = backup
    core.key_store.backup_taken(cluster.cluster_id, backup.backup_id)
    if not core.faults.flag("backup-stuck"):
        core.scheduler.at(
            at + core.duration("backup_create"),
            f"backup {backup.backup_id} ready",
            lambda due: _backup_ready(backup, due),
        )
    cluster.daily_generation += 1
    schedule_daily(core, region, cluster, at + core.settings.daily_backup_interval)
    return backup


def _carried_certificates(cluster: Cluster) -> dict[str, str]:
    # A backup holds the cluster certificate, so a restored cluster presents the same
    # one and clients keep trusting the original customerCA.crt.
    return {
        key: value for key, value in cluster.certificates.items() if key == "ClusterCertificate"
    }


def _backup_ready(backup: Backup, due: datetime) -> None:
    if backup.state == BackupState.CREATE_IN_PROGRESS:
        backup.state = BackupState.READY
        backup.ready_at = due


def schedule_daily(core: WorldCore, region: str, cluster: Cluster, due: datetime) -> None:
    generation = cluster.daily_generation
    core.scheduler.at(
        due,
        f"daily backup check {cluster.cluster_id}",
        lambda when: _daily_backup(core, region, cluster, generation, when),
        recurring=True,
    )


def _daily_backup(
    core: WorldCore, region: str, cluster: Cluster, generation: int, due: datetime
) -> None:
    if generation != cluster.daily_generation:
        return  # a newer backup rescheduled the daily one
    if cluster.state in (ClusterState.DELETE_IN_PROGRESS, ClusterState.DELETED):
        return
    eligible = cluster.state == ClusterState.ACTIVE and bool(cluster.active_hsms())
    if eligible and not core.faults.flag("backups-stopped"):
        start_backup(core, region, cluster, due)
    else:
        schedule_daily(core, region, cluster, due + core.settings.daily_backup_interval)


def latest_ready_backup(core: WorldCore, region: str, cluster_id: str) -> Backup | None:
    ready = [
        backup
        for backup in core.regions[region].backups.values()
        if backup.cluster_id == cluster_id and backup.state == BackupState.READY
    ]
    return max(ready, key=lambda b: b.create_timestamp, default=None)


# -- HSMs ------------------------------------------------------------------------------------
def finish_hsm_create(
    core: WorldCore,
    region: str,
    cluster: Cluster,
    hsm: Hsm,
    *,
    degraded: bool,
    due: datetime,
) -> None:
    if hsm.state != HsmState.CREATE_IN_PROGRESS:
        return  # deleted meanwhile
    if degraded:
        hsm.state = HsmState.DEGRADED
        hsm.state_message = HSM_DEGRADED_MESSAGE
        return
    hsm.state = HsmState.ACTIVE
    hsm.state_message = HSM_MESSAGES[HsmState.ACTIVE]
    if hsm.restored_backup_id is not None and len(cluster.active_hsms()) == 1:
        # The cluster's keys are now the backup's (with an ACTIVE sibling, keys sync instead).
        core.key_store.hsm_restored(
            cluster.cluster_id, hsm.restored_backup_id, core.faults.key_damage()
        )
    if cluster.state == ClusterState.UNINITIALIZED and "ClusterCsr" not in cluster.certificates:
        # The first HSM produces the cluster's CSR, which InitializeCluster answers.
        cluster.certificates.update(hardware_certificates(hsm.hsm_id))
        cluster.certificates["ClusterCsr"] = fake_pem(
            "CERTIFICATE REQUEST", f"csr:{cluster.cluster_id}"
        )
    if cluster.state == ClusterState.INITIALIZED:
        schedule_activation(core, region, cluster, due)


def finish_hsm_delete(core: WorldCore, region: str, cluster: Cluster, hsm: Hsm) -> None:
    hsm.state = HsmState.DELETED
    cluster.hsms.pop(hsm.hsm_id, None)
    core.ec2.delete_eni(region, hsm.eni_id)


def fail_hsm(core: WorldCore, cluster_id: str, hsm_id: str | None) -> None:
    """The hsm-failure fault: an ACTIVE HSM turns DEGRADED now."""
    for state in core.regions.values():
        cluster = state.clusters.get(cluster_id)
        if cluster is None:
            continue
        candidates = [h for h in cluster.active_hsms() if hsm_id in (None, h.hsm_id)]
        if not candidates:
            raise ValueError(f"no ACTIVE HSM matching {hsm_id or 'any id'} in {cluster_id}")
        candidates[0].state = HsmState.DEGRADED
        candidates[0].state_message = HSM_FAILED_MESSAGE
        return
    raise ValueError(f"unknown cluster {cluster_id}")


# -- cluster activation ----------------------------------------------------------------------
def schedule_activation(core: WorldCore, region: str, cluster: Cluster, at: datetime) -> None:
    """Stand-in for the operator activating the cluster with the CloudHSM CLI."""
    if not core.settings.auto_activate or cluster.activation_scheduled:
        return
    cluster.activation_scheduled = True

    def activate_when_due(due: datetime) -> None:
        cluster.activation_scheduled = False
        if cluster.state == ClusterState.INITIALIZED and cluster.active_hsms():
            activate(core, region, cluster, due)

    core.scheduler.at(
        at + core.duration("cluster_activate"),
        f"activate {cluster.cluster_id}",
        activate_when_due,
    )


def activate(core: WorldCore, region: str, cluster: Cluster, at: datetime) -> None:
    cluster.set_state(ClusterState.ACTIVE)
    start_backup(core, region, cluster, at)  # the service backs up on activation


# -- sweeps: retention, final deletion, disappearing DELETED records ----------------------------
def sweep(core: WorldCore, now: datetime) -> None:
    """Runs on every tick, so it stays linear in the number of backups."""
    settings = core.settings
    for state in core.regions.values():
        _apply_retention(core, state, now)
        for backup in list(state.backups.values()):
            if (
                backup.state == BackupState.PENDING_DELETION
                and backup.delete_timestamp is not None
                and backup.delete_timestamp <= now
            ):
                backup.state = BackupState.DELETED
                backup.deleted_at = backup.delete_timestamp
            if (
                backup.state == BackupState.DELETED
                and backup.deleted_at is not None
                and backup.deleted_at + settings.deleted_visible_for <= now
            ):
                del state.backups[backup.backup_id]
                core.policies.pop(backup.arn, None)
                ram_shares.policy_deleted(core, backup)
        for cluster in list(state.clusters.values()):
            if (
                cluster.state == ClusterState.DELETED
                and cluster.deleted_at is not None
                and cluster.deleted_at + settings.deleted_visible_for <= now
            ):
                del state.clusters[cluster.cluster_id]


def _apply_retention(core: WorldCore, state: RegionState, now: datetime) -> None:
    """Purge each cluster's expired READY backups, keeping its newest READY one.

    A backup expires ``retention`` days after it was made (or restored: restoring would
    be pointless if the next sweep purged it again; UNCONFIRMED, the docs are silent).
    It is purged once it has expired and a newer backup of the cluster is READY, at the
    later of those two moments, so the result does not depend on when the sweep runs.
    """
    ready_by_cluster: dict[str, list[Backup]] = defaultdict(list)
    for backup in state.backups.values():
        if backup.state == BackupState.READY and backup.cluster_id is not None:
            ready_by_cluster[backup.cluster_id].append(backup)
    for cluster_id, ready in ready_by_cluster.items():
        days = state.retention_days_by_cluster.get(cluster_id)
        if days is None:
            continue
        retention = timedelta(days=days)
        if not any(not b.never_expires and _expiry(b, retention) <= now for b in ready):
            continue
        ready.sort(key=lambda b: b.create_timestamp)
        # newer_ready_since[i]: when a backup newer than ready[i] first was READY.
        earliest_newer: datetime | None = None
        newer_ready_since: list[datetime | None] = [None] * len(ready)
        for index in range(len(ready) - 1, -1, -1):
            newer_ready_since[index] = earliest_newer
            became_ready = ready[index].ready_at or ready[index].create_timestamp
            earliest_newer = (
                became_ready if earliest_newer is None else min(earliest_newer, became_ready)
            )
        for backup, newer in zip(ready, newer_ready_since, strict=True):
            if backup.never_expires or newer is None:
                continue  # the service never deletes a cluster's last backup
            purged_at = max(_expiry(backup, retention), newer)
            if purged_at <= now:
                backup.state = BackupState.PENDING_DELETION
                backup.delete_timestamp = purged_at + core.settings.pending_deletion_period


def _expiry(backup: Backup, retention: timedelta) -> datetime:
    return max(backup.create_timestamp, backup.restored_at or backup.create_timestamp) + retention
