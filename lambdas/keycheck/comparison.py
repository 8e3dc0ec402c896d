"""A restored cluster against the manifest of its time, as a pure function.

One finding per problem and one code per finding, the most basic that applies: a
key whose type changed is KEY_ATTRIBUTES_DIFFER, not also KCV_MISMATCH.
EXTRA_KEY is a warning, not a failure: a manifest taken before the backup does not
know keys made between the two.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lambdas.keycheck.manifest import HsmUser, KeyManifest, KeyRecord

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
ERROR = "error"
WARNING = "warning"


class KeyCheckCode(StrEnum):
    KEY_MISSING = "KEY_MISSING"
    KCV_MISMATCH = "KCV_MISMATCH"
    KEY_ATTRIBUTES_DIFFER = "KEY_ATTRIBUTES_DIFFER"
    EXTRA_KEY = "EXTRA_KEY"
    USER_MISSING = "USER_MISSING"
    LOGIN_FAILED = "LOGIN_FAILED"
    HSM_UNREACHABLE = "HSM_UNREACHABLE"
    CANARY_FAILED = "CANARY_FAILED"


@dataclass(frozen=True)
class KeyFinding:
    code: KeyCheckCode
    message: str
    next_step: str
    label: str | None = None  # the key or user it is about
    severity: str = ERROR

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "severity": self.severity,
            "label": self.label,
            "message": self.message,
            "next_step": self.next_step,
        }


@dataclass(frozen=True)
class CanaryResult:
    label: str
    operation: str  # "encrypt/decrypt" or "sign/verify"
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "operation": self.operation,
            "ok": self.ok,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class KeyCheckReport:
    cluster_id: str  # the cluster checked (a restored one in a drill)
    manifest_cluster_id: str
    manifest_key: str | None
    manifest_captured_at: datetime | None
    checked_at: datetime
    findings: tuple[KeyFinding, ...]
    keys_expected: int = 0
    keys_found: int = 0
    users_expected: int = 0
    canary: CanaryResult | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def status(self) -> str:
        return FAILED if any(f.severity == ERROR for f in self.findings) else SUCCEEDED

    def codes(self) -> list[str]:
        return [f.code.value for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        captured = self.manifest_captured_at
        return {
            "status": self.status,
            "cluster_id": self.cluster_id,
            "manifest_cluster_id": self.manifest_cluster_id,
            "manifest_key": self.manifest_key,
            "manifest_captured_at": captured.astimezone(UTC).isoformat() if captured else None,
            "checked_at": self.checked_at.astimezone(UTC).isoformat(),
            "keys_expected": self.keys_expected,
            "keys_found": self.keys_found,
            "users_expected": self.users_expected,
            "canary": self.canary.to_dict() if self.canary else None,
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
        }


def compare_keys(expected: Sequence[KeyRecord], found: Sequence[KeyRecord]) -> list[KeyFinding]:
    """Match keys by identity (class, label, id); within one identity, by KCV first."""
    wanted: dict[tuple[str, str, str], list[KeyRecord]] = defaultdict(list)
    present: dict[tuple[str, str, str], list[KeyRecord]] = defaultdict(list)
    for record in expected:
        wanted[record.identity].append(record)
    for record in found:
        present[record.identity].append(record)
    findings: list[KeyFinding] = []
    for identity in sorted(wanted):
        left, right = _drop_exact_matches(wanted[identity], present.pop(identity, []))
        for before, after in zip(left, right, strict=False):
            findings.append(_changed(before, after))
        findings.extend(_missing(record) for record in left[len(right) :])
        findings.extend(_extra(record) for record in right[len(left) :])
    for identity in sorted(present):
        findings.extend(_extra(record) for record in present[identity])
    return findings


def compare_users(expected: Iterable[HsmUser], found: Iterable[HsmUser]) -> list[KeyFinding]:
    names = {u.username for u in found}
    return [
        KeyFinding(
            code=KeyCheckCode.USER_MISSING,
            label=user.username,
            message=f"{user.role or 'user'} {user.username!r} is in the manifest but not on "
            "the restored cluster",
            next_step="Users are not guaranteed to resynchronise across HSMs: list users on "
            "each HSM (cloudhsm-cli user list) and re-create the user if it is gone.",
        )
        for user in sorted(expected, key=lambda u: u.username)
        if user.username not in names
    ]


def canary_findings(result: CanaryResult) -> list[KeyFinding]:
    if result.ok:
        return []
    return [
        KeyFinding(
            code=KeyCheckCode.CANARY_FAILED,
            label=result.label,
            message=f"the canary key {result.label!r} failed a live {result.operation}: "
            f"{result.detail}",
            next_step="The restored cluster cannot use its keys: check the HSMs' state and "
            "the key's attributes, and do not fail over to this cluster.",
        )
    ]


def unreachable(detail: str) -> KeyFinding:
    return KeyFinding(
        code=KeyCheckCode.HSM_UNREACHABLE,
        message=f"no PKCS#11 session could be opened: {detail}",
        next_step="Check that the cluster has an ACTIVE HSM, that the verifier's security "
        "group reaches it on TCP 2223-2225, and the client configuration (HSM IPs, "
        "trust anchor).",
    )


def login_failed(detail: str) -> KeyFinding:
    return KeyFinding(
        code=KeyCheckCode.LOGIN_FAILED,
        message=f"the verification crypto user could not log in: {detail}",
        next_step="Check the crypto user's credentials in the secret and that the user "
        "exists on the restored cluster (users come back with the backup).",
    )


def check_report(
    manifest: KeyManifest,
    *,
    cluster_id: str,
    manifest_key: str | None,
    found_keys: Sequence[KeyRecord],
    found_users: Sequence[HsmUser],
    canary: CanaryResult | None,
    checked_at: datetime,
    notes: Sequence[str] = (),
) -> KeyCheckReport:
    findings = [
        *compare_keys(manifest.keys, found_keys),
        *compare_users(manifest.users, found_users),
        *(canary_findings(canary) if canary else []),
    ]
    return KeyCheckReport(
        cluster_id=cluster_id,
        manifest_cluster_id=manifest.cluster_id,
        manifest_key=manifest_key,
        manifest_captured_at=manifest.captured_at,
        checked_at=checked_at,
        findings=tuple(findings),
        keys_expected=len(manifest.keys),
        keys_found=len(found_keys),
        users_expected=len(manifest.users),
        canary=canary,
        notes=tuple(notes),
    )


def failed_report(
    manifest: KeyManifest,
    *,
    cluster_id: str,
    manifest_key: str | None,
    finding: KeyFinding,
    checked_at: datetime,
) -> KeyCheckReport:
    """The check could not look at the keys at all (unreachable, login refused)."""
    return KeyCheckReport(
        cluster_id=cluster_id,
        manifest_cluster_id=manifest.cluster_id,
        manifest_key=manifest_key,
        manifest_captured_at=manifest.captured_at,
        checked_at=checked_at,
        findings=(finding,),
        keys_expected=len(manifest.keys),
        users_expected=len(manifest.users),
    )


def _drop_exact_matches(
    expected: list[KeyRecord], found: list[KeyRecord]
) -> tuple[list[KeyRecord], list[KeyRecord]]:
    remaining = list(found)
    unmatched: list[KeyRecord] = []
    for record in expected:
        twin = next((r for r in remaining if r == record), None)
        if twin is None:
            unmatched.append(record)
        else:
            remaining.remove(twin)
    return unmatched, remaining


def _changed(before: KeyRecord, after: KeyRecord) -> KeyFinding:
    if before.attributes != after.attributes:
        changes = ", ".join(
            f"{name} {before.attributes[name]!r} -> {after.attributes[name]!r}"
            for name in before.attributes
            if before.attributes[name] != after.attributes[name]
        )
        return KeyFinding(
            code=KeyCheckCode.KEY_ATTRIBUTES_DIFFER,
            label=before.label,
            message=f"key {before.describe()} came back with other attributes: {changes}",
            next_step="A key with this label and id exists but is not the same key: compare "
            "with cloudhsm-cli key list --verbose and restore from an older backup if needed.",
        )
    return KeyFinding(
        code=KeyCheckCode.KCV_MISMATCH,
        label=before.label,
        message=f"key {before.describe()} has check value {after.kcv or 'none'}, the manifest "
        f"says {before.kcv or 'none'}: its key material differs",
        next_step="Do not use this restore for this key: restore an earlier backup and compare "
        "again, and find out how the key was replaced.",
    )


def _missing(record: KeyRecord) -> KeyFinding:
    return KeyFinding(
        code=KeyCheckCode.KEY_MISSING,
        label=record.label,
        message=f"key {record.describe()} is in the manifest but not on the restored cluster",
        next_step="Check whether the key was deleted before the backup (CloudTrail, audit "
        "logs); if not, this backup cannot bring the key back: try an earlier one.",
    )


def _extra(record: KeyRecord) -> KeyFinding:
    return KeyFinding(
        code=KeyCheckCode.EXTRA_KEY,
        label=record.label,
        severity=WARNING,
        message=f"key {record.describe()} is on the restored cluster but not in the manifest",
        next_step="Expected for keys made after the manifest was captured; otherwise capture "
        "a fresh manifest (hsmdr keys manifest).",
    )
