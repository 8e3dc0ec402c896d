"""The tags of a restored cluster: how a restore finds its cluster again, and what
IAM lets the workflow touch (CreateHsm/DeleteHsm need `managed-by=cloudhsm-dr`)."""

from __future__ import annotations

from collections.abc import Sequence

from lambdas.shared.copies import (
    DEPLOYMENT_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    SOURCE_BACKUP_KEY,
    SOURCE_CLUSTER_KEY,
)
from lambdas.shared.models import Cluster
from lambdas.shared.standby import ADOPTED_BY_KEY

# Also what tells an adopted pilot-light standby from one still waiting (shared/standby.py).
RESTORE_ID_KEY = ADOPTED_BY_KEY
EXECUTION_KEY = "hsmdr:execution"
NAME_KEY = "Name"
# Every key CreateCluster may send: IAM's aws:TagKeys condition allows these only.
RESTORE_TAG_KEYS = (
    MANAGED_BY_KEY,
    DEPLOYMENT_KEY,
    RESTORE_ID_KEY,
    SOURCE_BACKUP_KEY,
    SOURCE_CLUSTER_KEY,
    EXECUTION_KEY,
    NAME_KEY,
)
_GONE = ("DELETE_IN_PROGRESS", "DELETED")


def identity_tags(deployment: str, restore_id: str) -> dict[str, str]:
    """The tags that identify a restore's cluster: the adoption key."""
    return {
        MANAGED_BY_KEY: MANAGED_BY_VALUE,
        DEPLOYMENT_KEY: deployment,
        RESTORE_ID_KEY: restore_id,
    }


def cluster_tags(
    deployment: str, restore_id: str, source_backup: str, source_cluster: str, execution: str
) -> dict[str, str]:
    return {
        **identity_tags(deployment, restore_id),
        SOURCE_BACKUP_KEY: source_backup,
        SOURCE_CLUSTER_KEY: source_cluster or "unknown",
        EXECUTION_KEY: execution,
        NAME_KEY: f"restored-{source_cluster or source_backup}",
    }


def restore_clusters(
    clusters: Sequence[Cluster], deployment: str, restore_id: str
) -> list[Cluster]:
    """The live clusters a restore created (found by their tags, DescribeClusters TagList)."""
    tags = identity_tags(deployment, restore_id)
    return [
        c
        for c in clusters
        if c.state not in _GONE and all(c.tags.get(k) == v for k, v in tags.items())
    ]
