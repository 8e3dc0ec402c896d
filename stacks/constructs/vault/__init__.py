"""The recovery-account vault stack's constructs: the refresh workflow and the vault
verification (docs/runbooks/vault.md)."""
