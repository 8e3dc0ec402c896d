"""Key check values (KCVs): the fingerprints that prove a restored key is the key
that was backed up. Used identically when a manifest is captured and when a
restored cluster is checked, so both sides always hash the same bytes.

Definitions (facts page, "Checking keys"):

- Secret keys (AES, DES3): the first 3 bytes of ECB-encrypting one block of zero
  bytes with the key (16 bytes for AES, 8 for DES3). The HSM does the encryption;
  this module only cuts the result.
- Key pairs (RSA, EC), both the public and the private half: the first 3 bytes of
  SHA-1 over the public key encoded as DER SubjectPublicKeyInfo (RFC 5280):
  RSA as rsaEncryption with NULL parameters around the PKCS#1 RSAPublicKey
  (RFC 8017), EC as id-ecPublicKey with the key's CKA_EC_PARAMS as stored (a
  named-curve OID) and the uncompressed point (RFC 5480). That is the encoding
  `openssl pkey -pubin -outform DER` prints, so anyone can recompute a KCV from an
  exported public key without the HSM.

A KCV is written as 6 lowercase hex digits.
"""

from __future__ import annotations

import hashlib

KCV_BYTES = 3
ZERO_BLOCK_BYTES = {"AES": 16, "DES3": 8}

_RSA_ENCRYPTION_OID = bytes.fromhex("06092a864886f70d010101")  # 1.2.840.113549.1.1.1
_EC_PUBLIC_KEY_OID = bytes.fromhex("06072a8648ce3d0201")  # 1.2.840.10045.2.1
_DER_NULL = b"\x05\x00"
_INTEGER, _BIT_STRING, _OCTET_STRING, _SEQUENCE = 0x02, 0x03, 0x04, 0x30
# Named curves by the DER of their OID (CKA_EC_PARAMS), with their size in bits.
CURVE_BITS = {
    "06082a8648ce3d030107": 256,  # P-256 (secp256r1)
    "06052b81040022": 384,  # P-384
    "06052b81040023": 521,  # P-521
    "06052b8104000a": 256,  # secp256k1
}


def zero_block(key_type: str) -> bytes:
    """The plaintext whose encryption gives a secret key's KCV."""
    try:
        return bytes(ZERO_BLOCK_BYTES[key_type])
    except KeyError:
        raise ValueError(f"no block-cipher KCV is defined for {key_type} keys") from None


def kcv_from_encrypted_zero_block(ciphertext: bytes) -> str:
    if len(ciphertext) < KCV_BYTES:
        raise ValueError("the encrypted zero block is shorter than a KCV")
    return ciphertext[:KCV_BYTES].hex()


def public_key_kcv(subject_public_key_info: bytes) -> str:
    """KCV of a key pair, from its public key's DER SubjectPublicKeyInfo."""
    return hashlib.sha1(subject_public_key_info, usedforsecurity=False).digest()[:KCV_BYTES].hex()


def rsa_subject_public_key_info(modulus: bytes, public_exponent: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of an RSA key from CKA_MODULUS and CKA_PUBLIC_EXPONENT
    (big-endian unsigned integers, as PKCS#11 stores them)."""
    rsa_public_key = _der(_SEQUENCE, _der_unsigned(modulus) + _der_unsigned(public_exponent))
    algorithm = _der(_SEQUENCE, _RSA_ENCRYPTION_OID + _DER_NULL)
    return _der(_SEQUENCE, algorithm + _der(_BIT_STRING, b"\x00" + rsa_public_key))


def ec_subject_public_key_info(ec_params: bytes, ec_point: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of an EC key from CKA_EC_PARAMS (DER, taken as is) and
    CKA_EC_POINT (PKCS#11 stores the point as a DER OCTET STRING; a bare point, as
    some libraries return it, is taken as is)."""
    bits = CURVE_BITS.get(ec_params.hex())
    bare_length = 1 + 2 * ((bits + 7) // 8) if bits else None  # 04 || X || Y
    point = ec_point if len(ec_point) == bare_length else _unwrap_octet_string(ec_point)
    algorithm = _der(_SEQUENCE, _EC_PUBLIC_KEY_OID + ec_params)
    return _der(_SEQUENCE, algorithm + _der(_BIT_STRING, b"\x00" + point))


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _der_unsigned(value: bytes) -> bytes:
    stripped = value.lstrip(b"\x00") or b"\x00"
    if stripped[0] & 0x80:  # keep a positive INTEGER positive
        stripped = b"\x00" + stripped
    return _der(_INTEGER, stripped)


def _unwrap_octet_string(data: bytes) -> bytes:
    if len(data) < 2 or data[0] != _OCTET_STRING:
        return data
    first = data[1]
    if first < 0x80:
        header, length = 2, first
    else:
        count = first & 0x7F
        header, length = 2 + count, int.from_bytes(data[2 : 2 + count], "big")
    if header + length != len(data):
        return data  # not an OCTET STRING around the whole value: a bare point
    return data[header:]
