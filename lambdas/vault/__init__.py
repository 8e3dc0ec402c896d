"""The recovery-account vault: the refresh workflow's steps and the vault verification
(docs/runbooks/vault.md)."""
