"""The verifier's PKCS#11 code for real, against SoftHSM2 tokens."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lambdas.keycheck.comparison import KeyCheckReport
from lambdas.keycheck.hsm import HsmConnection, load_library, logged_in_session, read_keys
from lambdas.keycheck.users import FileUserLister, StaticUserLister
from lambdas.keycheck.verifier import capture_manifest, check_keys
from sandbox.softhsm_keystore import (
    CANARY_LABEL,
    CORRUPTED_KEY,
    MISSING_KEY,
    ROTATED_PIN,
    SEEDED_KEYS,
    USER_PIN,
    SoftHsmKeyStore,
)

SOURCE = "cluster-sourceclustera"
RESTORED = "cluster-restoredclust2"


def seeded(store: SoftHsmKeyStore) -> FileUserLister:
    store.cluster_seeded(SOURCE)
    return FileUserLister(store.users_path_template)


def restore(store: SoftHsmKeyStore, *damage: str) -> None:
    store.backup_taken(SOURCE, "backup-aaaaaaaaaaa")
    store.hsm_restored(RESTORED, "backup-aaaaaaaaaaa", frozenset(damage))


def check(
    store: SoftHsmKeyStore, users: FileUserLister, canary: str | None = CANARY_LABEL
) -> KeyCheckReport:
    manifest = capture_manifest(SOURCE, store.connection(SOURCE), users)
    return check_keys(
        manifest,
        cluster_id=RESTORED,
        connection=store.connection(RESTORED),
        users=users,
        canary_label=canary,
    )


def test_manifest_lists_every_seeded_key_with_a_check_value(key_store: SoftHsmKeyStore) -> None:
    users = seeded(key_store)
    manifest = capture_manifest(SOURCE, key_store.connection(SOURCE), users)
    pairs = sum(1 for k in SEEDED_KEYS if k.key_type in ("RSA", "EC"))
    assert len(manifest.keys) == len(SEEDED_KEYS) + pairs  # a pair is two objects
    assert all(k.kcv is not None and len(k.kcv) == 6 for k in manifest.keys)
    sizes = {(k.label, k.object_class): k.size_bits for k in manifest.keys}
    assert sizes[("rsa-signing", "PRIVATE_KEY")] == 2048
    assert sizes[("ec-signing", "PUBLIC_KEY")] == 256
    assert {u.username for u in manifest.users} == {"admin", "hsmdr-verifier", "app-payments"}
    # Both halves of a pair carry the public key's KCV
    halves = {k.kcv for k in manifest.keys if k.label == "ec-signing"}
    assert len(halves) == 1


def test_a_faithful_restore_passes_with_a_live_canary(key_store: SoftHsmKeyStore) -> None:
    users = seeded(key_store)
    restore(key_store)
    report = check(key_store, users)
    assert report.status == "SUCCEEDED", report.to_dict()
    assert report.findings == ()
    assert report.canary is not None and report.canary.ok
    assert report.canary.operation == "encrypt/decrypt"
    assert report.keys_found == report.keys_expected == 8


def test_key_missing_is_found_and_named(key_store: SoftHsmKeyStore) -> None:
    users = seeded(key_store)
    restore(key_store, "key-missing")
    report = check(key_store, users)
    assert [(f.code.value, f.label) for f in report.findings] == [("KEY_MISSING", MISSING_KEY)]


def test_key_corrupt_is_a_kcv_mismatch(key_store: SoftHsmKeyStore) -> None:
    users = seeded(key_store)
    restore(key_store, "key-corrupt")
    report = check(key_store, users)
    assert [(f.code.value, f.label) for f in report.findings] == [("KCV_MISMATCH", CORRUPTED_KEY)]


def test_bad_pin_is_a_login_failure_and_only_that(key_store: SoftHsmKeyStore) -> None:
    users = seeded(key_store)
    restore(key_store, "bad-pin")
    report = check(key_store, users)
    assert [f.code.value for f in report.findings] == ["LOGIN_FAILED"]
    assert "PinIncorrect" in report.findings[0].message
    # The token itself is fine: the rotated PIN opens it
    with logged_in_session(key_store.connection(RESTORED, pin=ROTATED_PIN)) as session:
        assert len(read_keys(session)[0]) == 8


def test_missing_library_is_hsm_unreachable(key_store: SoftHsmKeyStore) -> None:
    users = seeded(key_store)
    manifest = capture_manifest(SOURCE, key_store.connection(SOURCE), users)
    missing = HsmConnection("/opt/cloudhsm/lib/not-installed.so", USER_PIN, RESTORED)
    report = check_keys(
        manifest, cluster_id=RESTORED, connection=missing, users=users, canary_label=None
    )
    assert [f.code.value for f in report.findings] == ["HSM_UNREACHABLE"]
    assert "does not exist" in report.findings[0].message


def test_absent_token_is_hsm_unreachable(key_store: SoftHsmKeyStore) -> None:
    # Given a restored cluster whose HSM never got the backup (no token)
    users = seeded(key_store)
    report = check(key_store, users)
    assert [f.code.value for f in report.findings] == ["HSM_UNREACHABLE"]
    assert RESTORED in report.findings[0].message


def test_a_key_pair_canary_signs_and_verifies(key_store: SoftHsmKeyStore) -> None:
    users = seeded(key_store)
    restore(key_store)
    report = check(key_store, users, canary="rsa-signing")
    assert report.canary is not None and report.canary.ok
    assert report.canary.operation == "sign/verify"


def test_a_missing_canary_fails_the_check(key_store: SoftHsmKeyStore) -> None:
    users = seeded(key_store)
    restore(key_store)
    report = check(key_store, users, canary="no-such-canary")
    assert [f.code.value for f in report.findings] == ["CANARY_FAILED"]
    assert "no key labelled 'no-such-canary'" in report.findings[0].message


def test_missing_user_on_the_restored_cluster(key_store: SoftHsmKeyStore) -> None:
    users = seeded(key_store)
    restore(key_store)
    manifest = capture_manifest(SOURCE, key_store.connection(SOURCE), users)
    fewer = StaticUserLister(tuple(u for u in manifest.users if u.username != "app-payments"))
    report = check_keys(
        manifest,
        cluster_id=RESTORED,
        connection=key_store.connection(RESTORED),
        users=fewer,
        canary_label=None,
    )
    assert [(f.code.value, f.label) for f in report.findings] == [("USER_MISSING", "app-payments")]


def test_aes_kcv_from_the_hsm_matches_an_independent_computation(
    key_store: SoftHsmKeyStore,
) -> None:
    # Given a known AES key imported into the token
    from pkcs11 import Attribute, KeyType, ObjectClass

    seeded(key_store)
    value = bytes(range(32))
    library = load_library(key_store.library)
    with library.get_token(token_label=SOURCE).open(rw=True, user_pin=USER_PIN) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.KEY_TYPE: KeyType.AES,
                Attribute.VALUE: value,
                Attribute.LABEL: "imported",
                Attribute.ID: b"\x77",
                Attribute.TOKEN: True,
                Attribute.ENCRYPT: True,
            }
        )
    # When the manifest is captured
    manifest = capture_manifest(SOURCE, key_store.connection(SOURCE), StaticUserLister(()))
    # Then its KCV is AES-ECB(key, 0^128)[:3] as `cryptography` computes it
    encryptor = Cipher(algorithms.AES(value), modes.ECB()).encryptor()  # noqa: S305
    expected = (encryptor.update(bytes(16)) + encryptor.finalize())[:3].hex()
    [imported] = [k for k in manifest.keys if k.label == "imported"]
    assert imported.kcv == expected


@pytest.mark.parametrize("kind", ["RSA", "EC"])
def test_key_pair_kcv_is_sha1_of_the_exported_public_key(
    key_store: SoftHsmKeyStore, kind: str
) -> None:
    # Given a key pair generated in the HSM, its public key exported and re-parsed
    # by `cryptography` (an independent DER encoder)
    from pkcs11 import Attribute, ObjectClass

    users = seeded(key_store)
    label = "rsa-signing" if kind == "RSA" else "ec-signing"
    library = load_library(key_store.library)
    with library.get_token(token_label=SOURCE).open(user_pin=USER_PIN) as session:
        public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
        if kind == "RSA":
            numbers = rsa.RSAPublicNumbers(
                int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
                int.from_bytes(public[Attribute.MODULUS], "big"),
            )
            reference = numbers.public_key()
        else:
            point = public[Attribute.EC_POINT][2:]  # DER OCTET STRING header, 2 bytes
            reference = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    der = reference.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = hashlib.sha1(der).hexdigest()[:6]  # noqa: S324
    # When the manifest is captured, Then both halves carry that KCV
    manifest = capture_manifest(SOURCE, key_store.connection(SOURCE), users)
    assert {k.kcv for k in manifest.keys if k.label == label} == {expected}


def test_capture_refuses_a_wrong_pin(key_store: SoftHsmKeyStore) -> None:
    from lambdas.shared.errors import HsmLoginFailed

    users = seeded(key_store)
    with pytest.raises(HsmLoginFailed):
        capture_manifest(SOURCE, key_store.connection(SOURCE, pin="hsmdr-verifier:nope"), users)


def test_softhsm_config_is_what_the_library_reads(key_store: SoftHsmKeyStore) -> None:
    assert os.environ["SOFTHSM2_CONF"] == str(key_store.config)
    seeded(key_store)
    assert key_store.has_token(SOURCE) and not key_store.has_token(RESTORED)
    restore(key_store)
    assert key_store.has_token(RESTORED)
    # The restored token is the source's, relabelled: same KCVs, own label and serial
    library = load_library(key_store.library)
    serials = {t.serial for t in library.get_tokens() if t.label in (SOURCE, RESTORED)}
    assert len(serials) == 2
