"""Quarterly DR drills (runbook 9.3): the step function, the state machine, its
schedule, and what pages when a drill cannot clean up after itself.

One line adds it to the main stack, after key verification (whose verify-keys function
the drill invokes when it is deployed):

    DrDrill(self, "DrDrill", config=config, alerting=alerting, verify_keys=kv.verify.function,
            verifier_group=kv.security_group, reports=reports)

Its reports go to the stack's reports bucket (stacks/constructs/shared/reports_bucket.py),
under reports/drills/.

IAM, the second line of defence behind the code's own checks (lambdas/drill/plan.py):
- CreateCluster only with the request tags `hsmdr:drill` (any value), managed-by and this
  deployment, and only those tag keys (CloudHSM supports aws:RequestTag and aws:TagKeys
  on CreateCluster and TagResource). A TagList on CreateCluster is authorized as
  cloudhsm:TagResource too (Service Authorization Reference), and CloudHSM has no
  condition key that tells a tag-on-create from a later TagResource: the TagResource
  grant carries the same request-tag conditions, the role never gets UntagResource, and
  an explicit Deny keeps every change (tags included) off the protected clusters;
- CreateHsm and DeleteCluster only on clusters carrying an `hsmdr:drill` tag and this
  deployment's tag; DeleteHsm takes no resource in IAM: "*" in the drill regions, and
  teardown deletes only HSMs of clusters it re-read as its own;
- a drill of a pilot-light posture borrows the region's standby: CreateHsm (never
  DeleteCluster) also on clusters tagged as this deployment's standby and not adopted
  by a restore, only with such a posture configured; teardown deletes only the HSMs the
  drill added there, after re-reading the standby's tags;
- the drill's backups (CloudHSM backs the drill cluster up when its HSM is removed, so
  they cannot be tagged at creation): TagResource on backups with `hsmdr:drill` only,
  DeleteBackup only on backups so tagged, never on this project's copies or golden
  backups (explicit Deny on their tags);
- EC2: the dependent actions CloudHSM performs while creating the cluster's security
  group and the HSM's network interface are allowed only through CloudHSM
  (aws:ViaAWSService); the drill's own ingress rule only on security groups tagged
  `hsmdr:drill`, which it may tag with that key alone (CloudHSM makes the group: it
  cannot be tagged at creation), never the protected clusters' known group (Deny);
  egress only on the verifier's group. A borrowed standby's group outlives the drill:
  the drill revokes its own ingress rule there (RevokeSecurityGroupIngress, on groups
  tagged `hsmdr:drill` only).

In the recovery account (the vault stack, `vault_deployment=`) the same workflow drills
the vault: source `vault`, the newest READY vault backup of a protected cluster, in the
vault region; no standby is borrowed (CreateHsm only on drill clusters), and an explicit
Deny keeps every change off clusters and backups tagged `hsmdr:vault` (a tag this role
can neither add nor remove), so its teardown can delete nothing of the vault's.
"""

from __future__ import annotations

from dataclasses import replace

from aws_cdk import ArnFormat, CfnOutput, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambdas.drill.plan import DRILL_KEY, DRILL_TAG_KEYS, VAULT
from lambdas.drill.report import REPORT_PREFIX
from lambdas.drill.settings import DrillEnv, DrillSettings
from lambdas.shared import runbooks
from lambdas.shared.copies import (
    DEPLOYMENT_KEY,
    GOLDEN_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    SOURCE_BACKUP_KEY,
)
from lambdas.shared.standby import ADOPTED_BY_KEY, STANDBY_OF_KEY
from lambdas.shared.vault_tags import VAULT_KEY
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.scheduled_job import schedule_expression
from stacks.constructs.alerting.state_machine import ObservedStateMachine
from stacks.constructs.alerting.stopped_executions import grant_read_executions, stopped_events_rule
from stacks.constructs.drill import workflow as dr_drill
from stacks.constructs.shared.hsm_permissions import (
    CREATE_HSM_EC2_ACTIONS,
    DELETE_CLUSTER_EC2_ACTIONS,
    delete_hsm_statement,
    deny_protected_statements,
    ec2_dependent_statement,
)
from stacks.constructs.shared.python_function import PythonFunction
from stacks.constructs.shared.reports_bucket import ReportsBucket
from stacks.nag import acknowledge, rendered
from stacks.names import DR_DRILL, dr_drill_report_parameter, dr_drill_state_machine_name

EC2_DEPENDENT_ACTIONS = sorted(CREATE_HSM_EC2_ACTIONS + DELETE_CLUSTER_EC2_ACTIONS)
READ_ACTIONS = [
    "cloudhsm:DescribeClusters",
    "cloudhsm:DescribeBackups",
    "cloudhsm:ListTags",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",  # the report reads whether the verifier's rule is left
]
MARGIN_MINUTES = 60  # between the last deadline a step enforces and the state machine's
# A verifier not described by key_verification (the vault's) runs at most Lambda's 15 min.
VERIFY_MAX_MINUTES = 15
# Changes to the vault's clusters and to its backups, refused to the vault stack's drill
# (each action on the resource types the Service Authorization Reference gives it).
VAULT_CLUSTER_CHANGES = [
    "cloudhsm:CreateHsm",
    "cloudhsm:DeleteCluster",
    "cloudhsm:ModifyCluster",
    "cloudhsm:TagResource",
    "cloudhsm:UntagResource",
]
VAULT_BACKUP_CHANGES = [
    "cloudhsm:DeleteBackup",
    "cloudhsm:ModifyBackupAttributes",
    "cloudhsm:TagResource",
    "cloudhsm:UntagResource",
]
VAULT_KEY_FIELD = "recovery_account.key_verification"


def drill_settings(
    config: DeploymentConfig, *, vault_deployment: str | None = None, verifier: bool | None = None
) -> DrillSettings:
    """`verifier`: whether a verify-keys function is given (None: as key_verification
    says). In the vault, the key check is required only once the vault has a verifier
    (then as drills.require_key_verification says); until then it is reported as not run,
    naming recovery_account.key_verification."""
    drills = config.drills
    verifying = config.key_verification is not None if verifier is None else verifier
    settings = DrillSettings(
        deployment_name=config.deployment_name,
        primary_region=config.region,
        dr_regions=tuple(config.dr_regions),
        default_cluster=drills.cluster or config.protected_clusters[0].id,
        default_source=drills.source,
        subnets={region: tuple(ids) for region, ids in drills.subnets.items()},
        verifier_cidrs=tuple(drills.verifier_cidrs),
        poll_seconds=drills.poll_seconds,
        cluster_timeout_minutes=drills.cluster_timeout_minutes,
        hsm_timeout_minutes=drills.hsm_timeout_minutes,
        max_hsm_attempts=drills.max_hsm_attempts,
        teardown_timeout_minutes=drills.teardown_timeout_minutes,
        backup_wait_minutes=drills.backup_wait_minutes,
        delete_drill_backups=drills.delete_drill_backups,
        key_verification=verifying,
        require_key_verification=drills.require_key_verification,
        rto_minutes=drills.rto_minutes,
        hsm_hour_usd=drills.hsm_hour_usd,
        clusters_per_region_quota=config.quotas.clusters_per_region,
        hsms_per_region_quota=config.quotas.hsms_per_region,
    )
    if not vault_deployment:
        return settings
    return replace(
        settings,
        default_source=VAULT,
        vault_deployment=vault_deployment,
        key_verification_field=VAULT_KEY_FIELD,
        require_key_verification=drills.require_key_verification and verifying,
    )


def work_minutes(config: DeploymentConfig, *, verifier: bool = False) -> float:
    """The longest a drill can take before teardown starts, from the steps' deadlines."""
    drills = config.drills
    if config.key_verification:
        verify: float = config.key_verification.timeout_minutes
    else:
        verify = VERIFY_MAX_MINUTES if verifier else 0
    # max_hsm_attempts DEGRADED HSMs per zone (lambdas/shared/hsm_attempts.py), in each
    # zone of the largest drill subnet list.
    zones = max((len(s) for s in drills.subnets.values()), default=1)
    return (
        drills.cluster_timeout_minutes
        + zones * drills.max_hsm_attempts * 2 * drills.hsm_timeout_minutes  # create, discard
        + verify
        + 15  # the steps themselves and their retries
    )


def state_machine_timeout_minutes(config: DeploymentConfig, *, verifier: bool = False) -> float:
    """Teardown's own deadline, then one more teardown_timeout_minutes for the retries of
    a round that fails (stacks/constructs/drill/workflow.py), end MARGIN_MINUTES before the
    state machine's timeout."""
    return (
        work_minutes(config, verifier=verifier)
        + 2 * config.drills.teardown_timeout_minutes
        + MARGIN_MINUTES
    )


class DrDrill(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
        verify_keys: lambda_.IFunction | None = None,
        verifier_group: ec2.ISecurityGroup | None = None,
        reports: ReportsBucket,
        vault_deployment: str | None = None,
    ) -> None:
        """`verify_keys` and `verifier_group`: the key verifier's function and security
        group (stacks/constructs/keycheck), when key verification is configured.
        `reports`: the stack's reports bucket; the drill writes under reports/drills/.
        `vault_deployment`: in the recovery account's vault stack, the deployment whose
        vault backups are drilled (`config` is then the vault's drill config:
        stacks/constructs/vault/settings.py, vault_drill_config)."""
        super().__init__(scope, construct_id)
        if vault_deployment and (config.dr_regions or len(config.drills.subnets) > 1):
            raise ValueError(
                "a vault drill runs in the vault region only: build its config with "
                "vault_drill_config"
            )
        verifier = verify_keys is not None if vault_deployment else None
        settings = drill_settings(config, vault_deployment=vault_deployment, verifier=verifier)
        self.regions = list(settings.regions)
        self.bucket, self.key = reports.bucket, reports.key
        verify_function = verify_keys
        environment = {
            **config.verification_settings().to_env(),
            **settings.to_env(),
            DrillEnv.REPORT_BUCKET: self.bucket.bucket_name,
            DrillEnv.PAGE_TOPIC_ARN: alerting.topic.topic_arn,
        }
        if verifier_group is not None:
            environment[DrillEnv.VERIFIER_SECURITY_GROUP] = verifier_group.security_group_id
        self.lambda_ = PythonFunction(
            self,
            "Steps",
            config=config,
            service_name=DR_DRILL,
            handler="lambdas.drill.handler.handler",
            description="Steps of the CloudHSM DR drill state machine",
            environment=environment,
            timeout=Duration.minutes(5),
        )
        function = self.lambda_.function
        self.statements = drill_statements(
            self, config, verifier_group, vault_deployment=vault_deployment
        )
        for statement in self.statements:
            self.lambda_.role.add_to_policy(statement)
        self.bucket.grant_put(function, f"{REPORT_PREFIX}*")
        # The HTML report's trend across past drills: list the reports, read their JSON.
        self.lambda_.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{REPORT_PREFIX}*"]}},
            )
        )
        self.lambda_.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(f"{REPORT_PREFIX}*.json")],
            )
        )
        self.key.grant_decrypt(function)
        alerting.topic.grant_publish(function)
        self._acknowledge_function()

        self.timeout_minutes = state_machine_timeout_minutes(
            config, verifier=verify_keys is not None
        )
        self.workflow = ObservedStateMachine(
            self,
            "Workflow",
            config=config,
            name=dr_drill_state_machine_name(config.deployment_name),
            definition=dr_drill.build(
                self,
                function=function,
                verify_keys=verify_function,
                page_topic=alerting.topic,
                notify_topic=alerting.notify_topic,
                teardown_timeout_minutes=config.drills.teardown_timeout_minutes,
            ),
            timeout=Duration.minutes(self.timeout_minutes),
            comment="DR drill: restore a backup into an isolated cluster, verify keys, tear down",
            alerting=alerting,
            invokes=[function, *([verify_function] if verify_function is not None else [])],
            when_stopped=(
                "A DR drill execution timed out or was aborted, so its teardown may not have "
                "run: a drill cluster may be left running (billed by the hour). The page sent "
                "by the drill function names it; otherwise look for clusters tagged "
                "hsmdr:drill (hsmdr drill status --config <deployment config>) and delete "
                "their HSMs, then the cluster."
            ),
            runbook=runbooks.DR_DRILL,
        )
        self.state_machine = self.workflow.state_machine
        self.schedule = self._schedule(config, alerting) if config.drills.schedule else None
        self.stopped_rule = self._stopped_rule(config, alerting, function)
        ssm.StringParameter(
            self,
            "ReportBucketName",
            parameter_name=dr_drill_report_parameter(config.deployment_name),
            string_value=self.bucket.bucket_name,
            description="Where DR drill reports are written (hsmdr drill report reads it)",
        )
        CfnOutput(
            self,
            "StateMachineArn",
            value=self.state_machine.state_machine_arn,
            description="Start with: hsmdr drill start --config PATH --follow",
        )
        CfnOutput(self, "ReportBucket", value=self.bucket.bucket_name)

    # -- resources ---------------------------------------------------------------------------

    def _schedule(self, config: DeploymentConfig, alerting: Alerting) -> scheduler.Schedule:
        expression = config.drills.schedule
        assert expression is not None
        dead_letters = alerting.dead_letter_queue(self, "ScheduleDeadLetters")
        role = iam.Role(
            self, "ScheduleRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com")
        )
        alerting.grant_dead_letters_key(role)
        schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=f"{config.deployment_name}: the quarterly DR drill",
            schedule=schedule_expression(expression, config.schedules.timezone),
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
            "EventBridge Scheduler could not start the scheduled DR drill (the failed events "
            "are in its dead-letter queue). Start it by hand: hsmdr drill start --follow "
            f"--config <deployment config>. Runbook: {runbooks.DR_DRILL}",
        )
        return schedule

    def _stopped_rule(
        self, config: DeploymentConfig, alerting: Alerting, function: lambda_.IFunction
    ) -> events.Rule:
        """TIMED_OUT and ABORTED executions skip the teardown: the function starts a
        teardown-only run of the state machine for each (it reads the stopped execution's
        history, and may start this state machine only), and pages with the drill
        clusters they left. An event it could not be given waits in a dead-letter queue,
        which pages."""
        name = dr_drill_state_machine_name(config.deployment_name)
        grant_read_executions(self, function, name)
        assert function.role is not None
        # By name: an ARN reference would make the function depend on the state machine
        # that invokes it.
        function.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[
                    Stack.of(self).format_arn(
                        service="states",
                        resource="stateMachine",
                        resource_name=name,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        return stopped_events_rule(
            self,
            name=f"{config.deployment_name}-drill-stopped",
            state_machine=self.state_machine,
            function=function,
            description="DR drill executions that timed out or were aborted",
            alerting=alerting,
            undelivered=(
                "A DR drill execution timed out or was aborted, and EventBridge could not "
                "hand it to the drill function that starts its teardown (the events are in "
                "the rule's dead-letter queue): nothing tore down what it left. A drill cluster "
                "may be running (billed by the hour): hsmdr drill status --config "
                "<deployment config>; delete its HSMs, then the cluster. Runbook: "
                f"{runbooks.DR_DRILL}"
            ),
        )

    # -- cdk-nag -------------------------------------------------------------------------------

    def _acknowledge_function(self) -> None:
        role = self.lambda_.role
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeClusters/DescribeBackups/ListTags, ec2:DescribeSubnets and X-Ray "
            "trace writes support no resource-level permissions; the EC2 actions CloudHSM "
            "performs on the caller's behalf act on a security group and an ENI whose ids "
            "exist only once CloudHSM creates them: they are allowed only through CloudHSM "
            "(aws:ViaAWSService) and in the drill regions.",
        )
        for region in self.regions:
            for arn, reason in (
                (
                    _cluster_arn(self, region),
                    "A drill cluster's id is made by CloudHSM at run time; HSM and cluster "
                    "deletion are limited by condition to clusters tagged hsmdr:drill and "
                    "this deployment, tags only this role's CreateCluster sets.",
                ),
                (
                    _backup_arn(self, region),
                    "A drill restores a backup chosen at run time; CreateCluster is limited "
                    "by condition to this project's request tags, DeleteBackup to backups "
                    "tagged hsmdr:drill (the drill cluster's own, tagged by this role).",
                ),
                (
                    _security_group_arn(self, region),
                    "The drill cluster's security group is made by CloudHSM at run time; the "
                    "drill may tag it with hsmdr:drill only and add ingress only to groups "
                    "so tagged.",
                ),
            ):
                acknowledge(
                    role,
                    f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered(self, arn)}]",
                    reason,
                )
        reports = rendered(self, self.bucket.arn_for_objects(f"{REPORT_PREFIX}*"))
        acknowledge(
            role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{reports}]",
            "Reports are written under reports/drills/ with the date and execution in the "
            "name; nothing else in the bucket.",
        )
        past = rendered(self, self.bucket.arn_for_objects(f"{REPORT_PREFIX}*.json"))
        acknowledge(
            role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{past}]",
            "The HTML report reads past drills' JSON reports (their names carry the date and "
            "execution) for its trend; nothing else in the bucket.",
        )
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*", "s3:Abort*"):
            acknowledge(
                role,
                f"AwsSolutions::AwsSolutions-IAM5[Action::{action}]",
                "CDK's put grant on the KMS-encrypted report bucket, scoped to its key and "
                "its reports/drills/ prefix.",
            )


def _cluster_arn(scope: Construct, region: str) -> str:
    return Stack.of(scope).format_arn(
        service="cloudhsm", region=region, resource="cluster", resource_name="*"
    )


def _backup_arn(scope: Construct, region: str) -> str:
    return Stack.of(scope).format_arn(
        service="cloudhsm", region=region, resource="backup", resource_name="*"
    )


def _security_group_arn(scope: Construct, region: str) -> str:
    return Stack.of(scope).format_arn(
        service="ec2", region=region, resource="security-group", resource_name="*"
    )


def borrowed_standby_statements(
    config: DeploymentConfig, clusters: list[str], regions: list[str]
) -> list[iam.PolicyStatement]:
    """CreateHsm on this deployment's pilot-light standbys (a drill of that posture
    adds the HSM a restore would), only where such a posture is configured."""
    if not any(config.pilot_light(r) for r in regions):
        return []
    return [
        iam.PolicyStatement(
            sid="DrillAddsHsmToStandbys",
            actions=["cloudhsm:CreateHsm"],
            resources=clusters,
            conditions={
                "StringEquals": {
                    f"aws:ResourceTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
                    f"aws:ResourceTag/{DEPLOYMENT_KEY}": config.deployment_name,
                },
                "StringLike": {f"aws:ResourceTag/{STANDBY_OF_KEY}": "*"},
                "Null": {f"aws:ResourceTag/{ADOPTED_BY_KEY}": "true"},
            },
        )
    ]


def vault_deny_statements(clusters: list[str], backups: list[str]) -> list[iam.PolicyStatement]:
    """The vault stack's drill restores vault backups and must never change a vault
    cluster or backup: denied on anything tagged hsmdr:vault, which the drill can neither
    tag (its TagResource allows only its own keys, and is denied that one) nor untag."""
    vault_tagged = {"Null": {f"aws:ResourceTag/{VAULT_KEY}": "false"}}
    tags_as_vault = {"ForAnyValue:StringEquals": {"aws:TagKeys": [VAULT_KEY]}}
    return [
        iam.PolicyStatement(
            sid="NeverChangeVaultClusters",
            effect=iam.Effect.DENY,
            actions=VAULT_CLUSTER_CHANGES,
            resources=clusters,
            conditions=vault_tagged,
        ),
        iam.PolicyStatement(
            sid="NeverChangeVaultBackups",
            effect=iam.Effect.DENY,
            actions=VAULT_BACKUP_CHANGES,
            resources=backups,
            conditions=vault_tagged,
        ),
        # Nor make anything look like the vault's, a tag-on-create included.
        iam.PolicyStatement(
            sid="NeverTagAsTheVault",
            effect=iam.Effect.DENY,
            actions=["cloudhsm:TagResource"],
            resources=[*clusters, *backups],
            conditions=tags_as_vault,
        ),
        iam.PolicyStatement(
            sid="NeverCreateAVaultCluster",
            effect=iam.Effect.DENY,
            actions=["cloudhsm:CreateCluster"],
            resources=backups,
            conditions=tags_as_vault,
        ),
    ]


def drill_statements(
    scope: Construct,
    config: DeploymentConfig,
    verifier_group: ec2.ISecurityGroup | None,
    *,
    vault_deployment: str | None = None,
) -> list[iam.PolicyStatement]:
    stack = Stack.of(scope)
    regions = list(drill_settings(config, vault_deployment=vault_deployment).regions)
    drill_tag_present = {f"aws:ResourceTag/{DRILL_KEY}": "*"}
    ours = {f"aws:ResourceTag/{DEPLOYMENT_KEY}": config.deployment_name}
    request_tags = {
        f"aws:RequestTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
        f"aws:RequestTag/{DEPLOYMENT_KEY}": config.deployment_name,
    }
    only_drill_keys = {"ForAllValues:StringEquals": {"aws:TagKeys": list(DRILL_TAG_KEYS)}}
    only_the_drill_key = {"ForAllValues:StringEquals": {"aws:TagKeys": [DRILL_KEY]}}
    clusters = [_cluster_arn(scope, r) for r in regions]
    backups = [_backup_arn(scope, r) for r in regions]
    groups = [_security_group_arn(scope, r) for r in regions]
    statements = [
        iam.PolicyStatement(actions=READ_ACTIONS, resources=["*"]),
        # CreateCluster authorizes against the source backup and the request's tags.
        iam.PolicyStatement(
            sid="CreateDrillClusterOnlyTagged",
            actions=["cloudhsm:CreateCluster"],
            resources=backups,
            conditions={
                "StringEquals": request_tags,
                "StringLike": {f"aws:RequestTag/{DRILL_KEY}": "*"},
                **only_drill_keys,
            },
        ),
        # CreateCluster with a TagList also needs TagResource on the new cluster.
        iam.PolicyStatement(
            sid="TagDrillClusterAtCreation",
            actions=["cloudhsm:TagResource"],
            resources=clusters,
            conditions={
                "StringEquals": request_tags,
                "StringLike": {f"aws:RequestTag/{DRILL_KEY}": "*"},
                **only_drill_keys,
            },
        ),
        iam.PolicyStatement(
            sid="ChangeOnlyDrillClusters",
            actions=["cloudhsm:CreateHsm", "cloudhsm:DeleteCluster"],
            resources=clusters,
            conditions={"StringLike": drill_tag_present, "StringEquals": ours},
        ),
        # The recovery account keeps no standby to borrow.
        *([] if vault_deployment else borrowed_standby_statements(config, clusters, regions)),
        # DeleteHsm takes no resource type and no condition key: "*" in the drill
        # regions; teardown deletes only HSMs of clusters whose tags it re-reads first.
        delete_hsm_statement(regions),
        ec2_dependent_statement(EC2_DEPENDENT_ACTIONS, regions),
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
    if config.drills.delete_drill_backups:
        statements += [
            iam.PolicyStatement(
                sid="TagDrillBackups",
                actions=["cloudhsm:TagResource"],
                resources=backups,
                conditions={
                    "StringLike": {f"aws:RequestTag/{DRILL_KEY}": "*"},
                    **only_the_drill_key,
                },
            ),
            iam.PolicyStatement(
                sid="DeleteOnlyDrillBackups",
                actions=["cloudhsm:DeleteBackup"],
                resources=backups,
                conditions={"StringLike": drill_tag_present},
            ),
            # A drill cluster's backups are made by CloudHSM, so they can only be tagged
            # after the fact: never this project's copies or golden backups.
            *(
                iam.PolicyStatement(
                    sid=f"NeverTagOrDelete{what}",
                    effect=iam.Effect.DENY,
                    actions=["cloudhsm:TagResource", "cloudhsm:DeleteBackup"],
                    resources=backups,
                    conditions={"Null": {f"aws:ResourceTag/{key}": "false"}},
                )
                for what, key in (("Copies", SOURCE_BACKUP_KEY), ("GoldenBackups", GOLDEN_KEY))
            ),
        ]
    if verifier_group is not None:
        statements += [
            iam.PolicyStatement(
                sid="TagDrillSecurityGroup",
                actions=["ec2:CreateTags"],
                resources=groups,
                conditions={
                    "StringLike": {f"aws:RequestTag/{DRILL_KEY}": "*"},
                    **only_the_drill_key,
                },
            ),
            iam.PolicyStatement(
                sid="IngressOnlyToDrillGroups",
                actions=["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
                resources=groups,
                conditions={"StringLike": {f"ec2:ResourceTag/{DRILL_KEY}": "*"}},
            ),
            iam.PolicyStatement(
                sid="EgressOnlyFromTheVerifier",
                actions=["ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress"],
                resources=[
                    stack.format_arn(
                        service="ec2",
                        resource="security-group",
                        resource_name=verifier_group.security_group_id,
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                ],
            ),
        ]
    if vault_deployment:
        statements += vault_deny_statements(clusters, backups)
    return statements + deny_protected_statements(scope, config, regions)
