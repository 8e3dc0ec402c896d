"""What adding and removing HSMs takes in IAM, shared by every workflow that does it.

CloudHSM creates and deletes the HSM's network interface (and, for a new cluster, its
security group) with the caller's permissions: the Service Authorization Reference
lists these EC2 actions as "dependent actions" of CreateHsm, DeleteHsm, CreateCluster
and DeleteCluster. Their resources are made at run time, so they are granted on "*"
and limited to the regions the workflow works in.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.config import DeploymentConfig

CREATE_HSM_EC2_ACTIONS = [
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateNetworkInterface",
    "ec2:CreateSecurityGroup",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:RevokeSecurityGroupEgress",
]  # DeleteHsm's only dependent action, ec2:DeleteNetworkInterface, is among them
DELETE_CLUSTER_EC2_ACTIONS = ["ec2:DeleteSecurityGroup"]


def ec2_dependent_statement(actions: list[str], regions: Iterable[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=actions,
        resources=["*"],
        conditions={"StringEquals": {"aws:RequestedRegion": sorted(set(regions))}},
    )


def protected_cluster_arns(scope: Construct, config: DeploymentConfig) -> list[str]:
    """The protected clusters' ARNs: the only clusters a mutating action may touch."""
    stack = Stack.of(scope)
    return [
        stack.format_arn(
            service="cloudhsm",
            resource="cluster",
            resource_name=c.id,
            region=c.region,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        for c in config.protected_clusters
    ]


def protected_hsm_change_statements(
    scope: Construct, config: DeploymentConfig
) -> list[iam.PolicyStatement]:
    """CreateHsm and DeleteHsm on the protected clusters only, with what CloudHSM does
    in EC2 on the caller's behalf, in those clusters' regions only."""
    return [
        iam.PolicyStatement(
            actions=["cloudhsm:CreateHsm", "cloudhsm:DeleteHsm"],
            resources=protected_cluster_arns(scope, config),
        ),
        ec2_dependent_statement(
            CREATE_HSM_EC2_ACTIONS, (c.region for c in config.protected_clusters)
        ),
    ]
