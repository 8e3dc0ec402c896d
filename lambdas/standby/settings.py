"""What the standby refresher needs from the deployment config, as one JSON value in
the function's environment (built by stacks/constructs/standby/standby_refresher.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from lambdas.shared.env import Env
from lambdas.shared.protected import POSTURE_PILOT_LIGHT, POSTURE_WARM_STANDBY
from lambdas.shared.settings import SettingsError


@dataclass(frozen=True)
class StandbySettings:
    deployment_name: str
    region: str  # the DR region this refresher keeps standbys in
    cluster_ids: tuple[str, ...]  # protected clusters with a standby posture here
    subnet_ids: tuple[str, ...]  # restore.subnets of the region
    clusters_per_region_quota: int = 4
    # Those of cluster_ids whose posture here is warm-standby (the others: pilot-light).
    warm_cluster_ids: tuple[str, ...] = ()
    hsms_per_region_quota: int = 6

    def posture(self, cluster_id: str) -> str:
        return POSTURE_WARM_STANDBY if cluster_id in self.warm_cluster_ids else POSTURE_PILOT_LIGHT

    def to_env(self) -> dict[str, str]:
        data = {
            "deployment_name": self.deployment_name,
            "region": self.region,
            "cluster_ids": list(self.cluster_ids),
            "subnet_ids": list(self.subnet_ids),
            "clusters_per_region_quota": self.clusters_per_region_quota,
            "warm_cluster_ids": list(self.warm_cluster_ids),
            "hsms_per_region_quota": self.hsms_per_region_quota,
        }
        return {Env.STANDBY_SETTINGS: json.dumps(data, separators=(",", ":"), sort_keys=True)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StandbySettings:
        environ = os.environ if environ is None else environ
        return _parse(environ.get(Env.STANDBY_SETTINGS, ""))


@lru_cache(maxsize=8)
def _parse(raw: str) -> StandbySettings:
    try:
        data = json.loads(raw)
        return StandbySettings(
            deployment_name=str(data["deployment_name"]),
            region=str(data["region"]),
            cluster_ids=tuple(str(c) for c in data["cluster_ids"]),
            subnet_ids=tuple(str(s) for s in data["subnet_ids"]),
            clusters_per_region_quota=int(data.get("clusters_per_region_quota", 4)),
            warm_cluster_ids=tuple(str(c) for c in data.get("warm_cluster_ids", ())),
            hsms_per_region_quota=int(data.get("hsms_per_region_quota", 6)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SettingsError(f"{Env.STANDBY_SETTINGS} is missing or malformed: {error}") from error
