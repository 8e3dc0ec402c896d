"""KCV definitions, checked against answers computed independently here with the
`cryptography` package and hashlib."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lambdas.keycheck.check_values import (
    ec_subject_public_key_info,
    kcv_from_encrypted_zero_block,
    public_key_kcv,
    rsa_subject_public_key_info,
    zero_block,
)

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _aes_ecb(key: bytes, block: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - KCV definition
    return encryptor.update(block) + encryptor.finalize()


@pytest.mark.parametrize("key_hex", ["00" * 16, "000102030405060708090a0b0c0d0e0f", "ff" * 32])
def test_aes_kcv_is_the_first_three_bytes_of_the_encrypted_zero_block(key_hex: str) -> None:
    # Given an AES key and its zero block encrypted by an independent implementation
    key = bytes.fromhex(key_hex)
    expected = _aes_ecb(key, bytes(16))[:3].hex()
    # When the KCV is cut from what the HSM would return
    kcv = kcv_from_encrypted_zero_block(_aes_ecb(key, zero_block("AES")))
    # Then it is those 3 bytes, as 6 hex digits
    assert kcv == expected and len(kcv) == 6


def test_known_answer_for_the_all_zero_aes_128_key() -> None:
    # AES-128, key 0^128, plaintext 0^128 -> 66e94bd4ef8a2c3b884cfa59ca342b2e (FIPS-197 family)
    assert kcv_from_encrypted_zero_block(_aes_ecb(bytes(16), bytes(16))) == "66e94b"


def test_zero_blocks_follow_the_cipher_block_size() -> None:
    assert zero_block("AES") == bytes(16)
    assert zero_block("DES3") == bytes(8)
    with pytest.raises(ValueError, match="RSA"):
        zero_block("RSA")


def test_rsa_public_key_info_is_the_standard_der_encoding() -> None:
    # Given an RSA key pair made by another library
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    modulus = numbers.n.to_bytes(256, "big")
    exponent = numbers.e.to_bytes(3, "big")
    # When we encode its public key from the PKCS#11 attributes
    encoded = rsa_subject_public_key_info(modulus, exponent)
    # Then it is byte for byte the DER SubjectPublicKeyInfo, and the KCV its SHA-1 prefix
    reference = private.public_key().public_bytes(*SPKI)
    assert encoded == reference
    assert public_key_kcv(encoded) == hashlib.sha1(reference).hexdigest()[:6]  # noqa: S324


def test_leading_zero_bytes_in_pkcs11_integers_do_not_change_the_encoding() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    padded = b"\x00\x00" + numbers.n.to_bytes(256, "big")
    assert rsa_subject_public_key_info(padded, b"\x01\x00\x01") == (
        private.public_key().public_bytes(*SPKI)
    )


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()], ids=["P-256", "P-384"])
def test_ec_public_key_info_from_pkcs11_params_and_wrapped_point(curve: ec.EllipticCurve) -> None:
    # Given an EC key made by another library, in PKCS#11 shape: CKA_EC_PARAMS is the
    # DER named-curve OID, CKA_EC_POINT a DER OCTET STRING around the uncompressed point
    private = ec.generate_private_key(curve)
    reference = private.public_key().public_bytes(*SPKI)
    params = reference[2 + 2 : 2 + 2 + reference[3]][9:]  # the AlgorithmIdentifier's curve OID
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    wrapped = bytes([0x04, len(point)]) + point
    # When encoded, wrapped or bare
    # Then both give the standard DER SubjectPublicKeyInfo
    assert ec_subject_public_key_info(params, wrapped) == reference
    assert ec_subject_public_key_info(params, point) == reference
    assert public_key_kcv(reference) == hashlib.sha1(reference).hexdigest()[:6]  # noqa: S324


def test_a_bare_point_whose_first_coordinate_byte_looks_like_a_der_length_is_kept() -> None:
    # Given a bare P-256 point whose X starts with 0x3f: read as DER, 04 3f ... would be
    # a complete OCTET STRING of 63 bytes
    params = bytes.fromhex("06082a8648ce3d030107")
    point = b"\x04\x3f" + bytes(range(1, 64))
    # When encoded, Then the whole point is kept (the curve says a point has 65 bytes)
    encoded = ec_subject_public_key_info(params, point)
    assert encoded.endswith(point)
