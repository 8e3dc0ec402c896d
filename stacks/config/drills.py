"""DR drills: how often, where they restore and how long each step may take."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from lambdas.shared.protected import CLUSTER_ID_PATTERN
from stacks.config.base import Region, Strict
from stacks.config.schedules import Schedule

QUARTERLY_DRILL = "cron(0 9 1 1,4,7,10 ? *)"


class Drills(Strict):
    """DR drills: how often one must succeed, and the recovery time it must meet."""

    period_days: int = Field(
        default=92, ge=1, le=366, description="no successful DR drill for this long pages"
    )
    rto_minutes: int = Field(
        default=60,
        ge=1,
        le=7 * 24 * 60,
        description="a drill slower than this recovery time objective notifies",
    )
    # The drill workflow (stacks/constructs/drill/dr_drill.py, docs/runbooks/dr-drill.md).
    schedule: Schedule | None = Field(
        default=QUARTERLY_DRILL,
        description="when the drill runs (in `schedules.timezone`); `null`: only by hand",
    )
    cluster: Annotated[str, Field(pattern=CLUSTER_ID_PATTERN)] | None = Field(
        default=None,  # None: the first
        description="the protected cluster drilled",
        json_schema_extra={"shown_default": "the first protected cluster"},
    )
    # Unset: dr-copy when the config has dr_regions, else primary (set by DeploymentConfig).
    source: Literal["dr-copy", "primary"] = Field(
        default="dr-copy",
        description="`dr-copy`: the newest READY copy in a DR region; `primary`: the "
        "cluster's newest backup in its own region",
        json_schema_extra={"shown_default": "`dr-copy` with `dr_regions`, else `primary`"},
    )
    subnets: dict[Region, list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]]] = Field(
        default={},
        description="isolated drill subnets per region, `{region: [subnet ids]}`, one "
        "per AZ, in every region a drill restores into",
    )
    verifier_cidrs: list[Annotated[str, Field(pattern=r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")]] = Field(
        default=[],
        description="the key verifier subnets' CIDRs, routed to DR-region drill subnets "
        "(security groups cannot reference each other across regions)",
    )
    poll_seconds: int = Field(
        default=30, ge=1, le=3600, description="the drill's wait between status checks"
    )
    cluster_timeout_minutes: int = Field(
        default=60, ge=1, le=24 * 60, description="the drill cluster must be ACTIVE within this"
    )
    hsm_timeout_minutes: int = Field(
        default=45, ge=1, le=24 * 60, description="the drill HSM must be ACTIVE within this"
    )
    max_hsm_attempts: int = Field(
        default=3, ge=1, le=10, description="DEGRADED HSMs in one zone before the drill fails"
    )
    teardown_timeout_minutes: int = Field(
        default=90,
        ge=5,
        le=24 * 60,
        description="teardown's deadline, well inside the state machine's timeout",
    )
    backup_wait_minutes: float = Field(
        default=30,
        ge=0,
        le=24 * 60,
        description="how long teardown waits for the drill cluster's own backup before "
        "leaving it with a warning",
    )
    delete_drill_backups: bool = Field(
        default=False,  # only the copy job deletes backups by default
        description="also delete the backup CloudHSM makes of the drill cluster; off, the "
        "report names it and only the copy job deletes backups",
    )
    # Unset: true when key_verification is configured (set by DeploymentConfig).
    require_key_verification: bool = Field(
        default=True,
        description="a drill without a key check fails (`KEY_VERIFICATION_NOT_CONFIGURED`); "
        "true without `key_verification` is refused",
        json_schema_extra={"shown_default": "true with `key_verification`, else false"},
    )
    hsm_hour_usd: float = Field(
        default=1.85,
        ge=0,
        le=1000,
        description="the price of one HSM-hour, for the drill report's cost estimate "
        "(UNCONFIRMED list price: it varies by region and HSM type)",
    )
