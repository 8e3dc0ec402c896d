"""PKCS#11 I/O with python-pkcs11: sessions, the key inventory, the canary test.

The same code talks to AWS's libcloudhsm_pkcs11.so in Lambda and to SoftHSM2 in the
sandbox and the tests; only the library path, token and PIN differ (HsmConnection).
CloudHSM PINs are `<crypto user name>:<password>`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

from lambdas.keycheck.check_values import (
    CURVE_BITS,
    ZERO_BLOCK_BYTES,
    ec_subject_public_key_info,
    kcv_from_encrypted_zero_block,
    public_key_kcv,
    rsa_subject_public_key_info,
    zero_block,
)
from lambdas.keycheck.comparison import CanaryResult
from lambdas.keycheck.manifest import PRIVATE_KEY, PUBLIC_KEY, SECRET_KEY, KeyRecord
from lambdas.shared.errors import HsmLoginFailed, HsmUnreachable

CLOUDHSM_LIBRARY = "/opt/cloudhsm/lib/libcloudhsm_pkcs11.so"

_KEY_CLASSES = {
    ObjectClass.SECRET_KEY: SECRET_KEY,
    ObjectClass.PUBLIC_KEY: PUBLIC_KEY,
    ObjectClass.PRIVATE_KEY: PRIVATE_KEY,
}
_USAGE = (
    ("encrypt", Attribute.ENCRYPT),
    ("decrypt", Attribute.DECRYPT),
    ("sign", Attribute.SIGN),
    ("verify", Attribute.VERIFY),
    ("wrap", Attribute.WRAP),
    ("unwrap", Attribute.UNWRAP),
    ("derive", Attribute.DERIVE),
)
_ECB = {"AES": Mechanism.AES_ECB, "DES3": Mechanism.DES3_ECB}
_CBC_PAD = {"AES": Mechanism.AES_CBC_PAD, "DES3": Mechanism.DES3_CBC_PAD}
_SIGNATURE = {"RSA": Mechanism.SHA256_RSA_PKCS, "EC": Mechanism.ECDSA_SHA256}
_FIXED_SIZES = {"DES3": 192, "DES2": 128}
_LOGIN_REFUSED = (
    pkcs11.PinIncorrect,
    pkcs11.PinInvalid,
    pkcs11.PinLenRange,
    pkcs11.PinLocked,
    pkcs11.PinExpired,
    pkcs11.UserPinNotInitialized,
)


@dataclass(frozen=True)
class HsmConnection:
    library_path: str
    pin: str
    token_label: str | None = None  # None: the first slot with a token (CloudHSM has one)

    def describe(self) -> str:
        token = f"token {self.token_label!r}" if self.token_label else "the first token"
        return f"{token} of {self.library_path}"


def load_library(path: str) -> Any:
    """The library, initialized afresh: C_Finalize + C_Initialize make it re-read its
    configuration (configure-pkcs11 may just have rewritten it) and its token list."""
    if not Path(path).exists():
        raise HsmUnreachable(f"PKCS#11 library {path} does not exist")
    try:
        library = pkcs11.lib(path)
        library.reinitialize()
    except (pkcs11.PKCS11Error, RuntimeError, OSError) as error:
        raise HsmUnreachable(f"PKCS#11 library {path} did not load: {error}") from error
    return library


def find_token(library: Any, connection: HsmConnection) -> Any:
    try:
        if connection.token_label is not None:
            return library.get_token(token_label=connection.token_label)
        for slot in library.get_slots(token_present=True):
            return slot.get_token()
    except pkcs11.NoSuchToken:
        raise HsmUnreachable(f"no token labelled {connection.token_label!r}") from None
    except pkcs11.PKCS11Error as error:
        raise HsmUnreachable(f"listing slots failed: {_name(error)}") from error
    raise HsmUnreachable(f"no slot of {connection.library_path} holds a token")


@contextmanager
def logged_in_session(connection: HsmConnection) -> Iterator[Any]:
    """A read-only session logged in as the crypto user; closed (logged out) after."""
    token = find_token(load_library(connection.library_path), connection)
    try:
        session = token.open(user_pin=connection.pin)
    except _LOGIN_REFUSED as error:
        raise HsmLoginFailed(f"{connection.describe()} refused the PIN: {_name(error)}") from error
    except pkcs11.PKCS11Error as error:
        raise HsmUnreachable(f"opening a session failed: {_name(error)}") from error
    try:
        yield session
    finally:
        session.close()


def read_keys(session: Any) -> tuple[list[KeyRecord], list[str]]:
    """Every key object the session sees, with its KCV; and notes on keys whose KCV
    could not be taken (those are still compared by their attributes)."""
    objects = [o for o in session.get_objects() if o.object_class in _KEY_CLASSES]
    public_by_id = {
        _id_hex(o): o for o in objects if o.object_class == ObjectClass.PUBLIC_KEY and _id_hex(o)
    }
    records: list[KeyRecord] = []
    notes: list[str] = []
    for item in objects:
        record = _record(item, public_by_id)
        if record.kcv is None:
            notes.append(f"no check value for {record.describe()}")
        records.append(record)
    return records, notes


def run_canary(session: Any, label: str) -> CanaryResult:
    """A live operation with the canary key: encrypt/decrypt for a secret key,
    sign/verify for a key pair."""
    found = [o for o in session.get_objects({Attribute.LABEL: label})]
    secret = next((o for o in found if o.object_class == ObjectClass.SECRET_KEY), None)
    private = next((o for o in found if o.object_class == ObjectClass.PRIVATE_KEY), None)
    public = next((o for o in found if o.object_class == ObjectClass.PUBLIC_KEY), None)
    if secret is not None:
        return _encrypt_decrypt(session, secret, label)
    if private is not None and public is not None:
        return _sign_verify(session, private, public, label)
    what = "only half of a key pair" if (private or public) else "no key"
    return CanaryResult(label, "lookup", ok=False, detail=f"{what} labelled {label!r}")


def _encrypt_decrypt(session: Any, key: Any, label: str) -> CanaryResult:
    operation = "encrypt/decrypt"
    key_type = _key_type(key)
    mechanism = _CBC_PAD.get(key_type)
    if mechanism is None:
        return CanaryResult(label, operation, ok=False, detail=f"{key_type} keys cannot encrypt")
    plaintext = session.generate_random(256)
    iv = session.generate_random(ZERO_BLOCK_BYTES[key_type] * 8)
    try:
        ciphertext = key.encrypt(plaintext, mechanism=mechanism, mechanism_param=iv)
        decrypted = key.decrypt(ciphertext, mechanism=mechanism, mechanism_param=iv)
    except pkcs11.PKCS11Error as error:
        return CanaryResult(label, operation, ok=False, detail=_name(error))
    if decrypted != plaintext or ciphertext == plaintext:
        return CanaryResult(label, operation, ok=False, detail="decryption did not round-trip")
    return CanaryResult(label, operation, ok=True)


def _sign_verify(session: Any, private: Any, public: Any, label: str) -> CanaryResult:
    operation = "sign/verify"
    mechanism = _SIGNATURE.get(_key_type(private))
    if mechanism is None:
        return CanaryResult(label, operation, ok=False, detail="not an RSA or EC key pair")
    message = session.generate_random(256)
    try:
        signature = private.sign(message, mechanism=mechanism)
        verified = public.verify(message, signature, mechanism=mechanism)
        tampered = public.verify(bytes(b ^ 0xFF for b in message), signature, mechanism=mechanism)
    except pkcs11.PKCS11Error as error:
        return CanaryResult(label, operation, ok=False, detail=_name(error))
    if not verified or tampered:
        return CanaryResult(label, operation, ok=False, detail="the signature did not verify")
    return CanaryResult(label, operation, ok=True)


def _record(item: Any, public_by_id: dict[str, Any]) -> KeyRecord:
    key_type = _key_type(item)
    return KeyRecord(
        label=str(_attribute(item, Attribute.LABEL) or ""),
        id_hex=_id_hex(item),
        object_class=_KEY_CLASSES[item.object_class],
        key_type=key_type,
        size_bits=_size_bits(item, key_type),
        kcv=_kcv(item, key_type, public_by_id),
        usage=tuple(name for name, attribute in _USAGE if _attribute(item, attribute) is True),
    )


def _kcv(item: Any, key_type: str, public_by_id: dict[str, Any]) -> str | None:
    if item.object_class == ObjectClass.SECRET_KEY:
        return _secret_kcv(item, key_type)
    source = item
    if item.object_class == ObjectClass.PRIVATE_KEY and not _has_public_part(item, key_type):
        # PKCS#11 EC private keys carry no point: the pair's public half (same id) has it.
        source = public_by_id.get(_id_hex(item))
        if source is None:
            return None
    spki = _subject_public_key_info(source, key_type)
    return None if spki is None else public_key_kcv(spki)


def _secret_kcv(key: Any, key_type: str) -> str | None:
    mechanism = _ECB.get(key_type)
    if mechanism is not None and _attribute(key, Attribute.ENCRYPT) is True:
        try:
            return kcv_from_encrypted_zero_block(
                key.encrypt(zero_block(key_type), mechanism=mechanism)
            )
        except pkcs11.PKCS11Error:
            pass  # e.g. ECB refused by policy: the library's own check value, if any
    value = _attribute(key, Attribute.CHECK_VALUE)
    return value.hex() if isinstance(value, bytes) and value else None


def _has_public_part(key: Any, key_type: str) -> bool:
    wanted = Attribute.PUBLIC_EXPONENT if key_type == "RSA" else Attribute.EC_POINT
    return _attribute(key, wanted) is not None


def _subject_public_key_info(key: Any, key_type: str) -> bytes | None:
    if key_type == "RSA":
        modulus = _attribute(key, Attribute.MODULUS)
        exponent = _attribute(key, Attribute.PUBLIC_EXPONENT)
        if isinstance(modulus, bytes) and isinstance(exponent, bytes):
            return rsa_subject_public_key_info(modulus, exponent)
    if key_type == "EC":
        params = _attribute(key, Attribute.EC_PARAMS)
        point = _attribute(key, Attribute.EC_POINT)
        if isinstance(params, bytes) and isinstance(point, bytes):
            return ec_subject_public_key_info(params, point)
    return None


def _size_bits(key: Any, key_type: str) -> int | None:
    if key_type in _FIXED_SIZES:
        return _FIXED_SIZES[key_type]
    if key_type == "RSA":
        modulus = _attribute(key, Attribute.MODULUS)
        if isinstance(modulus, bytes):
            return int.from_bytes(modulus, "big").bit_length()
        bits = _attribute(key, Attribute.MODULUS_BITS)
        return int(bits) if bits is not None else None
    if key_type == "EC":
        params = _attribute(key, Attribute.EC_PARAMS)
        return CURVE_BITS.get(params.hex()) if isinstance(params, bytes) else None
    length = _attribute(key, Attribute.VALUE_LEN)
    return int(length) * 8 if length is not None else None


def _key_type(key: Any) -> str:
    value = _attribute(key, Attribute.KEY_TYPE)
    if isinstance(value, KeyType):
        return value.name
    return f"0x{int(value):08x}" if value is not None else "UNKNOWN"


def _id_hex(key: Any) -> str:
    value = _attribute(key, Attribute.ID)
    return value.hex() if isinstance(value, bytes) else ""


def _attribute(key: Any, attribute: Attribute) -> Any:
    """An attribute's value, or None where the object has none or hides it."""
    try:
        return key[attribute]
    except pkcs11.PKCS11Error:  # AttributeTypeInvalid, AttributeSensitive, ...
        return None


def _name(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
