"""SoftHSM2 as the sandbox's HSM: where it is, whether it is installed, tokens on disk.

One SoftHSM2 configuration per store (a temporary directory): `softhsm2.conf` and a
token directory in which each emulated cluster has one token labelled with its
cluster id. SoftHSM2 reads SOFTHSM2_CONF when the library is initialized, so every
use sets it first (`softhsm_environment`) and the verifier re-initializes the
library on each session (lambdas/keycheck/hsm.py:load_library).

Token snapshots are plain copies of a token's directory: SoftHSM2 keeps a token's
objects in files encrypted under the token's own key, which the copy carries, so a
copy is the same token. A copy installed for another cluster gets that cluster's
label and a new serial (slot ids derive from serials) written into token.object.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SOFTHSM_LIBRARY = os.environ.get("HSMDR_SOFTHSM_LIBRARY", "/usr/lib/softhsm/libsofthsm2.so")
SOFTHSM_UTIL = shutil.which("softhsm2-util") or "/usr/bin/softhsm2-util"
INSTALL_COMMAND = "apt-get install -y softhsm2"

# token.object attributes (SoftHSM2's own vendor attributes), stored as
# type (u64) | kind (u64, 3 = byte string) | length (u64) | value, big-endian.
_TOKEN_LABEL_ATTRIBUTE = 0x80005349
_TOKEN_SERIAL_ATTRIBUTE = 0x8000534A
_BYTE_STRING = 3
_LABEL_BYTES = 32
_SERIAL_BYTES = 16


class SoftHsmMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            f"SoftHSM2 is not installed ({SOFTHSM_LIBRARY} or softhsm2-util is missing): "
            f"install it with `{INSTALL_COMMAND}`"
        )


def softhsm_available() -> bool:
    return Path(SOFTHSM_LIBRARY).is_file() and Path(SOFTHSM_UTIL).is_file()


def write_config(root: Path) -> Path:
    tokens = root / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    config = root / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n",
        encoding="utf-8",
    )
    return config


@contextmanager
def softhsm_environment(config: Path) -> Iterator[None]:
    saved = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(config)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = saved


def init_token(config: Path, label: str, *, so_pin: str, user_pin: str) -> None:
    if not softhsm_available():
        raise SoftHsmMissing
    subprocess.run(  # noqa: S603 - fixed tool, arguments are ours
        [
            SOFTHSM_UTIL,
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            so_pin,
            "--pin",
            user_pin,
        ],
        env={**os.environ.copy(), "SOFTHSM2_CONF": str(config)},
        check=True,
        capture_output=True,
        text=True,
    )


def token_directory(tokens: Path, label: str) -> Path | None:
    """The directory of the token labelled `label`, if any."""
    wanted = _label_field(label)
    for directory in sorted(tokens.iterdir()):
        token_object = directory / "token.object"
        if token_object.is_file() and wanted in token_object.read_bytes():
            return directory
    return None


def install_copy(snapshot: Path, tokens: Path, label: str) -> Path:
    """Install a snapshot of a token as the token labelled `label` (replacing any)."""
    existing = token_directory(tokens, label)
    if existing is not None:
        shutil.rmtree(existing)
    serial = hashlib.sha256(label.encode()).hexdigest()[:_SERIAL_BYTES]
    target = tokens / str(uuid.uuid5(uuid.NAMESPACE_OID, label))
    shutil.copytree(snapshot, target)
    token_object = target / "token.object"
    token_object.write_bytes(_relabel(token_object.read_bytes(), label, serial))
    return target


def _relabel(data: bytes, label: str, serial: str) -> bytes:
    data = _replace_value(data, _TOKEN_LABEL_ATTRIBUTE, _LABEL_BYTES, _padded(label))
    return _replace_value(data, _TOKEN_SERIAL_ATTRIBUTE, _SERIAL_BYTES, serial.encode())


def _replace_value(data: bytes, attribute: int, size: int, value: bytes) -> bytes:
    header = struct.pack(">QQQ", attribute, _BYTE_STRING, size)
    if data.count(header) != 1 or len(value) != size:
        raise ValueError(f"token.object has no single {attribute:#x} field of {size} bytes")
    start = data.index(header) + len(header)
    return data[:start] + value + data[start + size :]


def _label_field(label: str) -> bytes:
    return struct.pack(">QQQ", _TOKEN_LABEL_ATTRIBUTE, _BYTE_STRING, _LABEL_BYTES) + _padded(label)


def _padded(label: str) -> bytes:
    raw = label.encode()
    if len(raw) > _LABEL_BYTES:
        raise ValueError(f"token label {label!r} is longer than {_LABEL_BYTES} bytes")
    return raw.ljust(_LABEL_BYTES)
