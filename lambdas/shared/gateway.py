"""The only module that talks to the CloudHSM API (boto3 `cloudhsmv2`).

Every list goes through a paginator, filters are applied server side, retries use
botocore's adaptive mode, and CloudHSM errors become domain exceptions whose class
names Step Functions can Retry and Catch on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from lambdas.shared.errors import (
    BackupNotFound,
    CloudHsmAccessDenied,
    CloudHsmDrError,
    CloudHsmInvalidRequest,
    CloudHsmLimitExceeded,
    CloudHsmTagError,
    CloudHsmUnavailable,
    ClusterNotFound,
)
from lambdas.shared.models import Backup, Cluster, Hsm

CLUSTERS_PAGE_MAX = 25  # DescribeClusters MaxResults upper bound
BACKUPS_PAGE_MAX = 50  # DescribeBackups MaxResults upper bound
RETRY_ATTEMPTS = 8  # in all, the first attempt included

_ERROR_MAP: dict[str, type[CloudHsmDrError]] = {
    "CloudHsmAccessDeniedException": CloudHsmAccessDenied,
    "CloudHsmInternalFailureException": CloudHsmUnavailable,
    "CloudHsmServiceException": CloudHsmUnavailable,
    "CloudHsmInvalidRequestException": CloudHsmInvalidRequest,
    "CloudHsmResourceLimitExceededException": CloudHsmLimitExceeded,
    "CloudHsmTagException": CloudHsmTagError,
    "ThrottlingException": CloudHsmUnavailable,
}


def client_for(region: str, session: Any = None, max_attempts: int = RETRY_ATTEMPTS) -> Any:
    """A cloudhsmv2 client with adaptive retries (throttling backs off client side)."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "adaptive", "total_max_attempts": max_attempts},
        user_agent_extra="cloudhsm-dr",
    )
    factory = session or boto3
    return factory.client("cloudhsmv2", region_name=region, config=config)


@contextmanager
def _mapped_errors(not_found: type[CloudHsmDrError]) -> Iterator[None]:
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "") or str(error)
        if code == "CloudHsmResourceNotFoundException":
            raise not_found(message) from error
        mapped = _ERROR_MAP.get(code)
        if mapped is None:
            raise
        raise mapped(f"{code}: {message}") from error


class CloudHsmGateway:
    """Typed access to one region's CloudHSM clusters and backups."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def for_region(
        cls, region: str, session: Any = None, max_attempts: int = RETRY_ATTEMPTS
    ) -> CloudHsmGateway:
        return cls(client_for(region, session, max_attempts))

    @property
    def region(self) -> str:
        return str(self._client.meta.region_name)

    # Clusters ---------------------------------------------------------------

    def describe_clusters(
        self,
        cluster_ids: Sequence[str] | None = None,
        states: Sequence[str] | None = None,
        vpc_ids: Sequence[str] | None = None,
    ) -> list[Cluster]:
        filters = _filters(clusterIds=cluster_ids, states=states, vpcIds=vpc_ids)
        paginator = self._client.get_paginator("describe_clusters")
        pages = paginator.paginate(**filters, PaginationConfig={"PageSize": CLUSTERS_PAGE_MAX})
        with _mapped_errors(ClusterNotFound):
            return [Cluster.from_api(raw) for page in pages for raw in page["Clusters"]]

    def cluster_and_region_hsms(self, cluster_id: str) -> tuple[Cluster | None, int]:
        """The cluster (None if absent) and the HSMs of the whole region: the quota
        counts every cluster's HSMs. One DescribeClusters for both."""
        clusters = self.describe_clusters()
        cluster = next((c for c in clusters if c.cluster_id == cluster_id), None)
        return cluster, sum(len(c.hsms) for c in clusters)

    def find_clusters(self, cluster_ids: Sequence[str]) -> dict[str, Cluster]:
        """The clusters that exist among `cluster_ids`, by id; missing ids are absent."""
        if not cluster_ids:
            return {}
        found = self.describe_clusters(cluster_ids=sorted(set(cluster_ids)))
        return {c.cluster_id: c for c in found}

    def get_cluster(self, cluster_id: str) -> Cluster:
        cluster = self.find_clusters([cluster_id]).get(cluster_id)
        if cluster is None:
            raise ClusterNotFound(f"cluster {cluster_id} not found in {self.region}")
        return cluster

    # Backups ----------------------------------------------------------------

    def iter_backups(
        self,
        *,
        cluster_ids: Sequence[str] | None = None,
        backup_ids: Sequence[str] | None = None,
        source_backup_ids: Sequence[str] | None = None,
        state: str | None = None,
        never_expires: bool | None = None,
        newest_first: bool = True,
        page_size: int = BACKUPS_PAGE_MAX,
        limit: int | None = None,
    ) -> Iterator[Backup]:
        """Backups matching every filter given, newest first by default.

        `state` is a single state on purpose: the `states` filter is reported to
        accept only one value at a time. `limit` stops paging as soon as enough
        backups were read, so asking for the newest one costs one call.
        """
        filters = _filters(
            clusterIds=cluster_ids,
            backupIds=backup_ids,
            sourceBackupIds=source_backup_ids,
            states=[state] if state else None,
            neverExpires=None if never_expires is None else [str(never_expires)],
        )
        pagination: dict[str, int] = {"PageSize": min(page_size, BACKUPS_PAGE_MAX)}
        if limit is not None:
            pagination["MaxItems"] = limit
            pagination["PageSize"] = min(pagination["PageSize"], limit)
        paginator = self._client.get_paginator("describe_backups")
        pages = paginator.paginate(
            **filters, SortAscending=not newest_first, PaginationConfig=pagination
        )
        with _mapped_errors(BackupNotFound):
            for page in pages:
                for raw in page["Backups"]:
                    yield Backup.from_api(raw)

    def latest_backup(self, cluster_id: str, state: str) -> Backup | None:
        """The newest backup of a cluster in `state`, in one API call."""
        return next(self.iter_backups(cluster_ids=[cluster_id], state=state, limit=1), None)

    def list_tags(self, resource_id: str) -> dict[str, str]:
        paginator = self._client.get_paginator("list_tags")
        with _mapped_errors(
            BackupNotFound if resource_id.startswith("backup-") else ClusterNotFound
        ):
            return {
                t["Key"]: t["Value"]
                for page in paginator.paginate(ResourceId=resource_id)
                for t in page["TagList"]
            }

    def get_backup(self, backup_id: str) -> Backup:
        backup = next(self.iter_backups(backup_ids=[backup_id], limit=1), None)
        if backup is None:
            raise BackupNotFound(f"backup {backup_id} not found in {self.region}")
        return backup

    # Changes ------------------------------------------------------------------
    # Each returns what the API returns, parsed; callers decide and record why.

    def create_cluster(
        self,
        *,
        hsm_type: str,
        subnet_ids: Sequence[str],
        source_backup_id: str,
        mode: str,
        tags: dict[str, str],
    ) -> Cluster:
        """A cluster restored from a backup: it goes ACTIVE with no InitializeCluster."""
        with _mapped_errors(BackupNotFound):
            response = self._client.create_cluster(
                HsmType=hsm_type,
                SubnetIds=list(subnet_ids),
                SourceBackupId=source_backup_id,
                Mode=mode,
                TagList=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            )
        return Cluster.from_api(response["Cluster"])

    def create_hsm(
        self, cluster_id: str, availability_zone: str, ip_address: str | None = None
    ) -> Hsm:
        params: dict[str, str] = {"ClusterId": cluster_id, "AvailabilityZone": availability_zone}
        if ip_address:
            params["IpAddress"] = ip_address
        with _mapped_errors(ClusterNotFound):
            return Hsm.from_api(self._client.create_hsm(**params)["Hsm"])

    def delete_hsm(self, cluster_id: str, hsm_id: str) -> str:
        with _mapped_errors(ClusterNotFound):
            return str(self._client.delete_hsm(ClusterId=cluster_id, HsmId=hsm_id)["HsmId"])

    def delete_cluster(self, cluster_id: str) -> Cluster:
        """Every HSM must be gone first; the cluster goes DELETE_IN_PROGRESS, then DELETED."""
        with _mapped_errors(ClusterNotFound):
            return Cluster.from_api(self._client.delete_cluster(ClusterId=cluster_id)["Cluster"])

    def copy_backup_to_region(
        self, backup_id: str, destination_region: str, tags: dict[str, str]
    ) -> dict[str, Any]:
        """Starts a copy. The API returns no id for the copy: find it in the destination
        region with `iter_backups(source_backup_ids=[backup_id])`."""
        with _mapped_errors(BackupNotFound):
            response = self._client.copy_backup_to_region(
                DestinationRegion=destination_region,
                BackupId=backup_id,
                TagList=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            )
        return dict(response["DestinationBackup"])

    def delete_backup(self, backup_id: str) -> Backup:
        """Puts the backup in PENDING_DELETION (restorable for 7 days)."""
        with _mapped_errors(BackupNotFound):
            return Backup.from_api(self._client.delete_backup(BackupId=backup_id)["Backup"])

    def set_never_expires(self, backup_id: str, never_expires: bool) -> Backup:
        with _mapped_errors(BackupNotFound):
            response = self._client.modify_backup_attributes(
                BackupId=backup_id, NeverExpires=never_expires
            )
        return Backup.from_api(response["Backup"])

    def tag_resource(self, resource_id: str, tags: dict[str, str]) -> None:
        with _mapped_errors(
            BackupNotFound if resource_id.startswith("backup-") else ClusterNotFound
        ):
            self._client.tag_resource(
                ResourceId=resource_id,
                TagList=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            )

    def untag_resource(self, resource_id: str, keys: Sequence[str]) -> None:
        with _mapped_errors(
            BackupNotFound if resource_id.startswith("backup-") else ClusterNotFound
        ):
            self._client.untag_resource(ResourceId=resource_id, TagKeyList=list(keys))

    # Sharing with another account (resource policies; only backups take them) -------

    def iter_shared_backups(self, *, state: str | None = None) -> Iterator[Backup]:
        """Backups other accounts shared with this one (DescribeBackups Shared=true)."""
        filters = _filters(states=[state] if state else None)
        paginator = self._client.get_paginator("describe_backups")
        pages = paginator.paginate(
            **filters,
            Shared=True,
            SortAscending=False,
            PaginationConfig={"PageSize": BACKUPS_PAGE_MAX},
        )
        with _mapped_errors(BackupNotFound):
            for page in pages:
                for raw in page["Backups"]:
                    yield Backup.from_api(raw)

    def get_resource_policy(self, backup_arn: str) -> str | None:
        """The backup's resource policy (JSON text), or None when it has none."""
        with _mapped_errors(BackupNotFound):
            response = self._client.get_resource_policy(ResourceArn=backup_arn)
        policy = response.get("Policy")
        return str(policy) if policy else None

    def put_resource_policy(self, backup_arn: str, policy: str) -> None:
        """Replaces the backup's resource policy: only a READY backup you own."""
        with _mapped_errors(BackupNotFound):
            self._client.put_resource_policy(ResourceArn=backup_arn, Policy=policy)

    def delete_resource_policy(self, backup_arn: str) -> None:
        with _mapped_errors(BackupNotFound):
            self._client.delete_resource_policy(ResourceArn=backup_arn)

    def set_retention_days(self, cluster_id: str, days: int) -> Cluster:
        with _mapped_errors(ClusterNotFound):
            response = self._client.modify_cluster(
                ClusterId=cluster_id,
                BackupRetentionPolicy={"Type": "DAYS", "Value": str(days)},
            )
        return Cluster.from_api(response["Cluster"])


def _filters(**values: Sequence[str] | None) -> dict[str, Any]:
    filters = {name: list(v) for name, v in values.items() if v}
    return {"Filters": filters} if filters else {}
