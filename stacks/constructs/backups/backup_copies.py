"""The copy job: copies to the DR regions, pruning, golden backups, retention policy.

Its role is the only one in the project that can delete a backup, so its permissions
are drawn as tight as CloudHSM's authorization model allows:

- cloudhsm:DeleteBackup only on backup ARNs in the DR regions, and only when the
  backup carries the tag managed-by=cloudhsm-dr (aws:ResourceTag) that every copy
  gets at creation. The code checks the same tags again right before each delete.
- cloudhsm:ModifyCluster only on the protected clusters' ARNs.
- cloudhsm:CopyBackupToRegion only on backups in the protected clusters' regions.
- Tags that make a copy deletable (managed-by=cloudhsm-dr and the copy's other keys) are
  set only in the TagList of CopyBackupToRegion, which is authorized as TagResource and
  UntagResource too (Service Authorization Reference). CloudHSM has no condition key
  that tells that from a later TagResource, and the copy has no id yet when the call is
  authorized (the API does not even return one), so the grant names backup/* of the
  regions involved (whether CloudHSM checks the source backup or the destination region
  is UNCONFIRMED; the sandbox checks `backup/*` of the destination), and an explicit
  Deny refuses those tags on every existing backup of the DR regions
  (`backup/backup-*`), the only backups DeleteBackup reaches: the role cannot tag a
  foreign copy as its own and then delete it. (A DR region that is also a protected
  cluster's region gets no such Deny, which would refuse copies from there.)
- Tagging existing backups: only the hsmdr:golden key (golden marking and unmarking),
  which no Allow statement conditions on.
- DescribeBackups and DescribeClusters support no resource-level permissions.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambdas.shared import runbooks
from lambdas.shared.copies import (
    DEPLOYMENT_KEY,
    GOLDEN_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    TAG_KEYS,
)
from lambdas.shared.trust_anchor import trust_anchor_copy_name
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.scheduled_job import ScheduledJob
from stacks.constructs.shared.hsm_permissions import (
    backup_arns,
    cluster_arn,
    ec2_dependent_statement,
)
from stacks.constructs.shared.python_function import PythonFunction
from stacks.constructs.shared.tables import parameter_arn, trust_anchor_read_statements
from stacks.nag import acknowledge, rendered
from stacks.names import COPY_BACKUPS

READ_ACTIONS = ["cloudhsm:DescribeClusters", "cloudhsm:DescribeBackups"]
BACKUP_ATTRIBUTE_ACTIONS = ["cloudhsm:ListTags", "cloudhsm:ModifyBackupAttributes"]
TAG_ACTIONS = ["cloudhsm:TagResource", "cloudhsm:UntagResource"]
COPY_TAG_KEYS = [k for k in TAG_KEYS if k != GOLDEN_KEY]  # set at CopyBackupToRegion


class BackupCopies(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = alerting.alert_settings(config)
        self.lambda_ = PythonFunction(
            self,
            "CopyBackups",
            config=config,
            service_name=COPY_BACKUPS,
            handler="lambdas.backups.copy_handler.handler",
            description="Copies CloudHSM backups to the DR regions and prunes old copies",
            environment={**settings.to_env(), **config.backup_settings().to_env()},
            timeout=Duration.minutes(10),
        )
        function = self.lambda_.function
        for statement in copy_job_statements(self, config):
            function.add_to_role_policy(statement)
        alerting.grant_alerts(function)
        self._acknowledge(config)
        self.job = ScheduledJob(
            self,
            "Job",
            function=function,
            expression=config.schedules.copy_backups,
            timezone=config.schedules.timezone,
            description=f"{config.deployment_name}: copy CloudHSM backups to the DR regions",
            alerting=alerting,
            what_fails=(
                "The backup copy function failed (crashed or timed out), so no backup is "
                "being copied to the DR regions or pruned there"
            ),
            next_step=(
                f"Open its log group {self.lambda_.log_group.log_group_name} and run the "
                "job by hand: hsmdr backup copy --config <deployment config>"
            ),
            runbook=runbooks.COPY_FAILURE,
        )

    def _acknowledge(self, config: DeploymentConfig) -> None:
        role = self.lambda_.role
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeClusters/DescribeBackups and X-Ray trace writes support no "
            "resource-level permissions; every other statement names its resource.",
        )
        for region in backup_regions(config):
            every_backup = rendered(self, backup_arns(self, region))
            acknowledge(
                role,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{every_backup}]",
                "Backup ids are made by CloudHSM at run time (daily backups, copies), so "
                "the statement names every backup of one region; deletion is further "
                "limited to backups tagged managed-by=cloudhsm-dr and tagging to this "
                "project's tag keys.",
            )


def backup_regions(config: DeploymentConfig) -> list[str]:
    """Regions holding backups the job touches: the clusters' and the DR regions."""
    return sorted({*(c.region for c in config.protected_clusters), *config.dr_regions})


def existing_backup_arns(scope: Construct, region: str) -> str:
    """Every backup that exists (an id), not a copy being created (no id yet)."""
    return Stack.of(scope).format_arn(
        service="cloudhsm", region=region, resource="backup", resource_name="backup-*"
    )


def copy_job_statements(scope: Construct, config: DeploymentConfig) -> list[iam.PolicyStatement]:
    cluster_regions = sorted({c.region for c in config.protected_clusters})
    all_regions = backup_regions(config)
    statements = [
        iam.PolicyStatement(actions=READ_ACTIONS, resources=["*"]),
        iam.PolicyStatement(
            actions=["cloudhsm:CopyBackupToRegion"],
            resources=[backup_arns(scope, r) for r in cluster_regions],
        ),
        iam.PolicyStatement(
            actions=BACKUP_ATTRIBUTE_ACTIONS,
            resources=[backup_arns(scope, r) for r in all_regions],
        ),
        # The copy's TagList, in the request that creates it (see the module docstring).
        iam.PolicyStatement(
            sid="TagCopiesAtCreation",
            actions=["cloudhsm:TagResource"],
            resources=[backup_arns(scope, r) for r in all_regions],
            conditions={
                "StringEquals": {
                    f"aws:RequestTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
                    f"aws:RequestTag/{DEPLOYMENT_KEY}": config.deployment_name,
                },
                "ForAllValues:StringEquals": {"aws:TagKeys": COPY_TAG_KEYS},
            },
        ),
        # UntagResource has no aws:RequestTag; removing a tag makes nothing deletable.
        iam.PolicyStatement(
            sid="UntagCopiesAtCreation",
            actions=["cloudhsm:UntagResource"],
            resources=[backup_arns(scope, r) for r in all_regions],
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": COPY_TAG_KEYS}},
        ),
        iam.PolicyStatement(
            sid="MarkGoldenBackups",
            actions=TAG_ACTIONS,
            resources=[backup_arns(scope, r) for r in all_regions],
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [GOLDEN_KEY]}},
        ),
        iam.PolicyStatement(
            actions=["cloudhsm:ModifyCluster"],
            resources=[cluster_arn(scope, c.region, c.id) for c in config.protected_clusters],
        ),
        # ModifyCluster's dependent action (Service Authorization Reference): CloudHSM
        # reads the cluster's subnets as the caller.
        ec2_dependent_statement(["ec2:DescribeSubnets"], cluster_regions),
    ]
    statements += trust_anchor_statements(scope, config)
    copy_only_regions = sorted(set(config.dr_regions) - set(cluster_regions))
    if copy_only_regions:
        statements.append(
            iam.PolicyStatement(
                sid="NeverTagExistingBackupsAsCopies",
                effect=iam.Effect.DENY,
                actions=["cloudhsm:TagResource"],
                resources=[existing_backup_arns(scope, r) for r in copy_only_regions],
                conditions={"Null": {f"aws:RequestTag/{MANAGED_BY_KEY}": "false"}},
            )
        )
    if config.dr_regions:
        statements.append(
            iam.PolicyStatement(
                actions=["cloudhsm:DeleteBackup"],
                resources=[backup_arns(scope, r) for r in sorted(config.dr_regions)],
                conditions={
                    "StringEquals": {f"aws:ResourceTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE}
                },
            )
        )
    return statements


def trust_anchor_statements(
    scope: Construct, config: DeploymentConfig
) -> list[iam.PolicyStatement]:
    """Read customerCA.crt in the primary region; write its one copy in each DR region."""
    anchor = config.restore.trust_anchor_parameter
    if not anchor or not config.dr_regions:
        return []
    return [
        *trust_anchor_read_statements(scope, config),
        iam.PolicyStatement(
            actions=["ssm:GetParameter", "ssm:PutParameter"],
            resources=[
                parameter_arn(scope, region, trust_anchor_copy_name(config.deployment_name))
                for region in sorted(config.dr_regions)
            ],
        ),
    ]
