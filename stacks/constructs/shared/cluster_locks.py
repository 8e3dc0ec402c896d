"""The lock table: one on-demand backup or HSM replacement per cluster at a time."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.constructs.shared.tables import expiring_table
from stacks.nag import acknowledge, rendered


class ClusterLocks(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, deployment_name: str) -> None:
        super().__init__(scope, construct_id)
        # A lock whose holder died expires on its own.
        self.table = expiring_table(self, "Table", "cluster_id")
        # Whether a holder is still running: any execution of this deployment's workflows.
        self.executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{deployment_name}-*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def grant_take(self, function: lambda_.IFunction) -> None:
        """Take, release and take over locks (a holder that stopped leaves a stale one)."""
        self.table.grant(function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")
        self._grant_holder_check(function)

    def grant_read(self, function: lambda_.IFunction) -> None:
        """See who holds a cluster, and whether that holder still runs; never write."""
        self.table.grant(function, "dynamodb:GetItem")
        self._grant_holder_check(function)

    def _grant_holder_check(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        function.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[self.executions])
        )
        acknowledge(
            function.role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered(self, self.executions)}]",
            "DescribeExecution on this deployment's own workflow executions, to tell a "
            "stale cluster lock from a live one.",
        )
