"""The 18 CloudHSM v2 operations, by their API names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.emulator import ops_backups, ops_clusters, ops_hsms, ops_resources
from sandbox.emulator.core import WorldCore

Handler = Callable[[WorldCore, str, dict[str, Any]], dict[str, Any]]

OPERATIONS: dict[str, Handler] = {
    "CreateCluster": ops_clusters.create_cluster,
    "DeleteCluster": ops_clusters.delete_cluster,
    "DescribeClusters": ops_clusters.describe_clusters,
    "ModifyCluster": ops_clusters.modify_cluster,
    "InitializeCluster": ops_clusters.initialize_cluster,
    "CreateHsm": ops_hsms.create_hsm,
    "DeleteHsm": ops_hsms.delete_hsm,
    "DescribeBackups": ops_backups.describe_backups,
    "DeleteBackup": ops_backups.delete_backup,
    "RestoreBackup": ops_backups.restore_backup,
    "ModifyBackupAttributes": ops_backups.modify_backup_attributes,
    "CopyBackupToRegion": ops_backups.copy_backup_to_region,
    "GetResourcePolicy": ops_resources.get_resource_policy,
    "PutResourcePolicy": ops_resources.put_resource_policy,
    "DeleteResourcePolicy": ops_resources.delete_resource_policy,
    "ListTags": ops_resources.list_tags,
    "TagResource": ops_resources.tag_resource,
    "UntagResource": ops_resources.untag_resource,
}
