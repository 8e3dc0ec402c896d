"""The tag that marks a recovery-account vault resource (docs/runbooks/vault.md): the
vault refresh writes it, the restore in the recovery account reads it."""

from __future__ import annotations

VAULT_KEY = "hsmdr:vault"  # value: the deployment; on vault clusters and vault backups
