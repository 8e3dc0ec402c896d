"""What the deployment protects: one entry per CloudHSM cluster.

Shared by the deployment config (validated at synth time and by the CLI) and the
Lambda settings (parsed from the environment the stack sets), so both read the
same rules.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CLUSTER_ID_PATTERN = r"^cluster-[2-7a-zA-Z]{11,16}$"
BACKUP_ID_PATTERN = r"^backup-[2-7a-zA-Z]{11,16}$"
HSM_ID_PATTERN = r"^hsm-[2-7a-zA-Z]{11,16}$"
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$"

HsmType = Literal["hsm1.medium", "hsm2m.medium"]
ClusterMode = Literal["FIPS", "NON_FIPS"]
PositiveHours = Annotated[float, Field(gt=0, le=24 * 366)]


class ProtectedCluster(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=CLUSTER_ID_PATTERN, description="CloudHSM cluster id")
    name: str = Field(default="", max_length=64, description="a label for people")
    region: str = Field(pattern=REGION_PATTERN)
    hsms_per_az: dict[str, Annotated[int, Field(ge=1, le=28)]] = Field(
        min_length=1, description="desired ACTIVE HSMs in each Availability Zone"
    )
    hsm_type: HsmType | None = Field(default=None, description="expected HsmType")
    mode: ClusterMode | None = Field(default=None, description="expected cluster Mode")
    rpo_hours: PositiveHours | None = Field(
        default=None, description="maximum backup age for this cluster"
    )

    @field_validator("hsms_per_az")
    @classmethod
    def _zones_look_like_zones(cls, value: dict[str, int]) -> dict[str, int]:
        for zone in value:
            if not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d[a-z]", zone):
                raise ValueError(f"{zone!r} is not an Availability Zone name")
        return value

    @model_validator(mode="after")
    def _zones_in_region(self) -> ProtectedCluster:
        foreign = [z for z in self.hsms_per_az if z[:-1] != self.region]
        if foreign:
            raise ValueError(f"zones {foreign} are not in region {self.region}")
        return self

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id

    @property
    def desired_hsm_count(self) -> int:
        return sum(self.hsms_per_az.values())
