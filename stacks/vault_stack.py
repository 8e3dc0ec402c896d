"""The recovery-account vault stack, `<deployment>-vault`: deployed into
`recovery_account.account`, in `recovery_account.region` (docs/runbooks/vault.md).

Production shares its newest backups with this account (stacks/constructs/backups/
backup_sharing.py); this stack pulls them into backups the recovery account owns, which
nobody in production can delete:

- its own alerting (topics, keys, dead letters), subscribed as
  `recovery_account.escalation` says (the deployment's escalation when unset);
- the vault refresh state machine on `recovery_account.refresh_schedule`;
- the vault verification, hourly, paging on this stack's topic;
- the restore state machine (stacks/constructs/restore/), restoring a protected cluster
  into the vault region from the newest READY vault backup of it (the backup's
  `hsmdr:source-cluster` tag names the production cluster), its report in this stack's
  own reports bucket;
- with `recovery_account.key_verification`, the vault's own key verifier
  (stacks/constructs/keycheck/vault_verifier.py): each refresh captures the vault
  cluster's manifest while its HSM is ACTIVE and compares it with the vault's previous
  one (VAULT_KEYS_CHANGED), and the restore checks the restored cluster's keys against
  the vault's manifest. Without it the restore's report says the keys were not checked
  and names that field;
- the DR drill (stacks/constructs/drill/) pointed at the vault, on
  `recovery_account.drill_schedule`: it restores the newest READY vault backup of a
  protected cluster into a drill cluster in the vault region, measures the recovery
  time, tears down (never a vault cluster or backup: code and IAM), reports to this
  stack's reports bucket and pages its topics; its watcher and alarms (overdue drill,
  RTO) page there too. Its key check is the vault's key verifier's when
  `recovery_account.key_verification` deploys one (`key_verifier`); without it the
  report says the keys were not checked and which field turns the check on;
- `<deployment>-vault-operator`, the managed policy an operator's role attaches to follow
  the runbook: read the vault's backups, start and follow its restore and drill, read
  their reports (stacks/constructs/vault/operator_policy.py).

It shares nothing with the production stacks (no cross-account reference): it deploys
and runs whatever state production is in. Nothing is deployed in
`recovery_account.dr_regions`: the refresh copies there from the vault region.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack, Tags
from constructs import Construct

from lambdas.restore.keys import not_run
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.drill.dr_drill import DrDrill
from stacks.constructs.keycheck.vault_verifier import VaultKeyVerifier, vault_key_verification
from stacks.constructs.restore.restore_cluster import RestoreCluster
from stacks.constructs.shared.reports_bucket import ReportsBucket
from stacks.constructs.vault.operator_policy import VaultOperatorPolicy
from stacks.constructs.vault.settings import (
    vault_drill_config,
    vault_region,
    vault_restore_config,
)
from stacks.constructs.vault.vault_refresh import VaultRefresh
from stacks.constructs.vault.vault_verification import VaultVerification
from stacks.monitoring import VaultDrillMonitoring

KEYS_NOT_CHECKED = str(
    not_run(
        "the vault has no key verifier of its own (recovery_account.key_verification is "
        "not set; production's verifier is in the production account, which the vault "
        "does not trust): set recovery_account.key_verification to check restores from "
        "the vault; until then check the restored cluster's keys (cloudhsm-cli key list, "
        "KCVs) against a manifest you hold outside production before clients rely on them"
    )["summary"]
)


class VaultStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("managed-by", "cloudhsm-dr")
        Tags.of(self).add("hsmdr:deployment", config.deployment_name)
        vault_config = config.vault_config()  # its own escalation
        self.alerting = Alerting(self, "Alerting", config=vault_config)
        # The vault's own verifier (None unless recovery_account.key_verification is set).
        self.key_verifier = (
            VaultKeyVerifier(self, "VaultKeyVerifier", config=vault_config)
            if vault_key_verification(config) is not None
            else None
        )
        kv = self.key_verifier
        self.refresh = VaultRefresh(
            self,
            "VaultRefresh",
            config=vault_config,
            alerting=self.alerting,
            capture=kv.capture.function if kv else None,
            verifier_group=kv.security_group if kv else None,
        )
        self.verification = VaultVerification(
            self, "VaultVerification", config=vault_config, alerting=self.alerting
        )
        # Restore from the vault when production is lost (docs/runbooks/vault.md).
        self.reports = ReportsBucket(self, "Reports", deployment_name=config.deployment_name)
        self.restore_cluster = RestoreCluster(
            self,
            "RestoreCluster",
            config=vault_restore_config(vault_config),
            alerting=self.alerting,
            region=vault_region(config),
            reports=self.reports,
            vault_deployment=config.deployment_name,
            verify_keys=kv.verify.function if kv else None,
            verifier_group=kv.security_group if kv else None,
            keys_absent=None if kv else KEYS_NOT_CHECKED,
        )
        # The quarterly drill, from the vault (docs/runbooks/vault.md), with the vault's
        # key verifier when it has one.
        drill_config = vault_drill_config(vault_config)
        self.drill = DrDrill(
            self,
            "DrDrill",
            config=drill_config,
            alerting=self.alerting,
            verify_keys=kv.verify.function if kv else None,
            verifier_group=kv.security_group if kv else None,
            reports=self.reports,
            vault_deployment=config.deployment_name,
        )
        self.drill_monitoring = VaultDrillMonitoring(
            self, "DrillMonitoring", config=drill_config, alerting=self.alerting
        )
        # What an operator's role in the recovery account attaches (docs/runbooks/vault.md).
        self.operator_policy = VaultOperatorPolicy(
            self, "OperatorPolicy", config=config, reports=self.reports
        )
