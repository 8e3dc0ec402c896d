"""The key manifest: what a cluster held at one moment, as JSON in S3.

    manifests/{cluster_id}/{YYYYmmddTHHMMSSZ}.json   one per capture, never rewritten
    manifests/{cluster_id}/latest.json               a copy of the newest capture

A drill restores a backup and compares it with the manifest taken at or before the
backup's creation time (`newest_at_or_before`), so keys made after that backup are
not expected in the restore.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FORMAT_VERSION = 1
MANIFEST_PREFIX = "manifests/"
LATEST_NAME = "latest.json"
_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_STAMPED_KEY = re.compile(r"^manifests/(?P<cluster>[^/]+)/(?P<stamp>\d{8}T\d{6}Z)\.json$")

# Object classes and key types, named as PKCS#11 names them (CKO_/CKK_ without prefix).
SECRET_KEY, PUBLIC_KEY, PRIVATE_KEY = "SECRET_KEY", "PUBLIC_KEY", "PRIVATE_KEY"


@dataclass(frozen=True)
class KeyRecord:
    """One key object as the verification crypto user sees it."""

    label: str
    id_hex: str
    object_class: str
    key_type: str
    size_bits: int | None
    kcv: str | None
    usage: tuple[str, ...] = ()  # operations the key allows: encrypt, sign, wrap, ...

    @property
    def identity(self) -> tuple[str, str, str]:
        """How a key is found again after a restore: labels repeat across a pair's
        halves, and HSMs do not require them unique, so class and id count too."""
        return (self.object_class, self.label, self.id_hex)

    @property
    def attributes(self) -> dict[str, Any]:
        """What must be unchanged besides the KCV."""
        return {"key_type": self.key_type, "size_bits": self.size_bits, "usage": self.usage}

    def describe(self) -> str:
        size = f"{self.size_bits}-bit " if self.size_bits else ""
        kind = self.object_class.replace("_", " ").lower()
        return f"{self.label!r} ({size}{self.key_type} {kind}, id {self.id_hex or '-'})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "id": self.id_hex,
            "class": self.object_class,
            "key_type": self.key_type,
            "size_bits": self.size_bits,
            "kcv": self.kcv,
            "usage": list(self.usage),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyRecord:
        return cls(
            label=str(data["label"]),
            id_hex=str(data["id"]),
            object_class=str(data["class"]),
            key_type=str(data["key_type"]),
            size_bits=None if data.get("size_bits") is None else int(data["size_bits"]),
            kcv=data.get("kcv"),
            usage=tuple(data.get("usage", ())),
        )


@dataclass(frozen=True)
class HsmUser:
    username: str
    role: str

    def to_dict(self) -> dict[str, str]:
        return {"username": self.username, "role": self.role}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HsmUser:
        return cls(username=str(data["username"]), role=str(data.get("role", "")))


@dataclass(frozen=True)
class KeyManifest:
    cluster_id: str
    captured_at: datetime
    keys: tuple[KeyRecord, ...]
    users: tuple[HsmUser, ...]
    notes: tuple[str, ...] = field(default=())  # e.g. keys whose KCV could not be taken

    @property
    def object_key(self) -> str:
        return manifest_object_key(self.cluster_id, self.captured_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "cluster_id": self.cluster_id,
            "captured_at": self.captured_at.astimezone(UTC).isoformat(),
            "keys": [k.to_dict() for k in sorted(self.keys, key=lambda k: k.identity)],
            "users": [u.to_dict() for u in sorted(self.users, key=lambda u: u.username)],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyManifest:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"manifest format_version {version!r} is not {FORMAT_VERSION}")
        return cls(
            cluster_id=str(data["cluster_id"]),
            captured_at=datetime.fromisoformat(str(data["captured_at"])),
            keys=tuple(KeyRecord.from_dict(k) for k in data["keys"]),
            users=tuple(HsmUser.from_dict(u) for u in data["users"]),
            notes=tuple(str(n) for n in data.get("notes", ())),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> KeyManifest:
        return cls.from_dict(json.loads(text))


def cluster_prefix(cluster_id: str) -> str:
    return f"{MANIFEST_PREFIX}{cluster_id}/"


def manifest_object_key(cluster_id: str, captured_at: datetime) -> str:
    stamp = captured_at.astimezone(UTC).strftime(_STAMP_FORMAT)
    return f"{cluster_prefix(cluster_id)}{stamp}.json"


def latest_object_key(cluster_id: str) -> str:
    return f"{cluster_prefix(cluster_id)}{LATEST_NAME}"


def captured_at_of(object_key: str) -> datetime | None:
    """The capture time a timestamped object key names; None for any other key."""
    match = _STAMPED_KEY.match(object_key)
    if match is None:
        return None
    return datetime.strptime(match.group("stamp"), _STAMP_FORMAT).replace(tzinfo=UTC)


def newest_at_or_before(object_keys: Iterable[str], at: datetime) -> str | None:
    """The manifest a backup made at `at` should be compared with."""
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    dated = [(when, key) for key in object_keys if (when := captured_at_of(key)) is not None]
    eligible = [(when, key) for when, key in dated if when <= at]
    return max(eligible)[1] if eligible else None
