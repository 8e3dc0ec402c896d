"""`{deployment}-operator`: the managed policy an on-call engineer's role attaches to run
the hsmdr commands against this deployment, and nothing more (docs/cli.md).

It allows exactly the calls the commands make (tests/sandbox/test_operator_policy.py
runs them as a role with only this policy and records every call): start, list and
follow the executions of this deployment's four state machines (the restore's in the
deployment region and every DR region), read the CloudHSM clusters and backups, the
deployment's SSM parameters `/hsmdr/<name>/*` in each of its regions, the drill reports,
and who is subscribed to the alert topics.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambdas.drill.report import REPORT_PREFIX
from lambdas.drill.settings import drill_state_machine_name
from stacks.config import DeploymentConfig
from stacks.nag import acknowledge, rendered
from stacks.names import (
    ON_DEMAND_BACKUP,
    dr_stack_name,
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


class OperatorPolicy(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alert_topics: Sequence[sns.ITopic],
        report_bucket: s3.IBucket,
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
            iam.PolicyStatement(
                sid="ListDrillReports",
                actions=["s3:ListBucket"],
                resources=[report_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{REPORT_PREFIX}*"]}},
            ),
            iam.PolicyStatement(
                sid="ReadDrillReports",
                actions=["s3:GetObject"],
                resources=[report_bucket.arn_for_objects(f"{REPORT_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="SeeWhoTheAlertsReach",
                actions=["sns:ListSubscriptionsByTopic"],
                resources=[
                    *(topic.topic_arn for topic in alert_topics),
                    # Each DR-region stack's topics (named after that stack).
                    *(arn("sns", r, f"{dr_stack_name(name, r)}-*") for r in config.dr_regions),
                ],
            ),
        ]
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
            REPORT_PREFIX: "the drill reports, under their prefix only",
            ":sns:": "the alert topics of the DR-region stacks, named after that stack",
        }
        for statement in statements:
            for resource in statement.resources:
                shown = rendered(self, resource)
                if "*" in shown:
                    reason = (
                        why["*"]
                        if shown == "*"
                        else next(r for k, r in why.items() if k != "*" and k in shown)
                    )
                    acknowledge(
                        self.policy,
                        f"AwsSolutions::AwsSolutions-IAM5[Resource::{shown}]",
                        f"Read-only or this deployment's own: {reason}.",
                    )
