"""The vault refresh (vault stack, recovery account): a state machine on
`recovery_account.refresh_schedule` over one step function (lambdas/vault/, workflow.py).

IAM, as narrow as CloudHSM allows, in the vault region (and the vault's DR regions for
copies):
- CreateCluster only from backups of the production account (the shared ones) and only
  with the vault cluster's request tags (managed-by, this deployment, hsmdr:vault) and
  tag keys; its TagList is authorized as TagResource on the new cluster, with the same
  conditions.
- CreateHsm and DeleteCluster only on clusters tagged as this deployment's vault
  clusters. DeleteHsm takes no resource type nor condition key: `*` in the vault region;
  the code re-reads the cluster's tags (this execution's refresh id) and deletes only the
  HSM it recorded creating.
- Tagging backups only with the vault's keys and values (the vault backup, the copies'
  TagList); DeleteBackup only on backups tagged as this deployment's vault backups, tags
  re-read by the code before each delete. A tag condition cannot stop this role from
  tagging another backup of the recovery account as the vault's; the code tags only the
  newest backup of the vault cluster it created.
- The EC2 actions CloudHSM performs for the cluster and its HSM only through CloudHSM.
- With the vault's key verifier (`recovery_account.key_verification`): the refresh lets
  the verifier in to a vault cluster's security group for the capture and revokes after.
  It may tag a security group of the vault region with the refresh key only, change
  ingress only on groups so tagged, and egress only on the verifier's group. A tag this
  role sets itself is no proof: the code takes the group from the vault cluster whose
  tags (re-read from CloudHSM) say it is this refresh's, and the rules reference the
  verifier's group on the HSM ports only.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from constructs import Construct

from lambdas.shared import runbooks
from lambdas.shared.copies import DEPLOYMENT_KEY, GOLDEN_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE
from lambdas.shared.vault_tags import VAULT_KEY
from lambdas.vault.plan import BACKUP_TAG_KEYS, CLUSTER_TAG_KEYS, REFRESH_KEY
from lambdas.vault.settings import VAULT_VERIFIER_SECURITY_GROUP
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import ALARM_PERIOD, Alerting
from stacks.constructs.alerting.scheduled_job import schedule_expression
from stacks.constructs.alerting.state_machine import ObservedStateMachine
from stacks.constructs.alerting.stopped_executions import stopped_rule
from stacks.constructs.shared.hsm_permissions import (
    CREATE_HSM_EC2_ACTIONS,
    DELETE_CLUSTER_EC2_ACTIONS,
    delete_hsm_statement,
    ec2_dependent_statement,
)
from stacks.constructs.shared.python_function import PythonFunction
from stacks.constructs.vault import workflow
from stacks.constructs.vault.settings import (
    recovery_of,
    refresh_timeout_minutes,
    vault_region,
    vault_settings,
)
from stacks.nag import acknowledge, rendered
from stacks.names import VAULT_REFRESH, vault_refresh_state_machine_name

READ_ACTIONS = ["cloudhsm:DescribeBackups", "cloudhsm:DescribeClusters"]


class VaultRefresh(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
        capture: lambda_.IFunction | None = None,
        verifier_group: ec2.ISecurityGroup | None = None,
    ) -> None:
        """`capture`, `verifier_group`: the vault key verifier's capture function and
        security group (stacks/constructs/keycheck/vault_verifier.py); both or neither."""
        super().__init__(scope, construct_id)
        if (capture is None) != (verifier_group is None):
            raise ValueError("capture and verifier_group go together")
        settings = vault_settings(config)
        verifier_env = (
            {VAULT_VERIFIER_SECURITY_GROUP: verifier_group.security_group_id}
            if verifier_group is not None
            else {}
        )
        self.lambda_ = PythonFunction(
            self,
            "Steps",
            config=config,
            service_name=VAULT_REFRESH,
            handler="lambdas.vault.handler.handler",
            description="Steps of the recovery-account vault refresh state machine",
            environment={**settings.to_env(), **verifier_env},
            timeout=Duration.minutes(5),
        )
        function = self.lambda_.function
        for statement in refresh_statements(self, config):
            function.add_to_role_policy(statement)
        if verifier_group is not None:
            for statement in capture_network_statements(self, config, verifier_group):
                function.add_to_role_policy(statement)
        self._acknowledge(config, keys=verifier_group is not None)
        name = vault_refresh_state_machine_name(config.deployment_name)
        self.workflow = ObservedStateMachine(
            self,
            "Workflow",
            config=config,
            name=name,
            definition=workflow.build(
                self, function=function, topic=alerting.topic, capture=capture
            ),
            timeout=Duration.minutes(refresh_timeout_minutes(config)),
            comment="Vault refresh: restore each newly shared backup into a vault cluster, "
            "add and remove one HSM to make a backup this account owns",
            alerting=alerting,
            invokes=[function, *([capture] if capture else [])],
            when_stopped=(
                "A vault refresh timed out or was aborted: its stopped rule runs the clean-up; if "
                "that failed too, a "
                "vault cluster may hold an HSM (billed by the hour). Look for clusters "
                f"tagged {VAULT_KEY} with aws cloudhsmv2 describe-clusters in the recovery "
                "account and delete their HSMs."
            ),
            runbook=runbooks.VAULT,
        )
        self.state_machine = self.workflow.state_machine
        self.failed_alarm = alerting.page_on(
            cloudwatch.Alarm(
                self,
                "ExecutionsFailedAlarm",
                alarm_description=(
                    "A vault refresh failed: the vault did not get the newest shared backup. "
                    f"Open the failed execution of {name} in the Step Functions console. "
                    f"Runbook: {runbooks.VAULT}"
                ),
                metric=self.state_machine.metric_failed(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )
        self.schedule = self._schedule(config, alerting)
        # A TIMED_OUT or ABORTED refresh ran no Catch: its clean-up runs from this rule.
        self.stopped_rule = stopped_rule(
            self,
            state_machine=self.state_machine,
            state_machine_name=name,
            function=function,
            description="Vault refresh executions that timed out or were aborted",
            alerting=alerting,
            runbook=runbooks.VAULT,
        )

    def _schedule(self, config: DeploymentConfig, alerting: Alerting) -> scheduler.Schedule:
        dead_letters = alerting.dead_letter_queue(self, "ScheduleDeadLetters")
        role = iam.Role(
            self, "ScheduleRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com")
        )
        alerting.grant_dead_letters_key(role)
        schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=f"{config.deployment_name}: refresh the recovery-account vault",
            schedule=schedule_expression(
                recovery_of(config).refresh_schedule, config.schedules.timezone
            ),
            target=scheduler_targets.StepFunctionsStartExecution(
                self.state_machine,
                input=scheduler.ScheduleTargetInput.from_object({"trigger": "schedule"}),
                dead_letter_queue=dead_letters,
                role=role,
                retry_attempts=2,
                max_event_age=Duration.hours(1),
            ),
        )
        alerting.page_on_dead_letters(
            self,
            "ScheduleDeadLettersAlarm",
            dead_letters,
            "EventBridge Scheduler could not start the vault refresh (the failed events are "
            "in its dead-letter queue). Start an execution of "
            f"{vault_refresh_state_machine_name(config.deployment_name)} by hand. Runbook: "
            f"{runbooks.VAULT}",
        )
        return schedule

    def _acknowledge(self, config: DeploymentConfig, *, keys: bool) -> None:
        role = self.lambda_.role
        if keys:
            acknowledge(
                role,
                "AwsSolutions::AwsSolutions-IAM5[Resource::"
                f"{rendered(self, _security_groups(self, vault_region(config)))}]",
                "A vault cluster's security group is made by CloudHSM at run time: the role "
                f"may tag a group with {REFRESH_KEY} only, and change ingress only on groups "
                "so tagged, in the vault region.",
            )
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeClusters/DescribeBackups, DeleteHsm (no resource type in IAM; "
            "limited to the vault region, the code deletes only the HSM its execution "
            "created) and X-Ray trace writes support no resource-level permissions; the "
            "EC2 actions CloudHSM performs act on resources made at run time, only through "
            "CloudHSM in the vault region.",
        )
        for arn, reason in resource_patterns(self, config):
            acknowledge(
                role, f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered(self, arn)}]", reason
            )


def _arn(scope: Construct, region: str, kind: str, account: str | None = None) -> str:
    return Stack.of(scope).format_arn(
        service="cloudhsm", region=region, account=account, resource=kind, resource_name="*"
    )


def resource_patterns(scope: Construct, config: DeploymentConfig) -> list[tuple[str, str]]:
    vault = recovery_of(config)
    region = vault_region(config)
    found = [
        (
            _arn(scope, region, "cluster"),
            "Vault cluster ids are made by CloudHSM at run time; CreateHsm and DeleteCluster "
            "are limited by condition to clusters tagged as this deployment's vault.",
        ),
        (
            _arn(scope, region, "backup", config.account),
            "Shared backup ids are production's, made at run time; CreateCluster is limited "
            "by condition to the vault cluster's request tags.",
        ),
    ]
    found += [
        (
            _arn(scope, r, "backup"),
            "Vault backup ids are made by CloudHSM at run time; tagging is limited to the "
            "vault's keys and values, DeleteBackup to backups tagged as the vault's.",
        )
        for r in sorted({region, *vault.dr_regions})
    ]
    return found


def refresh_statements(scope: Construct, config: DeploymentConfig) -> list[iam.PolicyStatement]:
    vault = recovery_of(config)
    region = vault_region(config)
    deployment = config.deployment_name
    clusters = _arn(scope, region, "cluster")
    shared = _arn(scope, region, "backup", config.account)
    owned = [_arn(scope, r, "backup") for r in sorted({region, *vault.dr_regions})]
    vault_request = {
        f"aws:RequestTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
        f"aws:RequestTag/{DEPLOYMENT_KEY}": deployment,
        f"aws:RequestTag/{VAULT_KEY}": deployment,
    }
    vault_resource = {
        f"aws:ResourceTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
        f"aws:ResourceTag/{VAULT_KEY}": deployment,
    }
    create_conditions = {
        "StringEquals": vault_request,
        "ForAllValues:StringEquals": {"aws:TagKeys": list(CLUSTER_TAG_KEYS)},
    }
    backup_conditions = {
        "StringEquals": vault_request,
        "ForAllValues:StringEquals": {"aws:TagKeys": list(BACKUP_TAG_KEYS)},
    }
    statements = [
        iam.PolicyStatement(actions=READ_ACTIONS, resources=["*"]),
        iam.PolicyStatement(actions=["cloudhsm:ListTags"], resources=[clusters, *owned]),
        iam.PolicyStatement(
            sid="CreateVaultClusterFromShared",
            actions=["cloudhsm:CreateCluster"],
            resources=[shared],
            conditions=create_conditions,
        ),
        iam.PolicyStatement(
            sid="TagVaultClusterAtCreation",
            actions=["cloudhsm:TagResource"],
            resources=[clusters],
            conditions=create_conditions,
        ),
        iam.PolicyStatement(
            sid="HsmOnlyInVaultClusters",
            actions=["cloudhsm:CreateHsm"],
            resources=[clusters],
            conditions={"StringEquals": vault_resource},
        ),
        delete_hsm_statement([region]),
        iam.PolicyStatement(
            sid="TagVaultBackups",
            actions=["cloudhsm:TagResource"],
            resources=owned,
            conditions=backup_conditions,
        ),
        iam.PolicyStatement(
            sid="CopyVaultBackups",
            actions=["cloudhsm:CopyBackupToRegion"],
            resources=[_arn(scope, region, "backup")],
            conditions=backup_conditions,
        ),
        iam.PolicyStatement(
            sid="DeleteOnlyVaultBackups",
            actions=["cloudhsm:DeleteBackup"],
            resources=owned,
            conditions={"StringEquals": vault_resource},
        ),
        ec2_dependent_statement(
            sorted({*CREATE_HSM_EC2_ACTIONS, *DELETE_CLUSTER_EC2_ACTIONS}), [region]
        ),
        iam.PolicyStatement(
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                Stack.of(scope).format_arn(
                    service="iam",
                    region="",
                    resource="role",
                    resource_name="aws-service-role/cloudhsm.amazonaws.com/AWSServiceRoleForCloudHSM",
                )
            ],
            conditions={"StringEquals": {"iam:AWSServiceName": "cloudhsm.amazonaws.com"}},
        ),
    ]
    if vault.retention.golden.enabled:
        statements += [
            iam.PolicyStatement(
                sid="GoldenVaultBackups",
                actions=["cloudhsm:ModifyBackupAttributes"],
                resources=[_arn(scope, region, "backup")],
                conditions={"StringEquals": vault_resource},
            ),
            iam.PolicyStatement(
                sid="MarkGoldenVaultBackups",
                actions=["cloudhsm:TagResource", "cloudhsm:UntagResource"],
                resources=[_arn(scope, region, "backup")],
                conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [GOLDEN_KEY]}},
            ),
        ]
    if vault.vault_cluster == "delete":
        statements.append(
            iam.PolicyStatement(
                sid="DeleteOnlyVaultClusters",
                actions=["cloudhsm:DeleteCluster"],
                resources=[clusters],
                conditions={"StringEquals": vault_resource},
            )
        )
    return statements


def _security_groups(scope: Construct, region: str) -> str:
    return Stack.of(scope).format_arn(
        service="ec2", region=region, resource="security-group", resource_name="*"
    )


def capture_network_statements(
    scope: Construct, config: DeploymentConfig, verifier_group: ec2.ISecurityGroup
) -> list[iam.PolicyStatement]:
    """Let the vault key verifier reach a vault cluster's HSM for the capture, and take
    the rules out again (module docstring)."""
    groups = _security_groups(scope, vault_region(config))
    return [
        iam.PolicyStatement(
            sid="TagVaultClusterSecurityGroup",
            actions=["ec2:CreateTags"],
            resources=[groups],
            conditions={
                "StringLike": {f"aws:RequestTag/{REFRESH_KEY}": "*"},
                "ForAllValues:StringEquals": {"aws:TagKeys": [REFRESH_KEY]},
            },
        ),
        iam.PolicyStatement(
            sid="IngressOnlyToVaultClusterGroups",
            actions=["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            resources=[groups],
            conditions={"StringLike": {f"ec2:ResourceTag/{REFRESH_KEY}": "*"}},
        ),
        iam.PolicyStatement(
            sid="EgressOnlyFromTheVaultVerifier",
            actions=["ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress"],
            resources=[
                Stack.of(scope).format_arn(
                    service="ec2",
                    region=vault_region(config),
                    resource="security-group",
                    resource_name=verifier_group.security_group_id,
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
        ),
    ]
