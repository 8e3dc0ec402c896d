"""The vault functions' settings from the deployment config."""

from __future__ import annotations

from lambdas.vault.settings import VaultSettings
from stacks.config import DeploymentConfig, RecoveryAccount


def recovery_of(config: DeploymentConfig) -> RecoveryAccount:
    vault = config.recovery_account
    if vault is None:
        raise ValueError("recovery_account is not configured")
    return vault


def vault_region(config: DeploymentConfig) -> str:
    return recovery_of(config).vault_region(config.region)


def vault_settings(config: DeploymentConfig) -> VaultSettings:
    vault = recovery_of(config)
    region = vault_region(config)
    return VaultSettings(
        deployment_name=config.deployment_name,
        region=region,
        cluster_ids=tuple(c.id for c in config.protected_clusters),
        subnet_ids=tuple(vault.subnets.get(region, ())),
        vault_cluster=vault.vault_cluster,
        dr_regions=tuple(vault.dr_regions),
        keep_newest=vault.retention.keep_newest,
        keep_days=vault.retention.keep_days,
        rpo_hours=vault.objective_hours(config.rpo_hours),
        silent_after_hours=vault.silent_after_hours,
        # The restore's waits and deadlines: a vault cluster is a restored cluster.
        poll_seconds=config.restore.poll_seconds,
        cluster_timeout_minutes=config.restore.cluster_timeout_minutes,
        hsm_timeout_minutes=config.restore.hsm_timeout_minutes,
        max_hsm_attempts=config.restore.max_hsm_attempts,
        golden_enabled=vault.retention.golden.enabled,
        golden_period=vault.retention.golden.period,
        golden_keep=vault.retention.golden.keep,
        repeat_alert_minutes=(vault.escalation or config.escalation).repeat_after_minutes,
    )


def refresh_timeout_minutes(config: DeploymentConfig) -> float:
    """Every protected cluster refreshed one after the other, each with its cluster
    wait, every HSM attempt created and discarded, the last removed, and the backup;
    with the vault's key verifier, its capture too (up to three tries of its timeout)."""
    restore = config.restore
    one = restore.cluster_timeout_minutes + restore.hsm_timeout_minutes * (
        2 * restore.max_hsm_attempts + 2
    )
    keys = recovery_of(config).key_verification
    if keys is not None:
        one += 3 * keys.timeout_minutes
    return len(config.protected_clusters) * one + 30


def vault_restore_config(config: DeploymentConfig) -> DeploymentConfig:
    """The config the vault stack's restore is built from: it restores into the vault
    region, on the vault's subnets, finding backups in the vault region and the vault's
    DR regions. Production's trust anchor parameter and key verifier live in the
    production account, out of this account's reach: neither is used here."""
    vault = recovery_of(config)
    restore = config.restore.model_copy(
        update={
            "subnets": {region: list(ids) for region, ids in vault.subnets.items()},
            "trust_anchor_parameter": None,
            "trust_anchor_kms_key_arn": None,
        }
    )
    return config.model_copy(
        update={
            "region": vault_region(config),
            "dr_regions": list(vault.dr_regions),
            "restore": restore,
            "key_verification": None,
        }
    )


def vault_drill_config(config: DeploymentConfig) -> DeploymentConfig:
    """The config the vault stack's DR drill is built from: it drills in the vault region
    only, on the vault's subnets, on `recovery_account.drill_schedule`, and deletes the
    backup CloudHSM makes of its drill cluster (tagged `hsmdr:drill`, never counted as a
    vault backup): no copy job runs in the recovery account to delete it, and it would
    keep production's keys there with no expiry. Production's key verifier is out of
    this account's reach: the vault's own, if any, is handed to the drill by the stack."""
    vault = recovery_of(config)
    region = vault_region(config)
    drills = config.drills.model_copy(
        update={
            "subnets": {region: list(vault.subnets.get(region, ()))},
            "schedule": vault.drill_schedule,
            "delete_drill_backups": True,
            "verifier_cidrs": [],  # the vault's verifier, if any, is in the vault region
        }
    )
    return config.model_copy(
        update={
            "region": region,
            "dr_regions": [],
            "drills": drills,
            "key_verification": None,
        }
    )
