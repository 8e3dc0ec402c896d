"""The daily key check of one DR region's warm standbys (lambdas/standby/
key_check_handler.py, docs/runbooks/standby.md#key-check): deployed by the DR stack
when the region has both a warm-standby posture and a key verifier of its own
(key_verification.regions), on `key_verification.capture_schedule` (daily by default).

IAM:
- cloudhsm:DescribeClusters and ListTags (reads; ListTags is the re-read of a standby's
  tags right before its check);
- lambda:InvokeFunction on the region's verify-keys function only;
- EC2, in this region only: CreateTags on security groups only with the key-check tag
  (its key alone); ingress rules added and revoked only on groups carrying that tag (a
  standby's, which CloudHSM made); egress rules added and revoked only on the verifier's
  own group. The rules name the two groups and TCP 2223-2225 only, and are revoked after
  each check;
- SNS and the alert memory: the findings page (a mismatch) or notify (unchecked).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from lambdas.shared import runbooks
from lambdas.standby.key_check import KEY_CHECK_TAG
from lambdas.standby.key_check_handler import VERIFIER_GROUP_ENV, VERIFY_FUNCTION_ENV
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.scheduled_job import ScheduledJob
from stacks.constructs.shared.python_function import PythonFunction
from stacks.constructs.standby.standby_refresher import standby_settings
from stacks.nag import acknowledge, rendered

STANDBY_KEY_CHECK = "standby-key-check"


class StandbyKeyCheck(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
        region: str,
        verify_keys: lambda_.IFunction,
        verifier_group: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        keys = config.key_verification
        if keys is None or not config.warm_standby(region):
            raise ValueError(f"no warm standby and key verifier in {region} to check")
        self.lambda_ = PythonFunction(
            self,
            "CheckStandbyKeys",
            config=config,
            service_name=STANDBY_KEY_CHECK,
            handler="lambdas.standby.key_check_handler.handler",
            description=f"Checks the keys of the warm standbys in {region} against the manifests",
            environment={
                **standby_settings(config, region).to_env(),
                **alerting.alert_settings(config).to_env(),
                VERIFY_FUNCTION_ENV: verify_keys.function_name,
                VERIFIER_GROUP_ENV: verifier_group.security_group_id,
            },
            # Each check waits for verify-keys (its own timeout) once per warm standby.
            timeout=Duration.minutes(
                min(15, keys.timeout_minutes * len(config.warm_standby(region)) + 1)
            ),
        )
        role = self.lambda_.role
        for statement in key_check_statements(self, region, verify_keys, verifier_group):
            role.add_to_principal_policy(statement)
        alerting.grant_alerts(self.lambda_.function)
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeClusters, ListTags and X-Ray trace writes support no "
            "resource-level permissions; every other statement names its resource.",
        )
        groups = rendered(self, _security_groups(self, region))
        acknowledge(
            role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{groups}]",
            "A standby's security group is made by CloudHSM at run time: the role may tag "
            f"a group with {KEY_CHECK_TAG} only, and add or revoke ingress only on groups "
            "so tagged, in this region.",
        )
        self.job = ScheduledJob(
            self,
            "Job",
            function=self.lambda_.function,
            expression=keys.capture_schedule,
            timezone=config.schedules.timezone,
            description=f"{config.deployment_name}: check the warm standbys' keys in {region}",
            alerting=alerting,
            what_fails=(
                f"The key check of the warm standbys in {region} failed (crashed or timed "
                "out), so nothing says whether a restore there would serve the right keys"
            ),
            next_step=(
                f"Open its log group {self.lambda_.log_group.log_group_name}, then invoke "
                f"{verify_keys.function_name} in {region} with the standby's id as "
                "cluster_id and its source as manifest_cluster_id"
            ),
            runbook=runbooks.STANDBY,
        )


def _security_groups(scope: Construct, region: str) -> str:
    return Stack.of(scope).format_arn(
        service="ec2", region=region, resource="security-group", resource_name="*"
    )


def key_check_statements(
    scope: Construct,
    region: str,
    verify_keys: lambda_.IFunction,
    verifier_group: ec2.ISecurityGroup,
) -> list[iam.PolicyStatement]:
    groups = _security_groups(scope, region)
    verifier = Stack.of(scope).format_arn(
        service="ec2",
        region=region,
        resource="security-group",
        resource_name=verifier_group.security_group_id,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )
    return [
        iam.PolicyStatement(
            actions=["cloudhsm:DescribeClusters", "cloudhsm:ListTags"], resources=["*"]
        ),
        iam.PolicyStatement(
            sid="InvokeTheRegionsVerifier",
            actions=["lambda:InvokeFunction"],
            resources=[verify_keys.function_arn],
        ),
        iam.PolicyStatement(
            sid="TagStandbyGroupForKeyCheck",
            actions=["ec2:CreateTags"],
            resources=[groups],
            conditions={
                "StringLike": {f"aws:RequestTag/{KEY_CHECK_TAG}": "cluster-*"},
                "ForAllValues:StringEquals": {"aws:TagKeys": [KEY_CHECK_TAG]},
            },
        ),
        iam.PolicyStatement(
            sid="IngressOnlyOnKeyCheckedGroups",
            actions=["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            resources=[groups],
            conditions={"StringLike": {f"ec2:ResourceTag/{KEY_CHECK_TAG}": "cluster-*"}},
        ),
        iam.PolicyStatement(
            sid="EgressOnlyFromTheVerifier",
            actions=["ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress"],
            resources=[verifier],
        ),
    ]
