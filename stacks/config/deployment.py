"""The whole deployment config: its sections, the checks across them and what the
stacks and workflows read from it."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from lambdas.shared.settings import BackupSettings, VerificationSettings
from stacks.config.aws_names import kms_key_problem, partition_of
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
        ids = [c.id for c in self.protected_clusters]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        problems = [f"protected_clusters: duplicate cluster ids {duplicates}"] if duplicates else []
        problems += self._region_problems()
        problems += self.escalation.problems()
        if self.key_verification is not None:
            problems += self._key_verification_problems(self.key_verification)
        problems += self._drill_problems(ids)
        problems += self._restore_problems()
        problems += self._posture_problems()
        problems += self._recovery_problems()
        problems += [p for budget in self.poll_budgets() if (p := budget.problem())]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _region_problems(self) -> list[str]:
        problems = []
        if self.region in self.dr_regions:
            problems.append(f"dr_regions: {self.region} is the deployment region itself")
        home = partition_of(self.region)
        for index, region in enumerate(self.dr_regions):
            if partition_of(region) != home:
                problems.append(
                    f"dr_regions.{index}: {region} is in partition {partition_of(region)}, "
                    f"{self.region} in {home}: CloudHSM copies backups within a partition only"
                )
        for index, cluster in enumerate(self.protected_clusters):
            if partition_of(cluster.region) != home:
                problems.append(
                    f"protected_clusters.{index}.region: {cluster.region} is in partition "
                    f"{partition_of(cluster.region)}, the deployment ({self.region}) in {home}"
                )
        return problems

    def _key_verification_problems(self, keys: KeyVerification) -> list[str]:
        # The verifier runs in the deployment region's VPC: it reaches clusters there only.
        here = {c.id for c in self.protected_clusters if c.region == self.region}
        strangers = sorted(set(keys.clusters) - here)
        problems = []
        if strangers:
            problems.append(
                f"key_verification.clusters: {strangers} are not protected clusters in "
                f"{self.region}"
            )
        if not keys.clusters and not here:
            problems.append(f"key_verification: no protected cluster is in {self.region}")
        if keys.secret_kms_key_arn is not None:
            problem = kms_key_problem(keys.secret_kms_key_arn, self.region)
            if problem:
                problems.append(f"key_verification.secret_kms_key_arn: {problem}")
        for region, verifier in keys.regions.items():
            field = f"key_verification.regions.{region}"
            if region not in self.dr_regions:
                problems.append(
                    f"{field}: {region} is not one of dr_regions "
                    f"({', '.join(self.dr_regions) or 'none'}): a regional verifier serves a "
                    "DR stack (the deployment region's verifier is key_verification itself)"
                )
            elif verifier.secret_kms_key_arn is not None:
                problem = kms_key_problem(verifier.secret_kms_key_arn, region)
                if problem:
                    problems.append(f"{field}.secret_kms_key_arn: {problem}")
        return problems

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

    def _drill_problems(self, protected: list[str]) -> list[str]:
        drills = self.drills
        if drills.cluster is not None and drills.cluster not in protected:
            return [f"drills.cluster: {drills.cluster} is not one of protected_clusters"]
        problems = []
        if drills.source == "dr-copy" and not self.dr_regions:
            problems.append(
                "drills.source: dr-copy restores a copy from a DR region and dr_regions is "
                "empty: every drill would be refused; set drills.source: primary or add "
                "dr_regions"
            )
        if drills.require_key_verification and self.key_verification is None:
            problems.append(
                "drills.require_key_verification: true, but key_verification is not "
                "configured: every drill would fail at its key check and page; configure "
                "key_verification, or set drills.require_key_verification: false to drill "
                "without key checks"
            )
        regions = self.drill_regions()
        # No subnets at all is left to the drill (it refuses and pages, naming the field);
        # subnets for some drill regions only is a config that fails now and then.
        if drills.subnets:
            problems += [
                f"drills.subnets: none for {region}, where a {drills.source} drill "
                f"restores; add drills.subnets.{region} (one isolated subnet per AZ)"
                for region in regions
                if region not in drills.subnets
            ]
        elsewhere = [r for r in regions if r != self.region]
        if (
            self.key_verification is not None
            and drills.require_key_verification
            and elsewhere
            and not drills.verifier_cidrs
        ):
            problems.append(
                f"drills.verifier_cidrs: the key verifier runs in {self.region} and drills "
                f"restore in {', '.join(elsewhere)}: security groups cannot reference each "
                "other across regions, so every drill's key check would fail; set the "
                "verifier subnets' CIDRs (routed to the drill VPC)"
            )
        return problems

    def _restore_problems(self) -> list[str]:
        restore = self.restore
        # Backups exist only in protected clusters' regions and, as copies, in DR regions.
        holding = {self.region, *self.dr_regions, *(c.region for c in self.protected_clusters)}
        problems = [
            f"restore.subnets.{region}: {region} is neither the deployment region, a DR "
            "region nor a protected cluster's region: no backup is ever there to restore"
            for region in restore.subnets
            if region not in holding
        ]
        for region, subnets in restore.subnets.items():
            twice = sorted({s for s in subnets if subnets.count(s) > 1})
            if twice:
                problems.append(f"restore.subnets.{region}: lists {', '.join(twice)} twice")
        if restore.trust_anchor_kms_key_arn is not None:
            if restore.trust_anchor_parameter is None:
                problems.append(
                    "restore.trust_anchor_kms_key_arn: set without "
                    "restore.trust_anchor_parameter, the parameter it decrypts"
                )
            problem = kms_key_problem(restore.trust_anchor_kms_key_arn, self.region)
            if problem:
                problems.append(f"restore.trust_anchor_kms_key_arn: {problem}")
        return problems

    def _posture_problems(self) -> list[str]:
        problems = []
        for index, cluster in enumerate(self.protected_clusters):
            for region, posture in cluster.dr_posture.items():
                field = f"protected_clusters.{index}.dr_posture.{region}"
                if region not in self.dr_regions:
                    problems.append(
                        f"{field}: {region} is not one of dr_regions "
                        f"({', '.join(self.dr_regions) or 'none'}): a posture is kept only "
                        "in a DR region"
                    )
                elif posture != "cold" and region not in self.restore.subnets:
                    problems.append(
                        f"{field}: {posture} creates its standby cluster in "
                        f"restore.subnets.{region}, which is not set (one subnet per AZ)"
                    )
        return problems

    def _recovery_problems(self) -> list[str]:
        vault = self.recovery_account
        if vault is None:
            return []
        problems = []
        if self.account is None:
            problems.append(
                "account: required with recovery_account, which must be another account"
            )
        elif vault.account == self.account:
            problems.append(
                f"recovery_account.account: {vault.account} is the deployment's own account; "
                "the vault must be in another account"
            )
        region = vault.vault_region(self.region)
        problems += self._vault_subnet_problems(vault, region)
        home = partition_of(region)
        if home != partition_of(self.region):
            problems.append(
                f"recovery_account.region: {region} is in partition {home}, the deployment "
                f"({self.region}) in {partition_of(self.region)}"
            )
        for index, other in enumerate(vault.dr_regions):
            if partition_of(other) != home:
                problems.append(
                    f"recovery_account.dr_regions.{index}: {other} is in partition "
                    f"{partition_of(other)}, the vault ({region}) in {home}: CloudHSM copies "
                    "backups within a partition only"
                )
        if vault.escalation is not None:
            problems += [f"recovery_account.{p}" for p in vault.escalation.problems()]
        keys = vault.key_verification
        if keys is not None and keys.secret_kms_key_arn is not None:
            problem = kms_key_problem(keys.secret_kms_key_arn, region)
            if problem:
                problems.append(f"recovery_account.key_verification.secret_kms_key_arn: {problem}")
            elif keys.secret_kms_key_arn.split(":")[4] == self.account:
                problems.append(
                    "recovery_account.key_verification.secret_kms_key_arn: the key is in "
                    f"the production account {self.account}: the vault trusts nothing of "
                    "production's; use a key of the recovery account (or another account "
                    "production cannot administer)"
                )
        return problems

    def _vault_subnet_problems(self, vault: RecoveryAccount, region: str) -> list[str]:
        """Where vault clusters are created: subnets of the vault region, which must hold
        a backup (or copy) of every protected cluster."""
        problems: list[str] = []
        if region not in vault.subnets:
            problems.append(
                f"recovery_account.subnets: none for {region}, the vault region, where vault "
                f"clusters are created; add recovery_account.subnets.{region} (one per AZ)"
            )
        problems += [
            f"recovery_account.subnets.{other}: {other} is not the vault region ({region}): "
            "vault clusters are created only there"
            for other in vault.subnets
            if other != region
        ]
        for where, subnets in vault.subnets.items():
            twice = sorted({s for s in subnets if subnets.count(s) > 1})
            if twice:
                problems.append(f"recovery_account.subnets.{where}: lists {', '.join(twice)} twice")
        if region in vault.dr_regions:
            problems.append(f"recovery_account.dr_regions: {region} is the vault region itself")
        # CreateCluster restores a backup of its own region only: the vault pulls a
        # cluster's backup from its region, or the cluster's copy from a DR region.
        for index, cluster in enumerate(self.protected_clusters):
            if region not in (cluster.region, *self.dr_regions):
                problems.append(
                    f"recovery_account.region: {region} holds no backup of "
                    f"protected_clusters.{index} ({cluster.id}, in {cluster.region}; "
                    f"dr_regions: {', '.join(self.dr_regions) or 'none'}): a vault cluster "
                    "is restored from a backup in its own region; choose one of those "
                    "regions"
                )
        return problems

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
