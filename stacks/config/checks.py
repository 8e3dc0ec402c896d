"""The deployment config's checks across sections, as pure functions of the parsed
sections: each returns `field.sub: what is wrong` lines, in the order they are reported."""

from __future__ import annotations

from typing import Protocol

from stacks.config.aws_names import kms_key_problem, partition_of
from stacks.config.clusters import ProtectedClusterConfig
from stacks.config.drills import Drills
from stacks.config.escalation import Escalation
from stacks.config.history import PollBudget
from stacks.config.key_verification import KeyVerification
from stacks.config.recovery import Restore
from stacks.config.recovery_account import RecoveryAccount


class Deployment(Protocol):
    """What the checks read of a DeploymentConfig (stacks/config/deployment.py)."""

    @property
    def region(self) -> str: ...
    @property
    def account(self) -> str | None: ...
    @property
    def dr_regions(self) -> list[str]: ...
    @property
    def protected_clusters(self) -> list[ProtectedClusterConfig]: ...
    @property
    def escalation(self) -> Escalation: ...
    @property
    def key_verification(self) -> KeyVerification | None: ...
    @property
    def drills(self) -> Drills: ...
    @property
    def restore(self) -> Restore: ...
    @property
    def recovery_account(self) -> RecoveryAccount | None: ...
    def drill_regions(self) -> list[str]: ...
    def poll_budgets(self) -> list[PollBudget]: ...


def all_problems(config: Deployment) -> list[str]:
    """Every problem across sections, in the order they are reported."""
    ids = [c.id for c in config.protected_clusters]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    problems = [f"protected_clusters: duplicate cluster ids {duplicates}"] if duplicates else []
    problems += region_problems(config)
    problems += config.escalation.problems()
    if config.key_verification is not None:
        problems += key_verification_problems(config, config.key_verification)
    problems += drill_problems(config, ids)
    problems += restore_problems(config)
    problems += posture_problems(config)
    problems += recovery_problems(config)
    problems += [p for budget in config.poll_budgets() if (p := budget.problem())]
    return problems


def region_problems(config: Deployment) -> list[str]:
    problems = []
    if config.region in config.dr_regions:
        problems.append(f"dr_regions: {config.region} is the deployment region itself")
    home = partition_of(config.region)
    for index, region in enumerate(config.dr_regions):
        if partition_of(region) != home:
            problems.append(
                f"dr_regions.{index}: {region} is in partition {partition_of(region)}, "
                f"{config.region} in {home}: CloudHSM copies backups within a partition only"
            )
    for index, cluster in enumerate(config.protected_clusters):
        if partition_of(cluster.region) != home:
            problems.append(
                f"protected_clusters.{index}.region: {cluster.region} is in partition "
                f"{partition_of(cluster.region)}, the deployment ({config.region}) in {home}"
            )
    return problems


def key_verification_problems(config: Deployment, keys: KeyVerification) -> list[str]:
    # The verifier runs in the deployment region's VPC: it reaches clusters there only.
    here = {c.id for c in config.protected_clusters if c.region == config.region}
    strangers = sorted(set(keys.clusters) - here)
    problems = []
    if strangers:
        problems.append(
            f"key_verification.clusters: {strangers} are not protected clusters in {config.region}"
        )
    if not keys.clusters and not here:
        problems.append(f"key_verification: no protected cluster is in {config.region}")
    if keys.secret_kms_key_arn is not None:
        problem = kms_key_problem(keys.secret_kms_key_arn, config.region)
        if problem:
            problems.append(f"key_verification.secret_kms_key_arn: {problem}")
    for region, verifier in keys.regions.items():
        field = f"key_verification.regions.{region}"
        if region not in config.dr_regions:
            problems.append(
                f"{field}: {region} is not one of dr_regions "
                f"({', '.join(config.dr_regions) or 'none'}): a regional verifier serves a "
                "DR stack (the deployment region's verifier is key_verification itself)"
            )
        elif verifier.secret_kms_key_arn is not None:
            problem = kms_key_problem(verifier.secret_kms_key_arn, region)
            if problem:
                problems.append(f"{field}.secret_kms_key_arn: {problem}")
    return problems


def drill_problems(config: Deployment, protected: list[str]) -> list[str]:
    drills = config.drills
    if drills.cluster is not None and drills.cluster not in protected:
        return [f"drills.cluster: {drills.cluster} is not one of protected_clusters"]
    problems = []
    if drills.source == "dr-copy" and not config.dr_regions:
        problems.append(
            "drills.source: dr-copy restores a copy from a DR region and dr_regions is "
            "empty: every drill would be refused; set drills.source: primary or add "
            "dr_regions"
        )
    if drills.require_key_verification and config.key_verification is None:
        problems.append(
            "drills.require_key_verification: true, but key_verification is not "
            "configured: every drill would fail at its key check and page; configure "
            "key_verification, or set drills.require_key_verification: false to drill "
            "without key checks"
        )
    regions = config.drill_regions()
    # No subnets at all is left to the drill (it refuses and pages, naming the field);
    # subnets for some drill regions only is a config that fails now and then.
    if drills.subnets:
        problems += [
            f"drills.subnets: none for {region}, where a {drills.source} drill "
            f"restores; add drills.subnets.{region} (one isolated subnet per AZ)"
            for region in regions
            if region not in drills.subnets
        ]
    elsewhere = [r for r in regions if r != config.region]
    if (
        config.key_verification is not None
        and drills.require_key_verification
        and elsewhere
        and not drills.verifier_cidrs
    ):
        problems.append(
            f"drills.verifier_cidrs: the key verifier runs in {config.region} and drills "
            f"restore in {', '.join(elsewhere)}: security groups cannot reference each "
            "other across regions, so every drill's key check would fail; set the "
            "verifier subnets' CIDRs (routed to the drill VPC)"
        )
    return problems


def restore_problems(config: Deployment) -> list[str]:
    restore = config.restore
    # Backups exist only in protected clusters' regions and, as copies, in DR regions.
    holding = {config.region, *config.dr_regions, *(c.region for c in config.protected_clusters)}
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
        problem = kms_key_problem(restore.trust_anchor_kms_key_arn, config.region)
        if problem:
            problems.append(f"restore.trust_anchor_kms_key_arn: {problem}")
    return problems


def posture_problems(config: Deployment) -> list[str]:
    problems = []
    for index, cluster in enumerate(config.protected_clusters):
        for region, posture in cluster.dr_posture.items():
            field = f"protected_clusters.{index}.dr_posture.{region}"
            if region not in config.dr_regions:
                problems.append(
                    f"{field}: {region} is not one of dr_regions "
                    f"({', '.join(config.dr_regions) or 'none'}): a posture is kept only "
                    "in a DR region"
                )
            elif posture != "cold" and region not in config.restore.subnets:
                problems.append(
                    f"{field}: {posture} creates its standby cluster in "
                    f"restore.subnets.{region}, which is not set (one subnet per AZ)"
                )
    return problems


def recovery_problems(config: Deployment) -> list[str]:
    vault = config.recovery_account
    if vault is None:
        return []
    problems = []
    if config.account is None:
        problems.append("account: required with recovery_account, which must be another account")
    elif vault.account == config.account:
        problems.append(
            f"recovery_account.account: {vault.account} is the deployment's own account; "
            "the vault must be in another account"
        )
    region = vault.vault_region(config.region)
    problems += vault_subnet_problems(config, vault, region)
    home = partition_of(region)
    if home != partition_of(config.region):
        problems.append(
            f"recovery_account.region: {region} is in partition {home}, the deployment "
            f"({config.region}) in {partition_of(config.region)}"
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
        elif keys.secret_kms_key_arn.split(":")[4] == config.account:
            problems.append(
                "recovery_account.key_verification.secret_kms_key_arn: the key is in "
                f"the production account {config.account}: the vault trusts nothing of "
                "production's; use a key of the recovery account (or another account "
                "production cannot administer)"
            )
    return problems


def vault_subnet_problems(config: Deployment, vault: RecoveryAccount, region: str) -> list[str]:
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
    for index, cluster in enumerate(config.protected_clusters):
        if region not in (cluster.region, *config.dr_regions):
            problems.append(
                f"recovery_account.region: {region} holds no backup of "
                f"protected_clusters.{index} ({cluster.id}, in {cluster.region}; "
                f"dr_regions: {', '.join(config.dr_regions) or 'none'}): a vault cluster "
                "is restored from a backup in its own region; choose one of those "
                "regions"
            )
    return problems
