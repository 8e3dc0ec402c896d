"""The stack of one DR region: what must keep working there when the primary region
(where the main stack, the copy job and the hourly verification run) is down.

The copies are all a regional disaster leaves to restore from, so this region needs,
on its own:

- an alert topic of its own (KMS-encrypted, TLS-only, the same subscriptions): the
  main stack's topic lives in the primary region and goes down with it;
- a copy monitor on the verification schedule that checks, from this region, that a
  fresh READY copy of every protected cluster is here (COPY_MISSING, COPY_STUCK,
  COPY_FAILED, the NewestCopyAgeSeconds metric) and reports which copy a restore
  would start from. While both regions are up it repeats what the verification
  reports about this region; when the primary is gone, it is the one that speaks.

What is deliberately not here: the copy job (copying is driven from the source
region, and CopyBackupToRegion is called there) and any permission to change or
delete backups. The restore state machine is here too (`RestoreCluster`, restoring
into this region only, from the copies): when the primary region is down, this is
where the cluster comes back, and where its report is written (this region's own
reports bucket, KMS-encrypted, versioned, TLS-only, with access logs). With
`key_verification.regions.<this region>`, a verify-keys function of its own
(stacks/constructs/keycheck/regional_verifier.py) checks a restored cluster's keys, as
the main stack's restore does; without it, the report says how to enable the check.

It also holds the deployment's validated config (`StoredConfig`), so that `hsmdr
--deployment NAME` reads it here when the primary region is down.

With a protected cluster whose `dr_posture` here is `pilot-light` or `warm-standby`, a
standby refresher on the verification schedule keeps one standby cluster per such
cluster (no HSM; warm: one ACTIVE HSM), restored from the newest READY copy here
(stacks/constructs/standby/). With a verifier here too, the warm standbys' keys are
checked on `key_verification.capture_schedule` (stacks/constructs/standby/
standby_key_check.py); without one they are not, and docs/runbooks/standby.md says so.

The stack shares nothing with the main stack (no cross-region references), so it
deploys and runs whatever state the primary region is in.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack, Tags
from constructs import Construct

from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.backups.copy_monitor import CopyMonitor
from stacks.constructs.keycheck.regional_verifier import RegionalKeyVerifier
from stacks.constructs.restore.restore_cluster import RestoreCluster, keys_absent
from stacks.constructs.shared.reports_bucket import ReportsBucket
from stacks.constructs.shared.stored_config import StoredConfig
from stacks.constructs.standby.standby_key_check import StandbyKeyCheck
from stacks.constructs.standby.standby_refresher import StandbyRefresher
from stacks.monitoring import Monitoring


class DrRegionStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        dr_region: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("managed-by", "cloudhsm-dr")
        Tags.of(self).add("hsmdr:deployment", config.deployment_name)
        self.stored_config = StoredConfig(self, "StoredConfig", config=config)
        self.alerting = Alerting(self, "Alerting", config=config)
        self.copy_monitor = CopyMonitor(
            self, "CopyMonitor", config=config, alerting=self.alerting, region=dr_region
        )
        # This region's own reports bucket: the restore writes its report here.
        self.reports = ReportsBucket(self, "Reports", deployment_name=config.deployment_name)
        # Only with key_verification.regions.<this region>: restores here check their keys.
        self.key_verifier = (
            RegionalKeyVerifier(self, "KeyVerifier", config=config, region=dr_region)
            if config.regional_verifier(dr_region) is not None
            else None
        )
        verifier = self.key_verifier
        self.restore_cluster = RestoreCluster(
            self,
            "RestoreCluster",
            config=config,
            alerting=self.alerting,
            region=dr_region,
            reports=self.reports,
            verify_keys=verifier.verify.function if verifier else None,
            verifier_group=verifier.security_group if verifier else None,
            keys_absent=None if verifier else keys_absent(config, dr_region),
        )
        # Only where a protected cluster's dr_posture here keeps a standby.
        self.standby_refresher = (
            StandbyRefresher(
                self, "StandbyRefresher", config=config, alerting=self.alerting, region=dr_region
            )
            if config.standbys(dr_region)
            else None
        )
        # The warm standbys' daily key check: only with a verifier in this region.
        self.standby_key_check = (
            StandbyKeyCheck(
                self,
                "StandbyKeyCheck",
                config=config,
                alerting=self.alerting,
                region=dr_region,
                verify_keys=verifier.verify.function,
                verifier_group=verifier.security_group,
            )
            if verifier is not None and config.warm_standby(dr_region)
            else None
        )
        # LAST: it alarms on every function and state machine added above.
        self.monitoring = Monitoring(
            self, "Monitoring", config=config, alerting=self.alerting, dr_region=dr_region
        )
