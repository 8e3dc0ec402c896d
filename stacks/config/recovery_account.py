"""The recovery-account vault (docs/runbooks/vault.md): where it is, what it keeps and
its own key verification."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from stacks.config.backups import GoldenBackups
from stacks.config.base import (
    KMS_KEY_ARN_PATTERN,
    PositiveHours,
    Region,
    Strict,
    SubnetId,
    each_subnet_once,
)
from stacks.config.drills import QUARTERLY_DRILL
from stacks.config.escalation import Escalation
from stacks.config.schedules import Schedule


class VaultRetention(Strict):
    """Which vault backups are kept: the copies' rule and golden backups, in the vault."""

    keep_newest: int = Field(
        default=7,
        ge=1,
        le=1000,
        description="per source cluster and vault region, the newest N READY vault backups "
        "are kept",
    )
    keep_days: int = Field(
        default=35, ge=0, le=3650, description="and so is every vault backup younger than this"
    )
    golden: GoldenBackups = Field(
        default=GoldenBackups(),
        description="golden vault backups (NeverExpires, one per period), like "
        "`backups.golden`, in the vault region (not on its copies)",
    )


class VaultKeyVerification(Strict):
    """Key verification in the recovery account (`recovery_account.key_verification`):
    the vault's own verifier, manifests and copy of the crypto user's secret; nothing of
    it is read from production."""

    vpc_id: str = Field(
        pattern=r"^vpc-[0-9a-f]{8,17}$",
        description="the recovery account's VPC that holds `recovery_account.subnets` (the "
        "vault clusters' and the restored clusters' network)",
    )
    subnet_ids: list[SubnetId] = Field(
        min_length=1,
        max_length=16,
        description="private subnets of that VPC for the verifier, with a route to Secrets "
        "Manager, S3 and the CloudHSM API",
    )
    crypto_user_secret_name: str = Field(
        pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$",
        description='a secret in the recovery account (vault region): JSON {"username", '
        '"password", "customer_ca"} of the same crypto user production checks with (users '
        "travel inside the backup); customer_ca is the recovery account's own copy of the "
        "trust anchor",
    )
    secret_kms_key_arn: str | None = Field(
        default=None,
        pattern=KMS_KEY_ARN_PATTERN,
        description="the customer-managed KMS key of that secret (recovery account, vault "
        "region), if not aws/secretsmanager",
    )
    canary_key_label: str = Field(
        default="hsmdr-canary",
        min_length=1,
        max_length=127,
        description="the key used for a live crypto test on every check (as "
        "`key_verification.canary_key_label`)",
    )
    memory_mb: int = Field(
        default=512, ge=128, le=10240, description="the vault's two key functions' memory"
    )
    timeout_minutes: int = Field(
        default=5, ge=1, le=15, description="the vault's two key functions' timeout"
    )

    @field_validator("subnet_ids")
    @classmethod
    def _distinct_subnets(cls, value: list[str]) -> list[str]:
        return each_subnet_once(value)


class RecoveryAccount(Strict):
    """The recovery-account vault (docs/runbooks/vault.md): production shares its newest
    backups with this account, which restores each into a vault cluster of its own so
    that it holds a backup production cannot delete."""

    account: str = Field(
        pattern=r"^\d{12}$",
        description="the recovery account (12 digits), not the deployment's `account`",
    )
    region: Region | None = Field(
        default=None,
        description="the vault's region: the `<deployment>-vault` stack and its clusters",
        json_schema_extra={"shown_default": "`region`"},
    )
    dr_regions: list[Region] = Field(
        default=[],
        description="regions the vault copies its own backups to (CopyBackupToRegion from "
        "the vault region); no stack is deployed there",
    )
    refresh_schedule: Schedule = Field(
        default="rate(1 day)", description="when the vault refresh workflow runs"
    )
    drill_schedule: Schedule | None = Field(
        default=QUARTERLY_DRILL,
        description="when the vault's DR drill runs (in `schedules.timezone`): it restores "
        "the newest READY vault backup into a drill cluster in the vault region, then tears "
        "it down; `null`: only by hand",
    )
    rpo_hours: PositiveHours | None = Field(
        default=None,
        description="a newest vault backup older than this is `VAULT_STALE`",
        json_schema_extra={"shown_default": "2 x `rpo_hours`"},
    )
    silent_after_hours: PositiveHours = Field(
        default=48,
        description="no backup newly shared by production for this long is `PRODUCTION_SILENT`",
    )
    vault_cluster: Literal["keep", "delete"] = Field(
        default="keep",
        description="after its backup is made, `keep` the vault cluster with no HSM (no "
        "HSM charge; it counts against the clusters quota) or `delete` it",
    )
    subnets: dict[Region, list[SubnetId]] = Field(
        default_factory=dict,
        description="`{vault region: [subnet ids]}`, one per AZ, where vault clusters are "
        "created; required for the vault region",
    )
    retention: VaultRetention = Field(
        default=VaultRetention(), description="which vault backups are kept"
    )
    escalation: Escalation | None = Field(
        default=None,
        description="who the vault stack's own topics reach",
        json_schema_extra={"shown_default": "`escalation`"},
    )
    key_verification: VaultKeyVerification | None = Field(
        default=None,
        description="the vault's own key verifier: each refresh captures the vault cluster's "
        "key manifest, compares it with the previous one and a restore from the vault checks "
        "its keys against it; unset, neither runs and the restore's report says so",
    )

    def vault_region(self, deployment_region: str) -> str:
        return self.region or deployment_region

    def objective_hours(self, deployment_rpo_hours: float) -> float:
        return self.rpo_hours or 2 * deployment_rpo_hours

    @field_validator("dr_regions")
    @classmethod
    def _distinct_regions(cls, value: list[str]) -> list[str]:
        twice = sorted({r for r in value if value.count(r) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(twice)} more than once")
        return value
