"""The main stack: it only composes one construct per concern."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack, Tags
from constructs import Construct

from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.backups.backup_copies import BackupCopies
from stacks.constructs.backups.backup_sharing import BackupSharing
from stacks.constructs.backups.on_demand_backup import OnDemandBackup
from stacks.constructs.drill.dr_drill import DrDrill
from stacks.constructs.replacement.hsm_health import HsmHealthCheck
from stacks.constructs.replacement.hsm_replacement import HsmReplacementWorkflow
from stacks.constructs.restore.restore_cluster import RestoreCluster
from stacks.constructs.shared.cluster_locks import ClusterLocks
from stacks.constructs.shared.operator_policy import OperatorPolicy
from stacks.constructs.shared.reports_bucket import ReportsBucket
from stacks.constructs.shared.stored_config import StoredConfig
from stacks.constructs.verification.backup_verification import BackupVerification
from stacks.monitoring import Monitoring


class CloudHsmDrStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("managed-by", "cloudhsm-dr")
        Tags.of(self).add("hsmdr:deployment", config.deployment_name)
        self.stored_config = StoredConfig(self, "StoredConfig", config=config)
        self.alerting = Alerting(self, "Alerting", config=config)
        self.backup_verification = BackupVerification(
            self, "BackupVerification", config=config, alerting=self.alerting
        )
        self.backup_copies = BackupCopies(
            self, "BackupCopies", config=config, alerting=self.alerting
        )
        if config.recovery_account is not None:  # the vault: shares backups with it
            self.backup_sharing = BackupSharing(
                self, "BackupSharing", config=config, alerting=self.alerting
            )
        self.locks = ClusterLocks(self, "ClusterLocks", deployment_name=config.deployment_name)
        # The drill's, the restore's and the replacement's reports; the logical ids the
        # bucket had in the drill construct, so deployed stacks keep it.
        self.reports = ReportsBucket(
            self,
            "Reports",
            deployment_name=config.deployment_name,
            keep_logical_ids_of="DrDrill",
        )
        self.on_demand_backup = OnDemandBackup(
            self, "OnDemandBackup", config=config, alerting=self.alerting, locks=self.locks
        )
        self.hsm_replacement = HsmReplacementWorkflow(
            self,
            "HsmReplacement",
            config=config,
            alerting=self.alerting,
            locks=self.locks,
            reports=self.reports,
        )
        self.hsm_health = HsmHealthCheck(
            self,
            "HsmHealth",
            config=config,
            alerting=self.alerting,
            locks=self.locks,
            replace_hsm=self.hsm_replacement.state_machine,
        )
        if config.key_verification is not None:  # only where the config asks for it
            from stacks.constructs.keycheck.key_verification import KeyVerificationConstruct

            self.key_verification = KeyVerificationConstruct(
                self, "KeyVerification", config=config, alerting=self.alerting
            )
        kv = getattr(self, "key_verification", None)
        self.restore_cluster = RestoreCluster(
            self,
            "RestoreCluster",
            config=config,
            alerting=self.alerting,
            verify_keys=kv.verify.function if kv else None,
            verifier_group=kv.security_group if kv else None,
            reports=self.reports,
        )
        self.dr_drill = DrDrill(
            self,
            "DrDrill",
            config=config,
            alerting=self.alerting,
            verify_keys=kv.verify.function if kv else None,
            verifier_group=kv.security_group if kv else None,
            reports=self.reports,
        )
        self.operator_policy = OperatorPolicy(
            self,
            "Operator",
            config=config,
            alert_topics=[
                self.alerting.topic,
                self.alerting.notify_topic,
                self.alerting.escalation_topic,
            ],
            alert_key=self.alerting.key,
            reports=self.reports,
        )
        # LAST: it alarms on every function and state machine added above.
        self.monitoring = Monitoring(self, "Monitoring", config=config, alerting=self.alerting)
