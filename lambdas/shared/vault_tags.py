"""The tags that mark a recovery-account vault resource (docs/runbooks/vault.md): the
vault refresh writes them, the restore and the drill in the recovery account read them."""

from __future__ import annotations

VAULT_KEY = "hsmdr:vault"  # value: the deployment; on vault clusters and vault backups
# On a drill cluster, its security group and the backups its teardown makes (value: the
# drill execution). A resource so tagged is the drill's, never the vault's.
DRILL_KEY = "hsmdr:drill"
