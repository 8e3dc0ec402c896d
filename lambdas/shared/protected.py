"""What the deployment protects: one entry per CloudHSM cluster.

A plain dataclass: the deployment config validates these values with pydantic at
synth time (stacks/config/clusters.py) and the stack writes them into the function's
environment, so the Lambda side only reads them back, without paying pydantic's
import and model-building cost on every cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

CLUSTER_ID_PATTERN = r"^cluster-[2-7a-zA-Z]{11,16}$"
BACKUP_ID_PATTERN = r"^backup-[2-7a-zA-Z]{11,16}$"
HSM_ID_PATTERN = r"^hsm-[2-7a-zA-Z]{11,16}$"
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$"
ZONE_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d[a-z]$"
# DR postures (docs/configuration.md): cold restores from a copy; pilot-light keeps a
# standby cluster (no HSM) restored from the newest copy, so a restore only adds HSMs;
# warm-standby keeps that standby with one ACTIVE HSM, so a restore re-points clients
# and adds HSMs for HA only.
POSTURE_COLD = "cold"
POSTURE_PILOT_LIGHT = "pilot-light"
POSTURE_WARM_STANDBY = "warm-standby"
POSTURES = (POSTURE_COLD, POSTURE_PILOT_LIGHT, POSTURE_WARM_STANDBY)
STANDBY_POSTURES = (POSTURE_PILOT_LIGHT, POSTURE_WARM_STANDBY)  # those that keep a standby


@dataclass(frozen=True)
class ProtectedCluster:
    id: str
    region: str
    hsms_per_az: Mapping[str, int]
    name: str = ""
    hsm_type: str | None = None  # expected HsmType, if the config pins it
    mode: str | None = None  # expected Mode, if the config pins it
    rpo_hours: float | None = None  # overrides the deployment's RPO
    retention_days: int | None = None  # desired BackupRetentionPolicy, if the config sets it
    # {DR region: "cold" | "pilot-light" | "warm-standby"}; a region not named is cold.
    dr_posture: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id

    @property
    def desired_hsm_count(self) -> int:
        return sum(self.hsms_per_az.values())

    def posture(self, region: str) -> str:
        """The DR posture in `region`: `cold` unless the config says otherwise."""
        return self.dr_posture.get(region, POSTURE_COLD)

    def pilot_light_regions(self) -> tuple[str, ...]:
        return tuple(sorted(r for r, p in self.dr_posture.items() if p == POSTURE_PILOT_LIGHT))

    def standby_regions(self) -> tuple[str, ...]:
        """The DR regions where a standby is kept (pilot-light or warm-standby)."""
        return tuple(sorted(r for r, p in self.dr_posture.items() if p in STANDBY_POSTURES))

    def to_dict(self) -> dict[str, Any]:
        """Compact form for the environment: defaults left out."""
        data = asdict(self)
        data["hsms_per_az"] = dict(self.hsms_per_az)
        data["dr_posture"] = dict(self.dr_posture)
        return {k: v for k, v in data.items() if v not in (None, "", {})}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProtectedCluster:
        return cls(
            id=str(data["id"]),
            region=str(data["region"]),
            hsms_per_az={str(z): int(n) for z, n in dict(data["hsms_per_az"]).items()},
            name=str(data.get("name", "")),
            hsm_type=data.get("hsm_type"),
            mode=data.get("mode"),
            rpo_hours=None if data.get("rpo_hours") is None else float(data["rpo_hours"]),
            retention_days=None
            if data.get("retention_days") is None
            else int(data["retention_days"]),
            dr_posture={str(r): str(p) for r, p in dict(data.get("dr_posture") or {}).items()},
        )
