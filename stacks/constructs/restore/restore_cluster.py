"""The full-cluster restore: its step function, state machine and permissions.

One line adds it to a stack: the main one, which may restore into any configured
region, and each DR-region stack, which restores into its own region only (so it
needs nothing from the primary region but, best effort, the trust anchor):

    RestoreCluster(self, "RestoreCluster", config=config, alerting=self.alerting,
                   verify_keys=kv.verify.function, verifier_group=kv.security_group,
                   reports=reports)
    RestoreCluster(self, "RestoreCluster", config=config, alerting=..., region=dr_region,
                   reports=reports)

Its last step, on success and on failure, writes the report (JSON and an HTML page) to
the stack's reports bucket under reports/restores/: PutObject on that prefix only and
the bucket key's GenerateDataKey/Encrypt.

With key verification (the main stack, when the config has `key_verification`), the
state machine invokes the verify-keys function (lambda:InvokeFunction on it alone) once
the first HSM is ACTIVE. Before that the function tags the restored cluster's security
group (made by CloudHSM) with `hsmdr:restore-id` and nothing else, may add ingress only
to groups so tagged, and egress to the verifier's group alone; the rules reference the
two groups on TCP 2223-2225 and stay (the restored cluster is the one the manifest
capture reads from now on), so the role has no revoke. A DR-region stack does the
same with its own verifier when `key_verification.regions` names its region
(stacks/constructs/keycheck/regional_verifier.py), except that its rules are revoked
once the check is recorded (no manifest capture runs in that region to need them);
without one, its report says so and names that field (`keys_absent`).

The restored cluster's id (so its ARN) is unknown at synth time, so CreateHsm is
allowed on any cluster of the configured regions that carries this deployment's
`managed-by`/`hsmdr:deployment` tags, set by this role's CreateCluster (aws:RequestTag).
CloudHSM authorizes that TagList as cloudhsm:TagResource and has no condition key that
tells a tag-on-create from a later TagResource, so the TagResource grant carries the
same request-tag conditions, the role gets no UntagResource, and an explicit Deny keeps
every change off the protected clusters. DeleteHsm takes no resource in IAM ("*" in the
restore regions): the code deletes only HSMs its own execution created.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnOutput, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from lambdas.restore.keys import NOT_CONFIGURED, not_run
from lambdas.restore.report import REPORT_PREFIX
from lambdas.restore.settings import RestoreSettings
from lambdas.restore.tags import RESTORE_ID_KEY, RESTORE_TAG_KEYS
from lambdas.shared import runbooks
from lambdas.shared.copies import DEPLOYMENT_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE
from lambdas.shared.env import Env
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.state_machine import ObservedStateMachine
from stacks.constructs.alerting.stopped_executions import stopped_rule
from stacks.constructs.restore import workflow as restore_cluster
from stacks.constructs.shared.hsm_permissions import (
    CREATE_HSM_EC2_ACTIONS,
    backup_arns,
    cluster_arn,
    delete_hsm_statement,
    deny_protected_statements,
    ec2_dependent_statement,
    in_regions,
)
from stacks.constructs.shared.python_function import PythonFunction
from stacks.constructs.shared.reports_bucket import ReportsBucket
from stacks.constructs.shared.tables import parameter_arn, trust_anchor_read_statements
from stacks.nag import acknowledge, rendered
from stacks.names import RESTORE_CLUSTER, restore_state_machine_name

READ_ACTIONS = ["cloudhsm:DescribeClusters", "cloudhsm:DescribeBackups"]


def restore_settings(
    config: DeploymentConfig, *, key_verification: bool = False, vault_deployment: str | None = None
) -> RestoreSettings:
    restore = config.restore
    return RestoreSettings(
        primary_region=config.region,
        dr_regions=tuple(config.dr_regions),
        subnets={region: tuple(ids) for region, ids in restore.subnets.items()},
        poll_seconds=restore.poll_seconds,
        cluster_timeout_minutes=restore.cluster_timeout_minutes,
        hsm_timeout_minutes=restore.hsm_timeout_minutes,
        max_hsm_attempts=restore.max_hsm_attempts,
        trust_anchor_parameter=restore.trust_anchor_parameter,
        clusters_per_region_quota=config.quotas.clusters_per_region,
        hsms_per_region_quota=config.quotas.hsms_per_region,
        key_verification=key_verification,
        rto_minutes=config.drills.rto_minutes,  # the deployment's RTO, which drills hold too
        vault_deployment=vault_deployment,
    )


def restore_regions(config: DeploymentConfig) -> list[str]:
    """Where a restore may go or find backups: every region the config names."""
    return list(restore_settings(config).regions)


class RestoreCluster(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
        region: str | None = None,
        verify_keys: lambda_.IFunction | None = None,
        verifier_group: ec2.ISecurityGroup | None = None,
        reports: ReportsBucket,
        vault_deployment: str | None = None,
        keys_absent: str | None = None,
    ) -> None:
        """`verify_keys`, `verifier_group`: the key verifier's function and security
        group (stacks/constructs/keycheck), in the main stack when key verification is
        configured; both or neither. `reports`: the stack's reports bucket, where the
        final step writes the report (success or failure) under reports/restores/.
        `vault_deployment` (the vault stack): restore only from that deployment's vault
        backups (lambdas/shared/vault_backups.py); `keys_absent`: what the report says in place
        of the keys' check when this stack has no verifier (default: from the config)."""
        super().__init__(scope, construct_id)
        if (verify_keys is None) != (verifier_group is None):
            raise ValueError("verify_keys and verifier_group go together")
        self.regions = [region] if region else restore_regions(config)
        self.verifier_region = region or config.region  # a verifier is in this stack's region
        keys = verifier_group is not None
        verifier_env = (
            {Env.RESTORE_VERIFIER_SECURITY_GROUP: verifier_group.security_group_id}
            if verifier_group is not None
            else {}
        )
        self.lambda_ = PythonFunction(
            self,
            "Steps",
            config=config,
            service_name=RESTORE_CLUSTER,
            handler="lambdas.restore.handler.handler",
            description="Steps of the CloudHSM full-cluster restore state machine",
            environment={
                # The alert topics: it pages itself for an execution that was stopped.
                **alerting.alert_settings(config).to_env(),
                **restore_settings(
                    config, key_verification=keys, vault_deployment=vault_deployment
                ).to_env(),
                **verifier_env,
                Env.REPORTS_BUCKET: reports.bucket.bucket_name,
            },
            timeout=Duration.minutes(2),
        )
        for statement in restore_statements(self, config, self.regions):
            self.lambda_.role.add_to_policy(statement)
        if verifier_group is not None:
            # A DR stack's restore revokes the rules after the check (its region has no
            # manifest capture to keep them for); the main stack's keep them.
            revoke = self.verifier_region != config.region
            for statement in key_network_statements(
                self, self.verifier_region, verifier_group, revoke=revoke
            ):
                self.lambda_.role.add_to_policy(statement)
        alerting.grant_alerts(self.lambda_.function)
        reports.grant_write_reports(self.lambda_.role, REPORT_PREFIX)
        self._acknowledge_function(config, keys=keys)

        restore = config.restore
        most_hsms = max(sum(c.hsms_per_az.values()) for c in config.protected_clusters) + 1
        self.workflow = ObservedStateMachine(
            self,
            "Workflow",
            config=config,
            name=restore_state_machine_name(config.deployment_name),
            definition=restore_cluster.build(
                self,
                function=self.lambda_.function,
                topic=alerting.topic,
                verify_keys=verify_keys,
                keys_absent=keys_absent or _keys_absent(config),
            ),
            # A backstop: every wait has its own deadline in the steps.
            timeout=Duration.minutes(
                restore.cluster_timeout_minutes
                + most_hsms * restore.max_hsm_attempts * 2 * restore.hsm_timeout_minutes
                + 60
            ),
            comment="Restore a CloudHSM cluster from a backup (complete cluster failure)",
            alerting=alerting,
            invokes=[self.lambda_.function, *([verify_keys] if verify_keys else [])],
            when_stopped=(
                "A restore execution timed out or was aborted: the step function pages with "
                "what exists (and deletes only DEGRADED HSMs it created). Without that page, look "
                "for clusters tagged hsmdr:restore-id (aws cloudhsmv2 describe-clusters), "
                "read the execution history, and resume with its restore id: hsmdr restore "
                "--config <deployment config> --restore-id <restore id> --source-cluster "
                "<cluster id> --follow."
            ),
            runbook=runbooks.COMPLETE_CLUSTER_FAILURE,
        )
        self.stopped_rule = stopped_rule(
            self,
            state_machine=self.workflow.state_machine,
            state_machine_name=restore_state_machine_name(config.deployment_name),
            function=self.lambda_.function,
            description="Restores that timed out or were aborted: report what exists, page",
            alerting=alerting,
            runbook=runbooks.COMPLETE_CLUSTER_FAILURE,
        )
        CfnOutput(
            self,
            "StateMachineArn",
            value=self.workflow.state_machine.state_machine_arn,
            description="Start with: hsmdr restore --config PATH --source-cluster ID --follow",
        )

    def _acknowledge_function(self, config: DeploymentConfig, *, keys: bool) -> None:
        role = self.lambda_.role
        if keys:
            groups = rendered(self, _security_groups(self, self.verifier_region))
            acknowledge(
                role,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{groups}]",
                "The restored cluster's security group is made by CloudHSM at run time: the "
                f"role may tag a group with {RESTORE_ID_KEY} only, and add ingress only to "
                "groups so tagged, in the verifier's region.",
            )
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeClusters/DescribeBackups, ec2:DescribeSubnets and X-Ray trace "
            "writes support no resource-level permissions; the EC2 actions CloudHSM performs "
            "with the caller's permissions act on a security group and ENIs whose ids exist "
            "only once CloudHSM creates them, and are limited to the configured regions.",
        )
        for region in self.regions:
            for arn, reason in (
                (
                    cluster_arn(self, region, "*"),
                    "A restored cluster's id is made by CloudHSM at run time; HSM changes "
                    "are limited by condition to clusters tagged managed-by=cloudhsm-dr and "
                    "this deployment, tags only this role's CreateCluster sets.",
                ),
                (
                    backup_arns(self, region),
                    "A restore may start from any backup or copy of the region, chosen at "
                    "run time; CreateCluster is limited by condition to this project's tags.",
                ),
                (
                    _ssm_path(self, region, config.deployment_name),
                    "Client configuration and restore claims live under this deployment's "
                    "own /hsmdr/<deployment>/ parameter path, named per restore at run time.",
                ),
            ):
                acknowledge(
                    role,
                    f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered(self, arn)}]",
                    reason,
                )
        executions = rendered(self, _executions(self, config))
        acknowledge(
            role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{executions}]",
            "DescribeExecution on this deployment's restore executions (any region), to tell "
            "a live holder of a restore id from one that stopped.",
        )


def restore_statements(
    scope: Construct, config: DeploymentConfig, regions: list[str]
) -> list[iam.PolicyStatement]:
    """Reads anywhere; creates, tags, deletes HSMs and writes parameters in `regions`."""
    stack = Stack.of(scope)
    ours = {
        f"aws:ResourceTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
        f"aws:ResourceTag/{DEPLOYMENT_KEY}": config.deployment_name,
    }
    request_tags = {
        f"aws:RequestTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
        f"aws:RequestTag/{DEPLOYMENT_KEY}": config.deployment_name,
    }
    only_our_keys = {"ForAllValues:StringEquals": {"aws:TagKeys": list(RESTORE_TAG_KEYS)}}
    statements = [
        iam.PolicyStatement(actions=READ_ACTIONS, resources=["*"]),
        # CreateCluster authorizes against the source backup and the request's tags.
        iam.PolicyStatement(
            actions=["cloudhsm:CreateCluster"],
            resources=[backup_arns(scope, r) for r in regions],
            conditions={"StringEquals": request_tags, **only_our_keys},
        ),
        # CreateCluster with a TagList also needs TagResource on the new cluster.
        iam.PolicyStatement(
            actions=["cloudhsm:TagResource"],
            resources=[cluster_arn(scope, r, "*") for r in regions],
            conditions={"StringEquals": request_tags, **only_our_keys},
        ),
        iam.PolicyStatement(
            actions=["cloudhsm:CreateHsm"],
            resources=[cluster_arn(scope, r, "*") for r in regions],
            conditions={"StringEquals": ours},
        ),
        # No resource type, no condition key: the code deletes only HSMs it created.
        delete_hsm_statement(regions),
        ec2_dependent_statement(CREATE_HSM_EC2_ACTIONS, regions),
        # The function's own EC2 call: the zones of the recovery subnets.
        iam.PolicyStatement(
            actions=["ec2:DescribeSubnets"],
            resources=["*"],
            conditions={"StringEquals": in_regions(regions)},
        ),
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
        iam.PolicyStatement(
            actions=["ssm:PutParameter", "ssm:GetParameter", "ssm:GetParametersByPath"],
            resources=[_ssm_path(scope, r, config.deployment_name) for r in regions],
        ),
        iam.PolicyStatement(
            actions=["states:DescribeExecution"], resources=[_executions(scope, config)]
        ),
    ]
    return (
        statements
        + trust_anchor_read_statements(scope, config)
        + deny_protected_statements(scope, config, regions)
    )


def _ssm_path(scope: Construct, region: str, deployment: str) -> str:
    return parameter_arn(scope, region, f"hsmdr/{deployment}/*")


def _executions(scope: Construct, config: DeploymentConfig) -> str:
    return Stack.of(scope).format_arn(
        service="states",
        region="*",
        resource="execution",
        resource_name=f"{restore_state_machine_name(config.deployment_name)}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def keys_absent(config: DeploymentConfig, region: str) -> str:
    """What a DR stack's restore report says in place of the key check when that region
    has no verifier: why, and the config field that deploys one."""
    if config.key_verification is None:
        return NOT_CONFIGURED
    return str(
        not_run(
            f"no key verifier in {region} (the deployment's runs in {config.region}, and "
            "security groups cannot reference each other across regions); set "
            f"key_verification.regions.{region} (vpc_id, subnet_ids, hsm_security_group_id) "
            "to check restores here; until then check the keys before clients rely on them"
        )["summary"]
    )


def _keys_absent(config: DeploymentConfig) -> str:
    if config.key_verification is None:
        return NOT_CONFIGURED
    return str(
        not_run(
            f"the key verifier is deployed in the main stack ({config.region}), not in this "
            "region's: check the keys by invoking it with the restored cluster's id"
        )["summary"]
    )


def _security_groups(scope: Construct, region: str) -> str:
    return Stack.of(scope).format_arn(
        service="ec2", region=region, resource="security-group", resource_name="*"
    )


def key_network_statements(
    scope: Construct, region: str, verifier_group: ec2.ISecurityGroup, *, revoke: bool = False
) -> list[iam.PolicyStatement]:
    """Let the verifier (in this stack's region) reach a restored cluster there: tag its
    group with the restore id, ingress only to groups so tagged, egress from the
    verifier's group only. `revoke` (a DR stack): the same rules may be taken out again
    on the same groups; otherwise no revoke: the rules stay (module docstring)."""
    groups = _security_groups(scope, region)
    ingress = ["ec2:AuthorizeSecurityGroupIngress"]
    egress = ["ec2:AuthorizeSecurityGroupEgress"]
    if revoke:
        ingress.append("ec2:RevokeSecurityGroupIngress")
        egress.append("ec2:RevokeSecurityGroupEgress")
    return [
        iam.PolicyStatement(
            sid="TagRestoredSecurityGroup",
            actions=["ec2:CreateTags"],
            resources=[groups],
            conditions={
                "StringLike": {f"aws:RequestTag/{RESTORE_ID_KEY}": "*"},
                "ForAllValues:StringEquals": {"aws:TagKeys": [RESTORE_ID_KEY]},
            },
        ),
        iam.PolicyStatement(
            sid="IngressOnlyToRestoredGroups",
            actions=ingress,
            resources=[groups],
            conditions={"StringLike": {f"ec2:ResourceTag/{RESTORE_ID_KEY}": "*"}},
        ),
        iam.PolicyStatement(
            sid="EgressOnlyFromTheVerifier",
            actions=egress,
            resources=[
                Stack.of(scope).format_arn(
                    service="ec2",
                    resource="security-group",
                    resource_name=verifier_group.security_group_id,
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
        ),
    ]
