"""What adding and removing HSMs takes in IAM, shared by every workflow that does it.

CloudHSM creates and deletes the HSM's network interface (and, for a new cluster, its
security group) with the caller's permissions: the Service Authorization Reference
lists these EC2 actions as "dependent actions" of CreateHsm, DeleteHsm, CreateCluster
and DeleteCluster. Their resources are made at run time, so they are granted on "*",
limited to the regions the workflow works in, and only through CloudHSM
(aws:ViaAWSService): the role cannot call them itself.

cloudhsm:DeleteHsm supports no resource type and no condition key (Service
Authorization Reference): a statement naming a cluster ARN never matches it, so it is
granted on "*" in its own statement, limited only by the global aws:RequestedRegion.
Which HSM may be deleted is decided in code (each workflow re-reads the HSM right
before the call).
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


def in_regions(regions: Iterable[str]) -> dict[str, list[str]]:
    """The condition value of aws:RequestedRegion (a global key: every action has it)."""
    return {"aws:RequestedRegion": sorted(set(regions))}


def ec2_dependent_statement(actions: list[str], regions: Iterable[str]) -> iam.PolicyStatement:
    """EC2 actions CloudHSM performs with the caller's permissions, and only those
    calls: a direct call by the role is not made through an AWS service."""
    return iam.PolicyStatement(
        actions=actions,
        resources=["*"],
        conditions={"Bool": {"aws:ViaAWSService": "true"}, "StringEquals": in_regions(regions)},
    )


def delete_hsm_statement(regions: Iterable[str]) -> iam.PolicyStatement:
    """DeleteHsm takes no resource type and no condition key: "*" in `regions` only."""
    return iam.PolicyStatement(
        actions=["cloudhsm:DeleteHsm"],
        resources=["*"],
        conditions={"StringEquals": in_regions(regions)},
    )


def protected_cluster_arns(
    scope: Construct, config: DeploymentConfig, regions: Iterable[str] | None = None
) -> list[str]:
    """The protected clusters' ARNs (those in `regions`, if given)."""
    stack = Stack.of(scope)
    wanted = None if regions is None else set(regions)
    return [
        stack.format_arn(
            service="cloudhsm",
            resource="cluster",
            resource_name=c.id,
            region=c.region,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        for c in config.protected_clusters
        if wanted is None or c.region in wanted
    ]


def protected_hsm_change_statements(
    scope: Construct, config: DeploymentConfig
) -> list[iam.PolicyStatement]:
    """CreateHsm on the protected clusters only, DeleteHsm (which takes no resource) in
    their regions, and what CloudHSM does in EC2 on the caller's behalf there."""
    regions = [c.region for c in config.protected_clusters]
    return [
        iam.PolicyStatement(
            actions=["cloudhsm:CreateHsm"], resources=protected_cluster_arns(scope, config)
        ),
        delete_hsm_statement(regions),
        ec2_dependent_statement(CREATE_HSM_EC2_ACTIONS, regions),
    ]


# Everything that changes a cluster, in IAM: a workflow that must never touch a
# protected cluster is denied all of it there, whatever its tags say.
CLUSTER_MUTATING_ACTIONS = [
    "cloudhsm:CreateHsm",
    "cloudhsm:DeleteCluster",
    "cloudhsm:InitializeCluster",
    "cloudhsm:ModifyCluster",
    "cloudhsm:TagResource",
    "cloudhsm:UntagResource",
]
SECURITY_GROUP_MUTATING_ACTIONS = [
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateNetworkInterface",
    "ec2:CreateTags",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteTags",
    "ec2:ModifySecurityGroupRules",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
]


def protected_security_group_arns(
    scope: Construct, config: DeploymentConfig, regions: Iterable[str]
) -> list[str]:
    """The protected clusters' security groups this deployment knows of (the one the key
    verifier reaches, when key verification is configured), in `regions`."""
    keys = config.key_verification
    if keys is None or config.region not in set(regions):
        return []
    return [
        Stack.of(scope).format_arn(
            service="ec2",
            region=config.region,
            resource="security-group",
            resource_name=keys.hsm_security_group_id,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
    ]


def deny_protected_statements(
    scope: Construct, config: DeploymentConfig, regions: Iterable[str]
) -> list[iam.PolicyStatement]:
    """An explicit Deny on the protected clusters (and their known security group) in
    `regions`, the only ones the role works in, for a role whose Allow statements rest
    on tags: a tag condition protects nothing from a role that can set the tag itself,
    so a tag mistake cannot reach production. DeleteHsm takes no resource in IAM and
    cannot be denied per cluster."""
    regions = list(regions)
    statements = []
    clusters = protected_cluster_arns(scope, config, regions)
    if clusters:
        statements.append(
            iam.PolicyStatement(
                sid="NeverChangeProtectedClusters",
                effect=iam.Effect.DENY,
                actions=CLUSTER_MUTATING_ACTIONS,
                resources=clusters,
            )
        )
    groups = protected_security_group_arns(scope, config, regions)
    if groups:
        statements.append(
            iam.PolicyStatement(
                sid="NeverChangeProtectedClusterGroups",
                effect=iam.Effect.DENY,
                actions=SECURITY_GROUP_MUTATING_ACTIONS,
                resources=groups,
            )
        )
    return statements


def backup_arns(scope: Construct, region: str) -> str:
    return Stack.of(scope).format_arn(
        service="cloudhsm", region=region, resource="backup", resource_name="*"
    )


def cluster_arn(scope: Construct, region: str, cluster_id: str) -> str:
    return Stack.of(scope).format_arn(
        service="cloudhsm", region=region, resource="cluster", resource_name=cluster_id
    )
