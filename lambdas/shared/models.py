"""Read models of CloudHSM resources, parsed once from API responses.

Plain frozen dataclasses rather than pydantic: verification reads thousands of
backups per run and these cost nothing to build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The states the API documents (botocore model, cloudhsmv2 2017-04-28).
BACKUP_READY = "READY"
BACKUP_CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
BACKUP_PENDING_DELETION = "PENDING_DELETION"
BACKUP_DELETED = "DELETED"

CLUSTER_ACTIVE = "ACTIVE"
CLUSTER_DEGRADED = "DEGRADED"

HSM_ACTIVE = "ACTIVE"
HSM_CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
HSM_DEGRADED = "DEGRADED"
HSM_DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"


def _tags(raw: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in raw or []}


@dataclass(frozen=True, slots=True)
class Hsm:
    hsm_id: str
    cluster_id: str
    availability_zone: str
    state: str
    subnet_id: str = ""
    eni_id: str = ""
    eni_ip: str = ""
    state_message: str = ""

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Hsm:
        return cls(
            hsm_id=raw["HsmId"],
            cluster_id=raw.get("ClusterId", ""),
            availability_zone=raw.get("AvailabilityZone", ""),
            state=raw.get("State", ""),
            subnet_id=raw.get("SubnetId", ""),
            eni_id=raw.get("EniId", ""),
            eni_ip=raw.get("EniIp", ""),
            state_message=raw.get("StateMessage", ""),
        )


@dataclass(frozen=True, slots=True)
class Cluster:
    cluster_id: str
    state: str
    hsm_type: str
    mode: str
    hsms: tuple[Hsm, ...] = ()
    subnet_mapping: Mapping[str, str] = field(default_factory=dict)
    vpc_id: str = ""
    security_group: str = ""
    source_backup_id: str = ""
    retention_days: int | None = None
    state_message: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Cluster:
        policy = raw.get("BackupRetentionPolicy") or {}
        retention = int(policy["Value"]) if policy.get("Type") == "DAYS" else None
        return cls(
            cluster_id=raw["ClusterId"],
            state=raw.get("State", ""),
            hsm_type=raw.get("HsmType", ""),
            # Clusters created before modes existed report no Mode; they are FIPS.
            mode=raw.get("Mode") or "FIPS",
            hsms=tuple(Hsm.from_api(h) for h in raw.get("Hsms") or []),
            subnet_mapping=dict(raw.get("SubnetMapping") or {}),
            vpc_id=raw.get("VpcId", ""),
            security_group=raw.get("SecurityGroup", ""),
            source_backup_id=raw.get("SourceBackupId", ""),
            retention_days=retention,
            state_message=raw.get("StateMessage", ""),
            tags=_tags(raw.get("TagList")),
        )


@dataclass(frozen=True, slots=True)
class Backup:
    backup_id: str
    state: str
    create_timestamp: datetime | None
    cluster_id: str = ""
    backup_arn: str = ""
    hsm_type: str = ""
    mode: str = ""
    never_expires: bool = False
    copy_timestamp: datetime | None = None
    delete_timestamp: datetime | None = None
    source_region: str = ""
    source_backup: str = ""
    source_cluster: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_copy(self) -> bool:
        return bool(self.source_backup)

    @property
    def origin_cluster(self) -> str:
        """The cluster whose keys this backup holds, for copies too."""
        return self.source_cluster or self.cluster_id

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Backup:
        return cls(
            backup_id=raw["BackupId"],
            state=raw.get("BackupState", ""),
            create_timestamp=raw.get("CreateTimestamp"),
            cluster_id=raw.get("ClusterId", ""),
            backup_arn=raw.get("BackupArn", ""),
            hsm_type=raw.get("HsmType", ""),
            mode=raw.get("Mode", ""),
            never_expires=bool(raw.get("NeverExpires", False)),
            copy_timestamp=raw.get("CopyTimestamp"),
            delete_timestamp=raw.get("DeleteTimestamp"),
            source_region=raw.get("SourceRegion", ""),
            source_backup=raw.get("SourceBackup", ""),
            source_cluster=raw.get("SourceCluster", ""),
            tags=_tags(raw.get("TagList")),
        )


# What `hsm_status` reports about an HSM this run is waiting on.
GONE = "GONE"


def hsm_status(cluster: Cluster, hsm_id: str) -> str:
    """State of one HSM of the cluster, or GONE once it is no longer listed."""
    for hsm in cluster.hsms:
        if hsm.hsm_id == hsm_id:
            return hsm.state
    return GONE
