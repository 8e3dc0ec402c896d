"""What the sharing job needs from the deployment config, as one JSON value in the
function's environment (built by stacks/constructs/backups/backup_sharing.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from lambdas.shared.settings import SettingsError

SHARE_SETTINGS = "HSMDR_SHARE_SETTINGS"


@dataclass(frozen=True)
class ShareSettings:
    deployment_name: str
    recovery_account: str
    clusters: tuple[tuple[str, str], ...]  # (cluster id, its region)
    dr_regions: tuple[str, ...]

    def regions(self) -> list[str]:
        """Every region holding backups to share: the clusters' and the DR regions."""
        return sorted({*(region for _, region in self.clusters), *self.dr_regions})

    def clusters_in(self, region: str) -> list[str]:
        """The clusters whose backups (own region) or copies (DR region) are in `region`."""
        if region in self.dr_regions:
            return [cluster_id for cluster_id, _ in self.clusters]
        return [cluster_id for cluster_id, home in self.clusters if home == region]

    def to_env(self) -> dict[str, str]:
        data = {
            "deployment_name": self.deployment_name,
            "recovery_account": self.recovery_account,
            "clusters": [list(c) for c in self.clusters],
            "dr_regions": list(self.dr_regions),
        }
        return {SHARE_SETTINGS: json.dumps(data, separators=(",", ":"), sort_keys=True)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ShareSettings:
        environ = os.environ if environ is None else environ
        return _parse(environ.get(SHARE_SETTINGS, ""))


@lru_cache(maxsize=8)
def _parse(raw: str) -> ShareSettings:
    try:
        data = json.loads(raw)
        return ShareSettings(
            deployment_name=str(data["deployment_name"]),
            recovery_account=str(data["recovery_account"]),
            clusters=tuple((str(c), str(r)) for c, r in data["clusters"]),
            dr_regions=tuple(str(r) for r in data["dr_regions"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SettingsError(f"{SHARE_SETTINGS} is missing or malformed: {error}") from error
