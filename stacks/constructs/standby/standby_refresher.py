"""The standby refresher of one DR region: keeps one standby cluster per protected
cluster whose `dr_posture` in this region is `pilot-light` (no HSM) or `warm-standby`
(one ACTIVE HSM) (lambdas/standby/refresh.py, docs/runbooks/standby.md).

IAM, the second line of defence behind the code's own checks (the refresher re-reads a
standby's tags before deleting it):
- CreateCluster only with the request tags managed-by, this deployment and
  `hsmdr:standby-of` (any value), and only the standby's tag keys (aws:TagKeys); a
  TagList on CreateCluster is authorized as TagResource too, with the same conditions,
  and the role never gets UntagResource;
- DeleteCluster only on clusters tagged managed-by, this deployment and
  `hsmdr:standby-of`, and without `hsmdr:restore-id` (a standby a restore adopted):
  never a protected cluster, a restored one or a drill's;
- with no warm-standby cluster here, no CreateHsm and no DeleteHsm: a pilot-light
  standby never holds an HSM by this role's doing. With one, CreateHsm only on clusters
  tagged as this deployment's standby and not adopted by a restore, and DeleteHsm,
  which takes no resource type and no condition key, on "*" in this region: the code
  re-reads the standby's tags right before each DeleteHsm and deletes only HSMs of its
  own standbys;
- a warm standby's rotation backup (the backup CloudHSM makes when the refresher removes
  an old standby's HSM): TagResource on backups only with the rotation tag keys and
  this deployment's values, and only on backups that carry no `managed-by` tag yet
  (never a copy, which the copy job tagged); DeleteBackup only on backups tagged as this
  deployment's rotation backups. IAM has no condition key naming a backup's cluster, so
  it cannot keep the role from tagging another untagged backup of the region (a
  restored cluster's, say) into deletability: the code proves ownership before each
  DeleteBackup (the backup's ClusterId is the standby whose HSM it removed, never a
  copy or a protected cluster, created after that removal; lambdas/standby/rotation_backups.py);
- EC2: the dependent actions CloudHSM performs while creating and deleting the
  cluster's security group (and, warm, the HSM's network interface) only through
  CloudHSM (aws:ViaAWSService), in this region;
- SNS and the alert memory: the refresher alerts when it could not keep a standby.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambdas.shared import runbooks
from lambdas.shared.copies import DEPLOYMENT_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE
from lambdas.shared.standby import ADOPTED_BY_KEY, STANDBY_OF_KEY, STANDBY_TAG_KEYS
from lambdas.standby.rotation_backups import ROTATION_OF_KEY, ROTATION_TAG_KEYS
from lambdas.standby.settings import StandbySettings
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.scheduled_job import ScheduledJob
from stacks.constructs.shared.hsm_permissions import (
    CREATE_HSM_EC2_ACTIONS,
    DELETE_CLUSTER_EC2_ACTIONS,
    delete_hsm_statement,
    ec2_dependent_statement,
)
from stacks.constructs.shared.python_function import PythonFunction
from stacks.nag import acknowledge, rendered
from stacks.names import STANDBY_REFRESHER

READ_ACTIONS = ["cloudhsm:DescribeClusters", "cloudhsm:DescribeBackups", "cloudhsm:ListTags"]
# CreateCluster makes the cluster's security group; DeleteCluster deletes it, and
# CloudHSM calls ec2:DeleteNetworkInterface as the caller there too (facts page, IAM):
# without it a pilot-light-only refresher could never retire an old standby.
EC2_DEPENDENT_ACTIONS = sorted(
    {
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:CreateSecurityGroup",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:RevokeSecurityGroupEgress",
        *DELETE_CLUSTER_EC2_ACTIONS,
    }
)


def standby_settings(config: DeploymentConfig, region: str) -> StandbySettings:
    return StandbySettings(
        deployment_name=config.deployment_name,
        region=region,
        cluster_ids=tuple(c.id for c in config.standbys(region)),
        subnet_ids=tuple(config.restore.subnets.get(region, ())),
        clusters_per_region_quota=config.quotas.clusters_per_region,
        warm_cluster_ids=tuple(c.id for c in config.warm_standby(region)),
        hsms_per_region_quota=config.quotas.hsms_per_region,
    )


class StandbyRefresher(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
        region: str,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = standby_settings(config, region)
        self.lambda_ = PythonFunction(
            self,
            "RefreshStandbys",
            config=config,
            service_name=STANDBY_REFRESHER,
            handler="lambdas.standby.handler.handler",
            description=f"Keeps the standby clusters in {region} on the newest copy",
            environment={**settings.to_env(), **alerting.alert_settings(config).to_env()},
            timeout=Duration.minutes(5),
        )
        function = self.lambda_.function
        for statement in standby_statements(self, config, region):
            function.add_to_role_policy(statement)
        alerting.grant_alerts(function)
        acknowledge(
            self.lambda_.role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeClusters, DescribeBackups, ListTags and X-Ray trace writes "
            "support no resource-level permissions; the EC2 actions CloudHSM performs for "
            "CreateCluster/DeleteCluster act on resources made at run time and are allowed "
            "only through CloudHSM in this region.",
        )
        stack = Stack.of(self)
        for resource, reason in (
            (
                stack.format_arn(
                    service="cloudhsm", region=region, resource="cluster", resource_name="*"
                ),
                "A standby's id is made by CloudHSM at run time; DeleteCluster is limited by "
                "condition to clusters tagged as this deployment's standby, tags only this "
                "role's CreateCluster sets.",
            ),
            (
                stack.format_arn(
                    service="cloudhsm", region=region, resource="backup", resource_name="*"
                ),
                "A standby is created from the newest copy, chosen at run time; CreateCluster "
                "is limited by condition to the standby's request tags. Warm standby: the "
                "backup an old standby's HSM removal makes gets its id at run time; "
                "TagResource is limited to untagged backups and the rotation tags, "
                "DeleteBackup to backups tagged as this deployment's rotation backups.",
            ),
        ):
            acknowledge(
                self.lambda_.role,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered(self, resource)}]",
                reason,
            )
        self.job = ScheduledJob(
            self,
            "Job",
            function=function,
            expression=config.schedules.verify_backups,
            timezone=config.schedules.timezone,
            description=f"{config.deployment_name}: refresh the pilot-light standbys in {region}",
            alerting=alerting,
            what_fails=(
                f"The standby refresher in {region} failed (crashed or timed out), so the "
                "pilot-light standby clusters there may be missing or hold an old backup, "
                "and a restore there falls back to a cold restore"
            ),
            next_step=(
                f"Open its log group {self.lambda_.log_group.log_group_name}; list the "
                f"standbys: aws cloudhsmv2 describe-clusters --region {region} and look for "
                f"the tag {STANDBY_OF_KEY}"
            ),
            runbook=runbooks.STANDBY,
        )


def standby_statements(
    scope: Construct, config: DeploymentConfig, region: str
) -> list[iam.PolicyStatement]:
    stack = Stack.of(scope)
    clusters = stack.format_arn(
        service="cloudhsm", region=region, resource="cluster", resource_name="*"
    )
    backups = stack.format_arn(
        service="cloudhsm", region=region, resource="backup", resource_name="*"
    )
    request_tags = {
        f"aws:RequestTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
        f"aws:RequestTag/{DEPLOYMENT_KEY}": config.deployment_name,
    }
    create_conditions = {
        "StringEquals": request_tags,
        "StringLike": {f"aws:RequestTag/{STANDBY_OF_KEY}": "*"},
        "ForAllValues:StringEquals": {"aws:TagKeys": list(STANDBY_TAG_KEYS)},
    }
    statements = [
        iam.PolicyStatement(actions=READ_ACTIONS, resources=["*"]),
        # CreateCluster authorizes against the source backup and the request's tags.
        iam.PolicyStatement(
            sid="CreateStandbyOnlyTagged",
            actions=["cloudhsm:CreateCluster"],
            resources=[backups],
            conditions=create_conditions,
        ),
        # CreateCluster with a TagList also needs TagResource on the new cluster.
        iam.PolicyStatement(
            sid="TagStandbyAtCreation",
            actions=["cloudhsm:TagResource"],
            resources=[clusters],
            conditions=create_conditions,
        ),
        iam.PolicyStatement(
            sid="DeleteOnlyStandbys",
            actions=["cloudhsm:DeleteCluster"],
            resources=[clusters],
            conditions={
                "StringEquals": {
                    f"aws:ResourceTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
                    f"aws:ResourceTag/{DEPLOYMENT_KEY}": config.deployment_name,
                },
                "StringLike": {f"aws:ResourceTag/{STANDBY_OF_KEY}": "*"},
                # never one a restore adopted (it carries the restore's id)
                "Null": {f"aws:ResourceTag/{ADOPTED_BY_KEY}": "true"},
            },
        ),
        ec2_dependent_statement(EC2_DEPENDENT_ACTIONS, [region]),
        iam.PolicyStatement(
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                stack.format_arn(
                    service="iam",
                    region="",
                    resource="role",
                    resource_name="aws-service-role/cloudhsm.amazonaws.com/AWSServiceRoleForCloudHSM",
                )
            ],
            conditions={"StringEquals": {"iam:AWSServiceName": "cloudhsm.amazonaws.com"}},
        ),
    ]
    if config.warm_standby(region):
        statements += warm_statements(config, clusters, region)
        statements += rotation_backup_statements(config, backups)
    return statements


def rotation_backup_statements(config: DeploymentConfig, backups: str) -> list[iam.PolicyStatement]:
    """The backup an old warm standby's HSM removal made: tagged once (never a backup
    the tool already tagged), then deleted only as this deployment's rotation backup."""
    return [
        iam.PolicyStatement(
            sid="TagRotationBackupOnce",
            actions=["cloudhsm:TagResource"],
            resources=[backups],
            conditions={
                "StringEquals": {
                    f"aws:RequestTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
                    f"aws:RequestTag/{DEPLOYMENT_KEY}": config.deployment_name,
                },
                "StringLike": {f"aws:RequestTag/{ROTATION_OF_KEY}": "cluster-*"},
                "ForAllValues:StringEquals": {"aws:TagKeys": list(ROTATION_TAG_KEYS)},
                # only a backup nobody tagged as the tool's yet: never a copy
                "Null": {f"aws:ResourceTag/{MANAGED_BY_KEY}": "true"},
            },
        ),
        iam.PolicyStatement(
            sid="DeleteOnlyRotationBackups",
            actions=["cloudhsm:DeleteBackup"],
            resources=[backups],
            conditions={
                "StringEquals": {
                    f"aws:ResourceTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
                    f"aws:ResourceTag/{DEPLOYMENT_KEY}": config.deployment_name,
                },
                "StringLike": {f"aws:ResourceTag/{ROTATION_OF_KEY}": "cluster-*"},
            },
        ),
    ]


def warm_statements(
    config: DeploymentConfig, clusters: str, region: str
) -> list[iam.PolicyStatement]:
    """A warm standby's one HSM: created only on this deployment's own standbys (not
    one a restore adopted); DeleteHsm takes no resource type, so "*" in this region."""
    return [
        iam.PolicyStatement(
            sid="WarmStandbyHsmOnlyOnStandbys",
            actions=["cloudhsm:CreateHsm"],
            resources=[clusters],
            conditions={
                "StringEquals": {
                    f"aws:ResourceTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
                    f"aws:ResourceTag/{DEPLOYMENT_KEY}": config.deployment_name,
                },
                "StringLike": {f"aws:ResourceTag/{STANDBY_OF_KEY}": "*"},
                "Null": {f"aws:ResourceTag/{ADOPTED_BY_KEY}": "true"},
            },
        ),
        delete_hsm_statement([region]),
        ec2_dependent_statement(sorted(CREATE_HSM_EC2_ACTIONS), [region]),
    ]
