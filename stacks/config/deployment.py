"""The whole deployment config: its sections, the checks across them and what the
stacks and workflows read from it."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from lambdas.shared.settings import BackupSettings, VerificationSettings
from stacks.config import checks
from stacks.config.backups import Backups
from stacks.config.base import PositiveHours, Region, Strict
from stacks.config.clusters import ProtectedClusterConfig
from stacks.config.drills import Drills
from stacks.config.escalation import Escalation
from stacks.config.history import (
    PollBudget,
    drill_budget,
    on_demand_budget,
    replacement_budget,
    restore_budget,
)
from stacks.config.key_verification import KeyVerification, RegionalVerifier
from stacks.config.lambda_options import LambdaOptions
from stacks.config.recovery import HsmReplacement, Quotas, Restore
from stacks.config.recovery_account import RecoveryAccount
from stacks.config.schedules import Schedules, schedule_interval_minutes


class DeploymentConfig(Strict):
    deployment_name: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9-]{0,39}$",
        description="the stack name and the prefix of every resource name",
    )
    region: Region = Field(description="where the stack runs; protected clusters default to it")
    docs_url: str | None = Field(
        default=None,
        pattern=r"^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%+/-]*)?$",
        max_length=200,
        description="where this repository's docs are published (the directory that holds "
        "docs/, e.g. https://github.com/ORG/cloudhsm-dr/blob/main): alerts and alarm "
        "descriptions then link to `<docs_url>/docs/runbooks/...`; unset, they name the "
        "relative path",
    )
    account: str | None = Field(
        default=None, pattern=r"^\d{12}$", description="pins the stacks to one account"
    )
    rpo_hours: PositiveHours = Field(
        default=24, description="the maximum age of the newest READY backup (RPO)"
    )
    backup_in_progress_max_minutes: int = Field(
        default=180,
        gt=0,
        le=7 * 24 * 60,
        description="a backup CREATE_IN_PROGRESS longer than this is `BACKUP_STUCK` (AWS "
        "documents no duration)",
    )
    protected_clusters: list[ProtectedClusterConfig] = Field(
        min_length=1, description="the clusters this deployment protects"
    )
    dr_regions: list[Region] = Field(
        default=[],
        description="regions that hold backup copies (same partition, each once); each gets "
        "a DR stack",
    )
    schedules: Schedules = Field(default=Schedules(), description="the scheduled jobs")
    backups: Backups = Field(default=Backups(), description="backups and their copies")
    restore: Restore = Field(default=Restore(), description="the restore workflow")
    hsm_replacement: HsmReplacement = Field(
        default=HsmReplacement(), description="the health check and the HSM replacement"
    )
    quotas: Quotas = Field(default=Quotas(), description="the account's CloudHSM quotas")
    escalation: Escalation = Field(description="who is reached, and how alerts escalate")
    drills: Drills = Field(default=Drills(), description="DR drills")
    lambda_options: LambdaOptions = Field(
        default=LambdaOptions(), alias="lambda", description="the Lambda functions"
    )
    key_verification: KeyVerification | None = Field(
        default=None,
        description="key-level checks over PKCS#11; unset deploys none of it",
    )
    recovery_account: RecoveryAccount | None = Field(
        default=None,
        description="the recovery-account vault (docs/runbooks/vault.md); unset deploys none of it",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _notifications_moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "notifications" in data:
            raise ValueError(
                "notifications: replaced by escalation (contacts, and who each severity "
                "reaches): see config/example.yaml"
            )
        return data

    @model_validator(mode="before")
    @classmethod
    def _cluster_region_defaults_to_deployment(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("protected_clusters"), list):
            region = data.get("region")
            data = dict(data)
            data["protected_clusters"] = [
                {"region": region, **c} if isinstance(c, dict) else c
                for c in data["protected_clusters"]
            ]
        return data

    @model_validator(mode="before")
    @classmethod
    def _drill_defaults_follow_the_config(cls, data: Any) -> Any:
        """Unset, a drill restores a DR copy when there are DR regions (else the primary
        backup), and requires key verification when key_verification is configured."""
        if not isinstance(data, dict):
            return data
        drills = data.get("drills")
        if drills is not None and not isinstance(drills, dict):
            return data
        drills = dict(drills or {})
        drills.setdefault("source", "dr-copy" if data.get("dr_regions") else "primary")
        drills.setdefault("require_key_verification", data.get("key_verification") is not None)
        return {**data, "drills": drills}

    @model_validator(mode="before")
    @classmethod
    def _vault_defaults_follow_the_config(cls, data: Any) -> Any:
        """Unset, the vault is in the deployment's region and its objective is twice the
        deployment's RPO."""
        if not isinstance(data, dict) or not isinstance(data.get("recovery_account"), dict):
            return data
        vault = dict(data["recovery_account"])
        vault.setdefault("region", data.get("region"))
        rpo = data.get("rpo_hours", 24)
        if "rpo_hours" not in vault and isinstance(rpo, int | float):
            vault["rpo_hours"] = 2 * rpo
        return {**data, "recovery_account": vault}

    @field_validator("dr_regions")
    @classmethod
    def _distinct_dr_regions(cls, value: list[str]) -> list[str]:
        twice = sorted({r for r in value if value.count(r) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(twice)} more than once")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DeploymentConfig:
        problems = checks.all_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def regional_verifier(self, region: str) -> RegionalVerifier | None:
        """The verifier configured in DR region `region`, if any."""
        keys = self.key_verification
        return None if keys is None else keys.regions.get(region)

    def drill_regions(self) -> list[str]:
        """Where a drill without a backup_id restores: the DR regions for dr-copy (the
        newest copy may be in any), the drilled cluster's own region for primary."""
        drills = self.drills
        if drills.source == "dr-copy":
            return list(self.dr_regions)
        drilled = drills.cluster or self.protected_clusters[0].id
        return [c.region for c in self.protected_clusters if c.id == drilled][:1]

    def vault_config(self) -> DeploymentConfig:
        """The config the vault stack is built from: the vault's escalation in place of the
        deployment's (its own topics), everything else as configured."""
        vault = self.recovery_account
        if vault is None:
            raise ValueError("recovery_account is not configured")
        escalation = vault.escalation or self.escalation
        return self.model_copy(update={"escalation": escalation})

    def pilot_light(self, region: str) -> list[ProtectedClusterConfig]:
        """The protected clusters kept as a pilot light in `region`."""
        return [c for c in self.protected_clusters if c.dr_posture.get(region) == "pilot-light"]

    def warm_standby(self, region: str) -> list[ProtectedClusterConfig]:
        """The protected clusters kept as a warm standby in `region`."""
        return [c for c in self.protected_clusters if c.dr_posture.get(region) == "warm-standby"]

    def standbys(self, region: str) -> list[ProtectedClusterConfig]:
        """The protected clusters with a standby in `region` (pilot light or warm)."""
        return [*self.pilot_light(region), *self.warm_standby(region)]

    def poll_budgets(self) -> list[PollBudget]:
        """Each workflow's poll interval against the time its loops may poll."""
        on_demand, replacement = self.backups.on_demand, self.hsm_replacement
        restore, drills = self.restore, self.drills
        most_hsms = max(sum(c.hsms_per_az.values()) for c in self.protected_clusters) + 1
        return [
            on_demand_budget(
                on_demand.poll_seconds,
                on_demand.hsm_timeout_minutes,
                on_demand.backup_timeout_minutes,
            ),
            replacement_budget(
                replacement.poll_seconds, replacement.hsm_timeout_minutes, replacement.max_attempts
            ),
            restore_budget(
                restore.poll_seconds,
                restore.cluster_timeout_minutes,
                restore.hsm_timeout_minutes,
                restore.max_hsm_attempts,
                most_hsms,
            ),
            drill_budget(
                drills.poll_seconds,
                drills.cluster_timeout_minutes,
                drills.hsm_timeout_minutes,
                drills.max_hsm_attempts,
                drills.teardown_timeout_minutes,
            ),
        ]

    def key_clusters(self) -> list[ProtectedClusterConfig]:
        """The clusters whose key manifests the scheduled capture takes."""
        keys = self.key_verification
        if keys is None:
            return []
        here = [c for c in self.protected_clusters if c.region == self.region]
        return [c for c in here if not keys.clusters or c.id in keys.clusters]

    def backup_settings(self) -> BackupSettings:
        backups = self.backups
        return BackupSettings(
            dr_regions=tuple(self.dr_regions),
            default_strategy=backups.on_demand.default_strategy,
            poll_seconds=backups.on_demand.poll_seconds,
            hsm_timeout_minutes=backups.on_demand.hsm_timeout_minutes,
            backup_timeout_minutes=backups.on_demand.backup_timeout_minutes,
            hsms_per_region_quota=self.quotas.hsms_per_region,
            copy_keep_newest=backups.copies.keep_newest,
            copy_keep_days=backups.copies.keep_days,
            copy_stuck_after_minutes=backups.copies.stuck_after_minutes,
            copy_interval_minutes=schedule_interval_minutes(self.schedules.copy_backups),
            golden_enabled=backups.golden.enabled,
            golden_period=backups.golden.period,
            golden_keep=backups.golden.keep,
            enforce_retention=backups.enforce_retention,
            trust_anchor_parameter=self.restore.trust_anchor_parameter,
        )

    def verification_settings(
        self,
        alert_topic_arn: str | None = None,
        notify_topic_arn: str | None = None,
        alert_memory_table: str | None = None,
    ) -> VerificationSettings:
        return VerificationSettings(
            deployment_name=self.deployment_name,
            clusters=tuple(c.runtime() for c in self.protected_clusters),
            rpo_hours=self.rpo_hours,
            backup_in_progress_max_minutes=self.backup_in_progress_max_minutes,
            alert_topic_arn=alert_topic_arn,
            notify_topic_arn=notify_topic_arn,
            alert_memory_table=alert_memory_table,
            repeat_alert_minutes=self.escalation.repeat_after_minutes,
        )
