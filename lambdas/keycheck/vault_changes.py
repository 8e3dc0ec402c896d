"""Tamper evidence in the recovery-account vault, pure: each new vault manifest of a
production cluster against the vault's previous one of that cluster.

The vault trusts nothing read from production, so it does not compare with
production's manifests: it compares with what it captured itself from its own earlier
vault cluster. A key that was in the previous vault backup and is not in the new one,
or whose check value (KCV) or attributes changed, is `VAULT_KEYS_CHANGED`: production
deleted or replaced a key between the two backups it shared, by plan (a retired key)
or not (an attacker). The older vault backups are kept by retention: restore from the
one before the change. Keys added since are listed, not a finding.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from lambdas.keycheck.manifest import KeyManifest, KeyRecord

VAULT_KEYS_CHANGED = "VAULT_KEYS_CHANGED"
FIRST, UNCHANGED, CHANGED = "FIRST", "UNCHANGED", "CHANGED"
NEXT_STEP = (
    "find out whether production retired these keys on purpose; if not, treat production "
    "as compromised and restore from the vault backup made before this one (kept by "
    "recovery_account.retention): docs/runbooks/vault.md#keys"
)


@dataclass(frozen=True)
class VaultKeyComparison:
    status: str  # FIRST (nothing to compare with), UNCHANGED or CHANGED
    previous_captured_at: str | None
    missing: tuple[str, ...]  # keys of the previous vault manifest not in the new one
    changed: tuple[str, ...]  # keys whose KCV or attributes differ
    added: tuple[str, ...]  # keys new since the previous vault manifest (not a finding)

    @property
    def summary(self) -> str:
        if self.status == FIRST:
            return "the vault's first manifest of this cluster: nothing to compare with"
        if self.status == UNCHANGED:
            return (
                f"every key of the previous vault manifest ({self.previous_captured_at}) is "
                f"still there with the same KCV ({len(self.added)} added)"
            )
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} gone: {', '.join(self.missing)}")
        if self.changed:
            parts.append(f"{len(self.changed)} changed: {', '.join(self.changed)}")
        return (
            f"{VAULT_KEYS_CHANGED}: since the previous vault manifest "
            f"({self.previous_captured_at}), " + "; ".join(parts)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": VAULT_KEYS_CHANGED if self.status == CHANGED else None,
            "previous_captured_at": self.previous_captured_at,
            "missing": list(self.missing),
            "changed": list(self.changed),
            "added": list(self.added),
            "summary": self.summary,
            "next_step": NEXT_STEP if self.status == CHANGED else None,
        }


def _by_identity(manifest: KeyManifest) -> dict[tuple[str, str, str], list[KeyRecord]]:
    found: dict[tuple[str, str, str], list[KeyRecord]] = defaultdict(list)
    for key in manifest.keys:
        found[key.identity].append(key)
    return found


def _attributes(keys: list[KeyRecord]) -> list[str]:
    return sorted(repr((k.key_type, k.size_bits, tuple(sorted(k.usage)))) for k in keys)


def _kcvs_differ(before: list[KeyRecord], after: list[KeyRecord]) -> bool:
    """A KCV the HSM could not give (None) on either side proves nothing either way."""
    known_before = sorted(k.kcv for k in before if k.kcv is not None)
    known_after = sorted(k.kcv for k in after if k.kcv is not None)
    return bool(known_before and known_after and known_before != known_after)


def compare_vault_manifests(
    previous: KeyManifest | None, current: KeyManifest
) -> VaultKeyComparison:
    """`previous`: the vault's newest manifest of the same production cluster before
    `current` (None: the vault's first)."""
    if previous is None:
        return VaultKeyComparison(FIRST, None, (), (), ())
    before, after = _by_identity(previous), _by_identity(current)
    missing, changed = [], []
    for identity, keys in sorted(before.items()):
        now = after.get(identity, [])
        if len(now) < len(keys):
            missing.append(keys[0].describe())
        elif _attributes(keys) != _attributes(now) or _kcvs_differ(keys, now):
            changed.append(keys[0].describe())
    added = sorted(
        keys[0].describe()
        for identity, keys in after.items()
        if len(keys) > len(before.get(identity, []))
    )
    return VaultKeyComparison(
        CHANGED if missing or changed else UNCHANGED,
        previous.captured_at.isoformat(),
        tuple(missing),
        tuple(changed),
        tuple(added),
    )
