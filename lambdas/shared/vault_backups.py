"""A restore in the recovery account starts from the vault's backups. Pure: no AWS calls.

A vault backup is made by a vault cluster (created from the backup production shared),
so its ClusterId names that vault cluster, not the production cluster whose keys it
holds: that one is in its `hsmdr:source-cluster` tag, which the vault refresh wrote.
Only backups tagged `hsmdr:vault=<deployment>` (and the project's own tags) count: any
other backup of the recovery account is not the vault's, nor is one tagged `hsmdr:drill`
(a backup the vault drill's teardown made of its drill cluster, whatever else it carries).
The restore and the drill in the recovery account both choose by these two functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from lambdas.shared.copies import (
    DEPLOYMENT_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    SOURCE_CLUSTER_KEY,
)
from lambdas.shared.models import Backup
from lambdas.shared.vault_tags import DRILL_KEY, VAULT_KEY


def is_vault_backup(backup: Backup, deployment: str) -> bool:
    tags = backup.tags
    return (
        tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE
        and tags.get(DEPLOYMENT_KEY) == deployment
        and tags.get(VAULT_KEY) == deployment
        and bool(tags.get(SOURCE_CLUSTER_KEY))
        and DRILL_KEY not in tags
    )


def as_vault_backups(backups: Iterable[Backup], deployment: str) -> list[Backup]:
    """The deployment's vault backups, each seen as a backup of the production cluster
    its tag names (its `origin_cluster`), so the restore's choice (newest READY of the
    source cluster) applies unchanged; every other backup is left out."""
    return [
        replace(b, source_cluster=b.tags[SOURCE_CLUSTER_KEY])
        for b in backups
        if is_vault_backup(b, deployment)
    ]
