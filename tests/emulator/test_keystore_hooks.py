"""The key store hook: the world tells its KeyStore when keys are seeded, backed up,
copied and restored, and which key faults a restore suffers."""

from __future__ import annotations

from typing import Any

from sandbox.emulator import CloudHsmWorld
from sandbox.emulator.keystore import NoKeyStore
from tests.emulator.helpers import DR_REGION, Network, seed


class RecordingKeyStore:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def cluster_seeded(self, cluster_id: str) -> None:
        self.calls.append(("seeded", cluster_id))

    def backup_taken(self, cluster_id: str, backup_id: str) -> None:
        self.calls.append(("backup", cluster_id, backup_id))

    def backup_copied(self, source_backup_id: str, copy_backup_id: str) -> None:
        self.calls.append(("copy", source_backup_id, copy_backup_id))

    def hsm_restored(self, cluster_id: str, backup_id: str, damage: frozenset[str]) -> None:
        self.calls.append(("restored", cluster_id, backup_id, damage))

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == kind]


def test_default_key_store_does_nothing(world: CloudHsmWorld) -> None:
    assert isinstance(world.key_store, NoKeyStore)


def test_seeding_makes_keys_then_snapshots_each_seeded_backup(
    world: CloudHsmWorld, network: Network
) -> None:
    store = RecordingKeyStore()
    world.key_store = store
    cluster_id = seed(world, network, hours=(26, 2))
    backups = [b["BackupId"] for b in world.backups(network.region)]
    assert store.calls[0] == ("seeded", cluster_id)
    assert {c[2] for c in store.of("backup")} == set(backups)


def test_a_backup_forced_by_adding_an_hsm_snapshots_and_restores_nothing(
    world: CloudHsmWorld, network: Network, hsm: Any
) -> None:
    # Given a seeded ACTIVE cluster with one ACTIVE HSM
    store = RecordingKeyStore()
    world.key_store = store
    cluster_id = seed(world, network, azs=2, hours=())
    # When an HSM is added (CloudHSM backs up the cluster first)
    hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{network.region}a")
    world.settle()
    # Then the backup is snapshotted, and the new HSM syncs from its siblings: no restore
    [taken] = store.of("backup")
    assert taken[1] == cluster_id
    assert store.of("restored") == []


def test_a_cluster_from_a_backup_is_restored_when_its_hsm_is_active_with_the_faults_on(
    world: CloudHsmWorld, network: Network, hsm: Any
) -> None:
    store = RecordingKeyStore()
    world.key_store = store
    source = seed(world, network, hours=(2,))
    [backup] = [b["BackupId"] for b in world.backups(network.region)]
    world.faults.enable("key-corrupt")
    world.faults.enable("bad-pin")
    restored = hsm.create_cluster(
        HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:1], SourceBackupId=backup
    )["Cluster"]["ClusterId"]
    world.settle()
    assert store.of("restored") == []  # no HSM yet: nothing restored
    hsm.create_hsm(ClusterId=restored, AvailabilityZone=f"{network.region}a")
    world.settle()
    assert store.of("restored") == [
        ("restored", restored, backup, frozenset({"key-corrupt", "bad-pin"}))
    ]
    assert source != restored


def test_copies_share_their_source_snapshot(
    world: CloudHsmWorld, network: Network, dr_network: Network, hsm: Any
) -> None:
    store = RecordingKeyStore()
    world.key_store = store
    seed(world, network, hours=(2,))
    [backup] = [b["BackupId"] for b in world.backups(network.region)]
    hsm.copy_backup_to_region(DestinationRegion=DR_REGION, BackupId=backup)
    seeded_copy = world.seed_copy(backup, "eu-west-1")
    [(_, source, api_copy), (_, source2, seed_copy_id)] = store.of("copy")
    assert source == source2 == backup
    assert api_copy in {b["BackupId"] for b in world.backups(DR_REGION)}
    assert seed_copy_id == seeded_copy


def test_key_faults_are_named_flags(world: CloudHsmWorld) -> None:
    world.faults.enable("key-missing")
    assert world.faults.key_damage() == frozenset({"key-missing"})
    assert "key-missing" in world.faults.active()
    world.faults.disable("key-missing")
    assert world.faults.key_damage() == frozenset()
