"""What the restore workflow needs from the deployment config (its `restore:` section,
the regions and the quotas), written into the function's environment as one JSON value.

The stack builds it from the validated config (stacks/constructs/restore/restore_cluster.py);
the function reads it back here without pydantic, like the other settings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from lambdas.shared.env import Env
from lambdas.shared.settings import SettingsError


@dataclass(frozen=True)
class RestoreSettings:
    primary_region: str  # the main stack's region: where the trust anchor parameter lives
    dr_regions: tuple[str, ...] = ()
    subnets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # region -> subnets
    poll_seconds: int = 30
    cluster_timeout_minutes: int = 60
    hsm_timeout_minutes: int = 45
    max_hsm_attempts: int = 3
    trust_anchor_parameter: str | None = None
    clusters_per_region_quota: int = 4
    hsms_per_region_quota: int = 6
    key_verification: bool = False  # is the verify-keys function invoked by this restore?
    rto_minutes: float | None = None  # the objective its report holds the RTO to
    # In the recovery account (the vault stack): restore only from this deployment's
    # vault backups, each as a backup of the production cluster it holds (vault.py).
    vault_deployment: str | None = None

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region the config names, primary first: where backups may be found."""
        seen = [self.primary_region, *self.dr_regions, *sorted(self.subnets)]
        return tuple(dict.fromkeys(seen))

    def to_env(self) -> dict[str, str]:
        data = asdict(self)
        data["dr_regions"] = list(self.dr_regions)
        data["subnets"] = {region: list(ids) for region, ids in self.subnets.items()}
        return {Env.RESTORE_SETTINGS: json.dumps(data, separators=(",", ":"), sort_keys=True)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RestoreSettings:
        environ = os.environ if environ is None else environ
        return _parse(environ.get(Env.RESTORE_SETTINGS, ""))


@lru_cache(maxsize=8)
def _parse(raw: str) -> RestoreSettings:
    try:
        data = json.loads(raw)
        data["dr_regions"] = tuple(data.get("dr_regions", ()))
        data["subnets"] = {str(r): tuple(ids) for r, ids in dict(data.get("subnets", {})).items()}
        return RestoreSettings(**data)
    except (KeyError, TypeError, ValueError) as error:
        raise SettingsError(f"{Env.RESTORE_SETTINGS} is missing or malformed: {error}") from error
