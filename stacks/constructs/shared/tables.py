"""The project's DynamoDB tables: small, on demand, encrypted, recoverable, and rid of
their stale items by TTL on `expires_at`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

if TYPE_CHECKING:
    from stacks.config import DeploymentConfig

EXPIRES_AT = "expires_at"


def expiring_table(scope: Construct, construct_id: str, partition_key: str) -> dynamodb.TableV2:
    return dynamodb.TableV2(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        billing=dynamodb.Billing.on_demand(),
        encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=EXPIRES_AT,
        removal_policy=RemovalPolicy.DESTROY,
    )


def trust_anchor_read_statements(scope: Construct, config: DeploymentConfig) -> list[Any]:
    """Read customerCA.crt in the primary region (and decrypt it, if a customer key
    encrypts it): the restore and the copy job both do."""
    from aws_cdk import aws_iam as iam

    restore = config.restore
    if not restore.trust_anchor_parameter:
        return []
    statements = [
        iam.PolicyStatement(
            actions=["ssm:GetParameter"],
            resources=[parameter_arn(scope, config.region, restore.trust_anchor_parameter)],
        )
    ]
    if restore.trust_anchor_kms_key_arn:
        statements.append(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[restore.trust_anchor_kms_key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"ssm.{config.region}.amazonaws.com"}
                },
            )
        )
    return statements


def parameter_arn(scope: Construct, region: str, name: str) -> str:
    """An SSM parameter's ARN from its name ("/a/b" or "a/b"); `*` at the end for a path."""
    from aws_cdk import Stack

    return Stack.of(scope).format_arn(
        service="ssm", region=region, resource="parameter", resource_name=name.lstrip("/")
    )
