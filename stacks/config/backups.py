"""Backups: forcing one, pruning the copies in the DR regions, golden backups."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stacks.config.base import Strict


class OnDemandBackups(Strict):
    """Forcing a backup (`hsmdr backup create`): CloudHSM has no backup API."""

    default_strategy: Literal["add-temporary-hsm", "cycle-hsm"] = Field(
        default="add-temporary-hsm",
        description="add a temporary HSM, or cycle one when the HSM quota has no headroom",
    )
    poll_seconds: int = Field(
        default=30, ge=1, le=3600, description="the workflow's wait between status checks"
    )
    hsm_timeout_minutes: int = Field(
        default=45,
        ge=1,
        le=24 * 60,
        description="an HSM creation or deletion that takes longer fails",
    )
    backup_timeout_minutes: int = Field(
        default=60, ge=1, le=24 * 60, description="the new backup must be READY within this"
    )


class CopyRetention(Strict):
    """Copies have no retention policy of their own: this rule prunes them."""

    keep_newest: int = Field(
        default=7,
        ge=1,
        le=1000,
        description="per cluster and DR region, the newest N READY copies are kept",
    )
    keep_days: int = Field(
        default=35, ge=0, le=3650, description="and so is every copy younger than this"
    )
    stuck_after_minutes: int = Field(
        default=240,
        ge=1,
        le=7 * 24 * 60,
        description="a copy CREATE_IN_PROGRESS longer than this is `COPY_STUCK` (AWS "
        "documents no duration)",
    )


class GoldenBackups(Strict):
    """One backup per period kept NeverExpires, in the cluster's region and each DR region."""

    enabled: bool = Field(default=False, description="mark golden backups")
    period: Literal["weekly", "monthly", "quarterly"] = Field(
        default="monthly",
        description="the oldest READY backup of each period (CreateTimestamp, UTC) is golden",
    )
    keep: int = Field(
        default=12,
        ge=1,
        le=1000,
        description="golden backups of the newest N periods are kept; older ones are unmarked",
    )


class Backups(Strict):
    """On-demand backups, the copies in the DR regions, golden backups, retention."""

    on_demand: OnDemandBackups = Field(default=OnDemandBackups(), description="forcing a backup")
    copies: CopyRetention = Field(
        default=CopyRetention(), description="pruning the copies in the DR regions"
    )
    golden: GoldenBackups = Field(default=GoldenBackups(), description="golden backups")
    enforce_retention: bool = Field(
        default=False, description="correct BackupRetentionPolicy drift with ModifyCluster"
    )
