"""`{deployment}-operator`: the managed policy an on-call engineer's role attaches to run
the hsmdr commands against this deployment, and nothing more (docs/cli.md).

It allows exactly the calls the commands make (tests/sandbox/test_operator_policy.py
runs them as a role with only this policy and records every call): start, list and
follow the executions of this deployment's four state machines (the restore's in the
deployment region and every DR region), read the CloudHSM clusters and backups, the
deployment's SSM parameters `/hsmdr/<name>/*` in each of its regions, the reports
(drills, restores, replacements) in the stack's reports bucket and the restore reports
in each DR-region stack's, who is subscribed to the alert topics and a test message to
each (`hsmdr alerts check --send-test`: sns:Publish, and the topics' KMS key), and, with
key verification, invoking the capture function (`hsmdr keys manifest`).

Each DR-region stack's reports bucket and alert key are named by CloudFormation in that
stack, which shares nothing with this one: the policy names them by what it can know.
The bucket by its objects' prefix (reports/restores/, read-only), the keys by this
deployment's tag and by the service that uses them (kms:ViaService).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambdas.drill.report import REPORT_PREFIX as DRILL_REPORTS
from lambdas.drill.settings import drill_state_machine_name
from lambdas.replacement.report import REPORT_PREFIX as REPLACEMENT_REPORTS
from lambdas.restore.report import REPORT_PREFIX as RESTORE_REPORTS
from lambdas.shared.copies import DEPLOYMENT_KEY
from stacks.config import DeploymentConfig
from stacks.constructs.shared.reports_bucket import ReportsBucket
from stacks.nag import acknowledge, rendered
from stacks.names import (
    CAPTURE_KEY_MANIFEST,
    ON_DEMAND_BACKUP,
    dr_stack_name,
    key_function_name,
    replace_hsm_state_machine_name,
    restore_state_machine_name,
)

# Calls with no resource-level permissions (Service Authorization Reference): "*".
UNSCOPED_ACTIONS = (
    "states:ListStateMachines",
    "cloudhsm:DescribeClusters",
    "cloudhsm:DescribeBackups",
)
MACHINE_ACTIONS = ("states:StartExecution", "states:ListExecutions")
EXECUTION_ACTIONS = ("states:DescribeExecution", "states:GetExecutionHistory")
# The reports `hsmdr report` and `hsmdr drill report` read from the main stack's bucket.
REPORT_PREFIXES = (DRILL_REPORTS, RESTORE_REPORTS, REPLACEMENT_REPORTS)
# A publisher to an SSE-KMS topic (SNS documentation, docs/cloudhsm-facts.md).
PUBLISH_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


class OperatorPolicy(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alert_topics: Sequence[sns.ITopic],
        alert_key: kms.IKey,
        reports: ReportsBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        name = config.deployment_name
        regions = [config.region, *config.dr_regions]
        machines = [
            (config.region, f"{name}-{ON_DEMAND_BACKUP}"),
            (config.region, replace_hsm_state_machine_name(name)),
            (config.region, drill_state_machine_name(name)),
            *((region, restore_state_machine_name(name)) for region in regions),
        ]

        def arn(service: str, region: str, resource: str) -> str:
            return f"arn:{stack.partition}:{service}:{region}:{stack.account}:{resource}"

        topics = [
            *(topic.topic_arn for topic in alert_topics),
            # Each DR-region stack's topics (named after that stack).
            *(arn("sns", r, f"{dr_stack_name(name, r)}-*") for r in config.dr_regions),
        ]

        statements = [
            iam.PolicyStatement(
                sid="StartAndListThisDeploymentsWorkflows",
                actions=list(MACHINE_ACTIONS),
                resources=[arn("states", r, f"stateMachine:{m}") for r, m in machines],
            ),
            iam.PolicyStatement(
                sid="FollowTheirExecutions",
                actions=list(EXECUTION_ACTIONS),
                resources=[arn("states", r, f"execution:{m}:*") for r, m in machines],
            ),
            iam.PolicyStatement(
                sid="FindStateMachinesAndReadCloudHsm",
                actions=list(UNSCOPED_ACTIONS),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="ReadThisDeploymentsParameters",
                actions=["ssm:GetParameter"],
                resources=[arn("ssm", r, f"parameter/hsmdr/{name}/*") for r in regions],
            ),
            *read_reports(reports, REPORT_PREFIXES),
            iam.PolicyStatement(
                sid="SeeWhoTheAlertsReach",
                actions=["sns:ListSubscriptionsByTopic"],
                resources=topics,
            ),
            iam.PolicyStatement(
                sid="SendTestAlerts",
                actions=["sns:Publish"],
                resources=topics,
            ),
            iam.PolicyStatement(
                sid="EncryptTestAlerts",
                actions=list(PUBLISH_KEY_ACTIONS),
                resources=[alert_key.key_arn],
            ),
        ]
        if config.dr_regions:
            statements += dr_region_statements(config, arn)
        if config.key_verification is not None:
            function = key_function_name(name, CAPTURE_KEY_MANIFEST)
            statements.append(
                iam.PolicyStatement(
                    sid="CaptureKeyManifests",
                    actions=["lambda:InvokeFunction"],
                    resources=[arn("lambda", config.region, f"function:{function}")],
                )
            )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            managed_policy_name=f"{name}-operator",
            description=f"What an on-call engineer needs to run hsmdr against {name} (docs/cli.md)",
            statements=statements,
        )
        why = {
            "*": "CloudHSM DescribeClusters and DescribeBackups and states:ListStateMachines "
            "have no resource-level permissions",
            "execution:": "the executions of this deployment's state machines (their names "
            "are made at start)",
            "parameter/": "this deployment's own SSM parameters, /hsmdr/<name>/*",
            "reports/": "the reports, under their prefixes only (a DR-region stack's bucket "
            "is named by CloudFormation there: read-only, its restore reports' prefix only)",
            ":sns:": "the alert topics of the DR-region stacks, named after that stack",
            ":kms:": "the alert and report keys of the DR-region stacks (made there), only "
            "those tagged with this deployment and only as SNS or S3 uses them",
        }
        acknowledge_wildcards(self.policy, statements, why)


def read_reports(reports: ReportsBucket, prefixes: Sequence[str]) -> list[iam.PolicyStatement]:
    """List and read the stored reports under `prefixes` in the stack's reports bucket,
    through its key (`hsmdr report`, `hsmdr drill report`)."""
    return [
        iam.PolicyStatement(
            sid="ListReports",
            actions=["s3:ListBucket"],
            resources=[reports.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
        ),
        iam.PolicyStatement(
            sid="ReadReports",
            actions=["s3:GetObject"],
            resources=[reports.bucket.arn_for_objects(f"{p}*") for p in prefixes],
        ),
        iam.PolicyStatement(
            sid="DecryptReports", actions=["kms:Decrypt"], resources=[reports.key.key_arn]
        ),
    ]


def acknowledge_wildcards(
    policy: iam.ManagedPolicy, statements: Sequence[iam.PolicyStatement], why: dict[str, str]
) -> None:
    """Acknowledge each wildcard resource of `statements` (AwsSolutions-IAM5) with the
    reason of the first key of `why` found in it ("*" for a bare "*")."""
    for statement in statements:
        for resource in statement.resources:
            shown = rendered(policy, resource)
            if "*" in shown:
                reason = (
                    why["*"]
                    if shown == "*"
                    else next(r for k, r in why.items() if k != "*" and k in shown)
                )
                acknowledge(
                    policy,
                    f"AwsSolutions::AwsSolutions-IAM5[Resource::{shown}]",
                    f"Read-only or this deployment's own: {reason}.",
                )


def dr_region_statements(
    config: DeploymentConfig, arn: Callable[[str, str, str], str]
) -> list[iam.PolicyStatement]:
    """The DR-region stacks' restore reports and alert keys, which this stack cannot
    reference: S3 objects by their prefix, KMS keys by this deployment's tag (the stack
    tags every key) and by the service that uses them."""
    stack_tag = {f"aws:ResourceTag/{DEPLOYMENT_KEY}": config.deployment_name}
    statements = [
        iam.PolicyStatement(
            sid="ReadDrRegionRestoreReports",
            actions=["s3:GetObject"],
            resources=[f"arn:{Aws.PARTITION}:s3:::*/{RESTORE_REPORTS}*"],
        ),
    ]
    for region in config.dr_regions:
        keys = arn("kms", region, "key/*")
        tag = region.replace("-", "").title()
        statements += [
            iam.PolicyStatement(
                sid=f"DecryptRestoreReports{tag}",
                actions=["kms:Decrypt"],
                resources=[keys],
                conditions={
                    "StringEquals": {**stack_tag, "kms:ViaService": f"s3.{region}.amazonaws.com"}
                },
            ),
            iam.PolicyStatement(
                sid=f"EncryptTestAlerts{tag}",
                actions=list(PUBLISH_KEY_ACTIONS),
                resources=[keys],
                conditions={
                    "StringEquals": {**stack_tag, "kms:ViaService": f"sns.{region}.amazonaws.com"}
                },
            ),
        ]
    return statements
