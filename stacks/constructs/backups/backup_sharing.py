"""The sharing job (main stack, only with `recovery_account`): shares each protected
cluster's newest READY backup, and the newest READY copy in each DR region, with the
recovery account, and unshares the ones it shared before (lambdas/backups/share_job.py,
docs/runbooks/vault.md).

IAM, as narrow as CloudHSM allows:
- Get/Put/DeleteResourcePolicy only on backups of this account, in the regions that hold
  the clusters' backups and copies (backup ids are made at run time). The code reads the
  policy back before replacing or removing it and touches only the one it writes.
- TagResource only to set `hsmdr:shared-with` to the recovery account, UntagResource
  only of that key: the role can mark nothing else, and the mark decides nothing alone.
- RAM: finding the share a policy created (reads that take no resource type) and
  PromoteResourceShareCreatedFromPolicy on this account's shares in those regions, which
  makes the shared backup visible to the recovery account.
- DescribeBackups supports no resource-level permissions.
It grants the recovery account nothing but what the policy on each shared backup says
(describe it, create a cluster from it).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambdas.backups.share import SHARED_WITH_KEY
from lambdas.backups.share_settings import ShareSettings
from lambdas.shared import runbooks
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.scheduled_job import ScheduledJob
from stacks.constructs.shared.hsm_permissions import backup_arns
from stacks.constructs.shared.python_function import PythonFunction
from stacks.nag import acknowledge, rendered
from stacks.names import SHARE_BACKUPS

POLICY_ACTIONS = [
    "cloudhsm:DeleteResourcePolicy",
    "cloudhsm:GetResourcePolicy",
    "cloudhsm:PutResourcePolicy",
]


RAM_READ_ACTIONS = ["ram:GetResourceShareAssociations", "ram:GetResourceShares"]


def resource_shares(scope: Construct, region: str) -> str:
    return Stack.of(scope).format_arn(
        service="ram", region=region, resource="resource-share", resource_name="*"
    )


def share_settings(config: DeploymentConfig) -> ShareSettings:
    vault = config.recovery_account
    if vault is None:
        raise ValueError("recovery_account is not configured")
    return ShareSettings(
        deployment_name=config.deployment_name,
        recovery_account=vault.account,
        clusters=tuple((c.id, c.region) for c in config.protected_clusters),
        dr_regions=tuple(config.dr_regions),
    )


def sharing_regions(config: DeploymentConfig) -> list[str]:
    return share_settings(config).regions()


class BackupSharing(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = share_settings(config)
        self.lambda_ = PythonFunction(
            self,
            "ShareBackups",
            config=config,
            service_name=SHARE_BACKUPS,
            handler="lambdas.backups.share_handler.handler",
            description="Shares the newest CloudHSM backups with the recovery account (vault)",
            environment=settings.to_env(),
            timeout=Duration.minutes(5),
        )
        function = self.lambda_.function
        for statement in sharing_statements(self, config):
            function.add_to_role_policy(statement)
        role = self.lambda_.role
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeBackups, ram:GetResourceShares/GetResourceShareAssociations "
            "and X-Ray trace writes support no resource-level permissions; every other "
            "statement names its resources.",
        )
        for region in settings.regions():
            acknowledge(
                role,
                "AwsSolutions::AwsSolutions-IAM5[Resource::"
                f"{rendered(self, resource_shares(self, region))}]",
                "The RAM share a backup policy creates gets its id at run time; only "
                "PromoteResourceShareCreatedFromPolicy is allowed on this account's shares.",
            )
        for region in settings.regions():
            every_backup = rendered(self, backup_arns(self, region))
            acknowledge(
                role,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{every_backup}]",
                "Backup ids are made by CloudHSM at run time (daily backups, copies): the "
                "statement names every backup of this account in one region; tagging is "
                f"limited to the {SHARED_WITH_KEY} key, and the code reads each policy "
                "back before replacing or removing it.",
            )
        self.job = ScheduledJob(
            self,
            "Job",
            function=function,
            expression=config.schedules.copy_backups,
            timezone=config.schedules.timezone,
            description=(
                f"{config.deployment_name}: share the newest CloudHSM backups with the "
                "recovery account"
            ),
            alerting=alerting,
            what_fails=(
                "The backup sharing function failed (crashed, timed out, or found a backup "
                "policy it did not write), so the recovery account's vault may not receive "
                "the newest backups"
            ),
            next_step=(
                f"Open its log group {self.lambda_.log_group.log_group_name}; the run's "
                "errors and refusals are in its last WARNING line"
            ),
            runbook=runbooks.VAULT,
        )


def sharing_statements(scope: Construct, config: DeploymentConfig) -> list[iam.PolicyStatement]:
    vault = config.recovery_account
    if vault is None:
        raise ValueError("recovery_account is not configured")
    backups = [backup_arns(scope, r) for r in sharing_regions(config)]
    return [
        iam.PolicyStatement(actions=["cloudhsm:DescribeBackups"], resources=["*"]),
        iam.PolicyStatement(actions=POLICY_ACTIONS, resources=backups),
        # Finding the RAM share a policy created: these RAM reads take no resource type.
        iam.PolicyStatement(actions=RAM_READ_ACTIONS, resources=["*"]),
        iam.PolicyStatement(
            actions=["ram:PromoteResourceShareCreatedFromPolicy"],
            resources=[resource_shares(scope, r) for r in sharing_regions(config)],
        ),
        iam.PolicyStatement(
            sid="MarkSharedBackups",
            actions=["cloudhsm:TagResource"],
            resources=backups,
            conditions={
                "StringEquals": {f"aws:RequestTag/{SHARED_WITH_KEY}": vault.account},
                "ForAllValues:StringEquals": {"aws:TagKeys": [SHARED_WITH_KEY]},
            },
        ),
        iam.PolicyStatement(
            sid="UnmarkSharedBackups",
            actions=["cloudhsm:UntagResource"],
            resources=backups,
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [SHARED_WITH_KEY]}},
        ),
    ]
