"""The vault's tamper evidence: each new vault manifest against the vault's previous
one of the same production cluster (lambdas/keycheck/vault_changes.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from lambdas.keycheck.manifest import SECRET_KEY, KeyManifest, KeyRecord
from lambdas.keycheck.vault_changes import (
    CHANGED,
    FIRST,
    UNCHANGED,
    VAULT_KEYS_CHANGED,
    compare_vault_manifests,
)

SOURCE = "cluster-sourceclustera"
EARLIER = datetime(2026, 12, 1, 2, tzinfo=UTC)
LATER = datetime(2026, 12, 2, 2, tzinfo=UTC)


def aes(label: str, kcv: str | None, *, key_id: str = "01", size: int = 256) -> KeyRecord:
    return KeyRecord(label, key_id, SECRET_KEY, "AES", size, kcv, ("encrypt", "decrypt"))


def manifest(at: datetime, *keys: KeyRecord) -> KeyManifest:
    return KeyManifest(SOURCE, at, tuple(keys), ())


def test_the_first_vault_manifest_has_nothing_to_compare_with() -> None:
    result = compare_vault_manifests(None, manifest(LATER, aes("a", "AAAAAA")))
    assert result.status == FIRST
    assert result.to_dict()["code"] is None


def test_the_same_keys_with_the_same_kcvs_are_unchanged_and_added_keys_are_listed() -> None:
    previous = manifest(EARLIER, aes("a", "AAAAAA"))
    current = manifest(LATER, aes("a", "AAAAAA"), aes("b", "BBBBBB", key_id="02"))
    result = compare_vault_manifests(previous, current)
    assert result.status == UNCHANGED
    assert result.missing == () and result.changed == ()
    assert len(result.added) == 1 and "'b'" in result.added[0]


def test_a_key_gone_since_the_previous_vault_backup_is_a_finding() -> None:
    # Given the previous vault manifest with two keys and the new one with one
    previous = manifest(EARLIER, aes("a", "AAAAAA"), aes("b", "BBBBBB", key_id="02"))
    current = manifest(LATER, aes("a", "AAAAAA"))
    # When compared
    result = compare_vault_manifests(previous, current).to_dict()
    # Then the missing key is named, with the code that pages and what to do
    assert result["status"] == CHANGED and result["code"] == VAULT_KEYS_CHANGED
    assert len(result["missing"]) == 1 and "'b'" in result["missing"][0]
    assert result["changed"] == []
    assert result["summary"].startswith(VAULT_KEYS_CHANGED)
    assert "restore from the vault backup made before this one" in result["next_step"]


def test_a_key_with_another_kcv_or_size_is_a_finding() -> None:
    previous = manifest(EARLIER, aes("a", "AAAAAA"), aes("b", "BBBBBB", key_id="02"))
    current = manifest(LATER, aes("a", "ZZZZZZ"), aes("b", "BBBBBB", key_id="02", size=128))
    result = compare_vault_manifests(previous, current)
    assert result.status == CHANGED
    assert result.missing == ()
    assert sorted(label.split("'")[1] for label in result.changed) == ["a", "b"]


def test_an_unknown_kcv_on_either_side_proves_no_change() -> None:
    # A KCV the HSM could not give is not evidence of a replaced key
    previous = manifest(EARLIER, aes("a", "AAAAAA"))
    current = manifest(LATER, aes("a", None))
    assert compare_vault_manifests(previous, current).status == UNCHANGED


def test_one_of_two_keys_sharing_a_label_and_id_going_is_a_finding() -> None:
    # HSMs do not require unique labels: two objects with one identity, one left
    previous = manifest(EARLIER, aes("twin", "AAAAAA"), aes("twin", "BBBBBB"))
    current = manifest(LATER, aes("twin", "AAAAAA"))
    result = compare_vault_manifests(previous, current)
    assert result.status == CHANGED and len(result.missing) == 1
