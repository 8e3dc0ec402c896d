"""The key store hook: where an emulated cluster's keys live, if anywhere.

CloudHSM backups hold keys and users, and a cluster created from a backup gets them
back when its first HSM is restored from it. The emulator itself keeps no keys: it
tells a KeyStore when those moments happen, and the store (sandbox/softhsm_keystore.py
backs each cluster with a SoftHSM2 token) does the rest. The default store does
nothing, so worlds without one behave exactly as before.

The world calls, under its lock:
- cluster_seeded(cluster_id)            seed_cluster made a pre-existing cluster
- backup_taken(cluster_id, backup_id)   a backup of the cluster started (its content
                                        is what the cluster holds now)
- backup_copied(source_id, copy_id)     CopyBackupToRegion (or seed_copy): same content
- hsm_restored(cluster_id, backup_id, damage)
                                        the cluster's only ACTIVE HSM was restored from
                                        the backup; `damage` names the key faults on
                                        (key-missing, key-corrupt, bad-pin)
"""

from __future__ import annotations

from typing import Protocol


class KeyStore(Protocol):
    def cluster_seeded(self, cluster_id: str) -> None: ...

    def backup_taken(self, cluster_id: str, backup_id: str) -> None: ...

    def backup_copied(self, source_backup_id: str, copy_backup_id: str) -> None: ...

    def hsm_restored(self, cluster_id: str, backup_id: str, damage: frozenset[str]) -> None: ...


class NoKeyStore:
    """Keys are not emulated."""

    def cluster_seeded(self, cluster_id: str) -> None:
        return None

    def backup_taken(self, cluster_id: str, backup_id: str) -> None:
        return None

    def backup_copied(self, source_backup_id: str, copy_backup_id: str) -> None:
        return None

    def hsm_restored(self, cluster_id: str, backup_id: str, damage: frozenset[str]) -> None:
        return None
