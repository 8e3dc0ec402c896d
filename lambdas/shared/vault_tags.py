"""The tags that mark a recovery-account vault resource (docs/runbooks/vault.md): the
vault refresh writes them, the restore and the drill in the recovery account read them."""

from __future__ import annotations

from collections.abc import Mapping

from lambdas.shared.copies import (
    DEPLOYMENT_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    SOURCE_CLUSTER_KEY,
)

VAULT_KEY = "hsmdr:vault"  # value: the deployment; on vault clusters and vault backups
# On a drill cluster, its security group and the backups its teardown makes (value: the
# drill execution). A resource so tagged is the drill's, never the vault's.
DRILL_KEY = "hsmdr:drill"


def is_vault_cluster_of(tags: Mapping[str, str], deployment: str, source_cluster: str) -> bool:
    """A vault cluster of `deployment` holding a backup of production's `source_cluster`:
    what the vault's capture requires of a cluster's tags, read from CloudHSM right
    before it reads the cluster's keys."""
    return (
        tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE
        and tags.get(DEPLOYMENT_KEY) == deployment
        and tags.get(VAULT_KEY) == deployment
        and tags.get(SOURCE_CLUSTER_KEY) == source_cluster
    )
