"""A restored cluster against its manifest: which finding, for which key, once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from lambdas.keycheck.comparison import (
    CanaryResult,
    KeyFinding,
    check_report,
    compare_keys,
    compare_users,
)
from lambdas.keycheck.manifest import HsmUser, KeyManifest, KeyRecord

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
AES = KeyRecord("payments", "01", "SECRET_KEY", "AES", 256, "0561de", ("encrypt", "decrypt"))
RSA_PUB = KeyRecord("signing", "10", "PUBLIC_KEY", "RSA", 2048, "a256e8", ("verify",))
RSA_PRIV = KeyRecord("signing", "10", "PRIVATE_KEY", "RSA", 2048, "a256e8", ("sign",))
USERS = (HsmUser("admin", "admin"), HsmUser("verifier", "crypto-user"))
MANIFEST = KeyManifest("cluster-sourceclustera", NOW, (AES, RSA_PUB, RSA_PRIV), USERS)


def codes(findings: Sequence[KeyFinding]) -> list[tuple[str, str | None]]:
    return [(f.code.value, f.label) for f in findings]


def test_identical_keys_give_no_finding() -> None:
    assert compare_keys(MANIFEST.keys, [RSA_PRIV, AES, RSA_PUB]) == []


def test_a_missing_key_is_named_by_its_label() -> None:
    findings = compare_keys(MANIFEST.keys, [RSA_PUB, RSA_PRIV])
    assert codes(findings) == [("KEY_MISSING", "payments")]
    assert "'payments'" in findings[0].message and "256-bit AES" in findings[0].message


def test_other_key_material_is_a_kcv_mismatch_and_nothing_else() -> None:
    findings = compare_keys(MANIFEST.keys, [replace(AES, kcv="ffffff"), RSA_PUB, RSA_PRIV])
    assert codes(findings) == [("KCV_MISMATCH", "payments")]
    assert "ffffff" in findings[0].message and "0561de" in findings[0].message


def test_changed_attributes_are_reported_once_as_attributes_not_kcv() -> None:
    # Given the same label and id back as a 128-bit key with other material
    changed = replace(AES, size_bits=128, kcv="000000")
    findings = compare_keys(MANIFEST.keys, [changed, RSA_PUB, RSA_PRIV])
    # Then one finding, about the attributes, naming what changed
    assert codes(findings) == [("KEY_ATTRIBUTES_DIFFER", "payments")]
    assert "size_bits 256 -> 128" in findings[0].message


def test_a_key_not_in_the_manifest_is_an_extra_key_warning() -> None:
    newer = KeyRecord("made-after", "99", "SECRET_KEY", "AES", 128, "123456")
    report = check_report(
        MANIFEST,
        cluster_id="cluster-restoredcluster",
        manifest_key=None,
        found_keys=[*MANIFEST.keys, newer],
        found_users=USERS,
        canary=None,
        checked_at=NOW,
    )
    assert codes(list(report.findings)) == [("EXTRA_KEY", "made-after")]
    assert report.findings[0].severity == "warning"
    assert report.status == "SUCCEEDED"


def test_keys_sharing_a_label_are_told_apart_by_class_and_id() -> None:
    # Given the private half of a pair gone, its public half (same label, same id) back
    findings = compare_keys(MANIFEST.keys, [AES, RSA_PUB])
    assert codes(findings) == [("KEY_MISSING", "signing")]
    assert "private key" in findings[0].message


def test_duplicate_identities_match_by_check_value_first() -> None:
    # Given two keys with one label and id, one of which came back altered
    twin = replace(AES, kcv="abcdef")
    findings = compare_keys([AES, twin], [replace(twin), replace(AES, kcv="999999")])
    assert codes(findings) == [("KCV_MISMATCH", "payments")]
    assert "0561de" in findings[0].message


def test_missing_user_is_named() -> None:
    findings = compare_users(USERS, [HsmUser("admin", "admin")])
    assert codes(findings) == [("USER_MISSING", "verifier")]


def test_failed_canary_fails_the_report_with_its_detail() -> None:
    canary = CanaryResult("hsmdr-canary", "sign/verify", ok=False, detail="SignatureInvalid")
    report = check_report(
        MANIFEST,
        cluster_id="cluster-restoredcluster",
        manifest_key="manifests/cluster-sourceclustera/20250301T120000Z.json",
        found_keys=MANIFEST.keys,
        found_users=USERS,
        canary=canary,
        checked_at=NOW,
    )
    assert report.status == "FAILED"
    assert codes(list(report.findings)) == [("CANARY_FAILED", "hsmdr-canary")]
    document = report.to_dict()
    assert document["canary"]["detail"] == "SignatureInvalid"
    assert document["keys_expected"] == 3 and document["users_expected"] == 2
