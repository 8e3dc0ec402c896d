"""The emulator's stored entities and their API representations.

Entities are plain mutable dataclasses guarded by the world's lock. ``to_api`` renders
the botocore model's shapes with ``datetime`` values; the moto plug-in turns those into
epoch seconds and the read-only snapshots hand them to tests as they are.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sandbox.emulator.ids import resource_arn


class ClusterState(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    UNINITIALIZED = "UNINITIALIZED"
    INITIALIZE_IN_PROGRESS = "INITIALIZE_IN_PROGRESS"
    INITIALIZED = "INITIALIZED"
    ACTIVE = "ACTIVE"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    MODIFY_IN_PROGRESS = "MODIFY_IN_PROGRESS"
    ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETED = "DELETED"
    DEGRADED = "DEGRADED"


class HsmState(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    ACTIVE = "ACTIVE"
    DEGRADED = "DEGRADED"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETED = "DELETED"


class BackupState(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    READY = "READY"
    DELETED = "DELETED"
    PENDING_DELETION = "PENDING_DELETION"


HSM_TYPES = ("hsm1.medium", "hsm2m.medium")
LEGACY_HSM_TYPE = "hsm1.medium"
MODES = ("FIPS", "NON_FIPS")
NETWORK_TYPES = ("IPV4", "DUALSTACK")

# StateMessage texts. The DEGRADED one is the service's own (facts page); the others
# are the emulator's wording.
HSM_DEGRADED_MESSAGE = "HSM creation failed. Please delete this HSM and try again."
HSM_FAILED_MESSAGE = "HSM is unhealthy."
HSM_MESSAGES: dict[HsmState, str] = {
    HsmState.CREATE_IN_PROGRESS: "HSM create in progress.",
    HsmState.ACTIVE: "HSM is active.",
    HsmState.DEGRADED: HSM_DEGRADED_MESSAGE,
    HsmState.DELETE_IN_PROGRESS: "HSM delete in progress.",
}
CLUSTER_MESSAGES: dict[ClusterState, str] = {
    ClusterState.CREATE_IN_PROGRESS: "Cluster creation in progress.",
    ClusterState.UNINITIALIZED: "Cluster is uninitialized.",
    ClusterState.INITIALIZE_IN_PROGRESS: "Cluster initialization in progress.",
    ClusterState.INITIALIZED: "Cluster is initialized; activate it to use it.",
    ClusterState.ACTIVE: "Cluster is active.",
    ClusterState.MODIFY_IN_PROGRESS: "Cluster modification in progress.",
    ClusterState.DELETE_IN_PROGRESS: "Cluster deletion in progress.",
    ClusterState.DELETED: "Cluster has been deleted.",
}


def shift_datetimes(entity: Any, delta: timedelta) -> None:
    """Move every datetime field of a dataclass ``delta`` into the past (time travel)."""
    for item in dataclasses.fields(entity):
        value = getattr(entity, item.name)
        if isinstance(value, datetime):
            setattr(entity, item.name, value - delta)


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


@dataclass
class Hsm:
    hsm_id: str
    cluster_id: str
    availability_zone: str
    subnet_id: str
    eni_id: str
    eni_ip: str
    eni_ip_v6: str | None
    hsm_type: str
    state: HsmState
    state_message: str
    created_at: datetime
    # The backup restored onto this HSM when it is created, if any (informational).
    restored_backup_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "AvailabilityZone": self.availability_zone,
            "ClusterId": self.cluster_id,
            "SubnetId": self.subnet_id,
            "EniId": self.eni_id,
            "EniIp": self.eni_ip,
            "HsmId": self.hsm_id,
            "HsmType": self.hsm_type,
            "State": self.state.value,
            "StateMessage": self.state_message,
        }
        if self.eni_ip_v6 is not None:
            body["EniIpV6"] = self.eni_ip_v6
        return body


@dataclass
class Cluster:
    cluster_id: str
    region: str
    account_id: str
    hsm_type: str
    mode: str
    network_type: str
    state: ClusterState
    state_message: str
    vpc_id: str
    subnet_mapping: dict[str, str]
    security_group: str
    create_timestamp: datetime
    retention_days: int
    source_backup_id: str | None = None
    certificates: dict[str, str] = field(default_factory=dict)
    trust_anchor: str | None = None  # InitializeCluster's TrustAnchor; not in the API shape
    tags: dict[str, str] = field(default_factory=dict)
    hsms: dict[str, Hsm] = field(default_factory=dict)
    hsm_type_rollback_expiration: datetime | None = None
    previous_hsm_type: str | None = None
    deleted_at: datetime | None = None
    activation_scheduled: bool = False
    # Bumped whenever a backup of the cluster starts; a scheduled daily backup whose
    # generation is stale was superseded by a newer backup and does nothing.
    daily_generation: int = 0

    @property
    def arn(self) -> str:
        return resource_arn("cluster", self.region, self.account_id, self.cluster_id)

    def live_hsms(self) -> list[Hsm]:
        return [hsm for hsm in self.hsms.values() if hsm.state != HsmState.DELETED]

    def active_hsms(self) -> list[Hsm]:
        return [hsm for hsm in self.hsms.values() if hsm.state == HsmState.ACTIVE]

    def set_state(self, state: ClusterState, message: str | None = None) -> None:
        self.state = state
        self.state_message = message if message is not None else CLUSTER_MESSAGES.get(state, "")

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "BackupPolicy": "DEFAULT",
            "BackupRetentionPolicy": {"Type": "DAYS", "Value": str(self.retention_days)},
            "ClusterId": self.cluster_id,
            "CreateTimestamp": self.create_timestamp,
            "Hsms": [hsm.to_api() for hsm in self.live_hsms()],
            "HsmType": self.hsm_type,
            "SecurityGroup": self.security_group,
            "State": self.state.value,
            "StateMessage": self.state_message,
            "SubnetMapping": dict(self.subnet_mapping),
            "VpcId": self.vpc_id,
            "NetworkType": self.network_type,
            "Certificates": dict(self.certificates),
            "TagList": tag_list(self.tags),
            "Mode": self.mode,
        }
        if self.source_backup_id is not None:
            body["SourceBackupId"] = self.source_backup_id
        if self.hsm_type_rollback_expiration is not None:
            body["HsmTypeRollbackExpiration"] = self.hsm_type_rollback_expiration
        return body


@dataclass
class Backup:
    backup_id: str
    region: str
    account_id: str
    state: BackupState
    cluster_id: str | None  # None for a copy: it is no longer tied to a cluster
    create_timestamp: datetime
    hsm_type: str
    mode: str
    never_expires: bool = False
    copy_timestamp: datetime | None = None
    source_region: str | None = None
    source_backup: str | None = None
    source_cluster: str | None = None
    delete_timestamp: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # The backed-up cluster's certificates: a cluster restored from it carries them.
    certificates: dict[str, str] = field(default_factory=dict)
    # Bookkeeping, not part of the API shape.
    ready_at: datetime | None = None
    restored_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def arn(self) -> str:
        return resource_arn("backup", self.region, self.account_id, self.backup_id)

    @property
    def is_copy(self) -> bool:
        return self.source_backup is not None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "BackupId": self.backup_id,
            "BackupArn": self.arn,
            "BackupState": self.state.value,
            "CreateTimestamp": self.create_timestamp,
            "NeverExpires": self.never_expires,
            "HsmType": self.hsm_type,
            "Mode": self.mode,
        }
        optional: dict[str, Any] = {
            "ClusterId": self.cluster_id,
            "CopyTimestamp": self.copy_timestamp,
            "SourceRegion": self.source_region,
            "SourceBackup": self.source_backup,
            "SourceCluster": self.source_cluster,
            "DeleteTimestamp": self.delete_timestamp,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        if self.tags:
            body["TagList"] = tag_list(self.tags)
        return body


@dataclass
class RegionState:
    clusters: dict[str, Cluster] = field(default_factory=dict)
    backups: dict[str, Backup] = field(default_factory=dict)
    # Outlives the cluster record: the policy keeps applying to a deleted cluster's backups.
    retention_days_by_cluster: dict[str, int] = field(default_factory=dict)
