"""A protected cluster: where it is, the HSMs it should have and its DR posture."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from lambdas.shared.protected import CLUSTER_ID_PATTERN, ZONE_PATTERN, ProtectedCluster
from stacks.config.aws_names import zone_problem
from stacks.config.base import PositiveHours, Region, Strict


class ProtectedClusterConfig(Strict):
    id: str = Field(pattern=CLUSTER_ID_PATTERN, description="the CloudHSM cluster's id")
    name: str = Field(default="", max_length=64, description="a label for people, used in alerts")
    region: Region = Field(
        description="the cluster's region", json_schema_extra={"shown_default": "`region`"}
    )
    hsms_per_az: dict[
        Annotated[str, Field(pattern=ZONE_PATTERN)], Annotated[int, Field(ge=1, le=28)]
    ] = Field(
        min_length=1,
        description="desired ACTIVE HSMs in each Availability Zone, e.g. "
        "`{us-east-1a: 1, us-east-1b: 1}`: the health check and the replacement keep to it",
    )
    hsm_type: Literal["hsm1.medium", "hsm2m.medium"] | None = Field(
        default=None,
        description="the expected HsmType: another is a `CLUSTER_DRIFT` finding",
    )
    mode: Literal["FIPS", "NON_FIPS"] | None = Field(
        default=None, description="the expected Mode: another is a `CLUSTER_DRIFT` finding"
    )
    rpo_hours: PositiveHours | None = Field(
        default=None,
        description="this cluster's RPO, if tighter or looser than the deployment's",
        json_schema_extra={"shown_default": "`rpo_hours`"},
    )
    retention_days: int | None = Field(
        default=None,
        ge=7,
        le=379,
        description="desired BackupRetentionPolicy in days: drift is a `RETENTION_DRIFT` "
        "finding, or corrected with `backups.enforce_retention`",
    )
    dr_posture: dict[Region, Literal["cold", "pilot-light", "warm-standby"]] = Field(
        default={},
        description="per DR region, `cold` (restore from the newest copy), `pilot-light` "
        "(the DR stack keeps a standby cluster restored from the newest READY copy, with no "
        "HSM and so no HSM charge, though it counts against `quotas.clusters_per_region`; a "
        "restore within the RPO adopts it and only creates HSMs) or `warm-standby` (the "
        "same standby with one ACTIVE HSM, about `drills.hsm_hour_usd` x 730 per month, "
        "1,350 USD at 1.85 USD per HSM-hour, and one of `quotas.hsms_per_region`; a restore "
        "only re-points clients and adds HSMs for HA). See docs/runbooks/standby.md and "
        "docs/costs.md; both need `restore.subnets` for the region",
        json_schema_extra={"shown_default": "`cold` in every DR region"},
    )

    @model_validator(mode="after")
    def _zones_in_region(self) -> ProtectedClusterConfig:
        problems = [zone_problem(zone, self.region) for zone in self.hsms_per_az]
        found = [f"hsms_per_az: {p}" for p in problems if p]
        if found:
            raise ValueError("\n".join(found))
        return self

    def runtime(self) -> ProtectedCluster:
        return ProtectedCluster(**self.model_dump())
