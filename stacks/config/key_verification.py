"""Key-level checks over PKCS#11: the verifier in the deployment region's VPC and one
in each DR region that has one."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from lambdas.shared.protected import CLUSTER_ID_PATTERN
from stacks.config.base import KMS_KEY_ARN_PATTERN, Region, Strict, each_subnet_once
from stacks.config.schedules import Schedule


class RegionalVerifier(Strict):
    """A verify-keys function in a DR region's VPC (`key_verification.regions`): it checks
    the clusters restored there and the warm standbys kept there."""

    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$", description="the DR region's VPC")
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        min_length=1,
        max_length=16,
        description="private subnets with a route to Secrets Manager, SSM, S3 (in the "
        "deployment region too) and the CloudHSM API",
    )
    hsm_security_group_id: str = Field(
        pattern=r"^sg-[0-9a-f]{8,17}$",
        description="the security group of the region's clusters (warm standbys): the "
        "verifier's standing HSM egress (TCP 2223-2225); a restored cluster's own group is "
        "opened by the restore",
    )
    secret_kms_key_arn: str | None = Field(
        default=None,
        pattern=KMS_KEY_ARN_PATTERN,
        description="the customer-managed KMS key of the crypto user's secret's replica in "
        "this region, if not aws/secretsmanager",
    )

    @field_validator("subnet_ids")
    @classmethod
    def _distinct_subnets(cls, value: list[str]) -> list[str]:
        return each_subnet_once(value)


class KeyVerification(Strict):
    """Key-level checks over PKCS#11 (container-image functions in the clusters' VPC)."""

    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$", description="the clusters' VPC")
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        min_length=1,
        max_length=16,
        description="private subnets with a route to Secrets Manager, S3 and the CloudHSM API",
    )
    hsm_security_group_id: str = Field(
        pattern=r"^sg-[0-9a-f]{8,17}$",
        description="the cluster's security group: the only HSM egress (TCP 2223-2225)",
    )
    crypto_user_secret_name: str = Field(
        pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$",
        description='JSON {"username", "password", "customer_ca"} of the crypto user',
    )
    secret_kms_key_arn: str | None = Field(
        default=None,
        pattern=KMS_KEY_ARN_PATTERN,
        description="the customer-managed KMS key that encrypts the crypto user's secret, "
        "if not the AWS-managed aws/secretsmanager (reading it needs kms:Decrypt on it)",
    )
    clusters: list[Annotated[str, Field(pattern=CLUSTER_ID_PATTERN)]] = Field(
        default=[], description="clusters whose manifests are captured (default: all)"
    )
    capture_schedule: Schedule = Field(
        default="rate(1 day)", description="when the key manifests are captured"
    )
    canary_key_label: str = Field(
        default="hsmdr-canary",
        min_length=1,
        max_length=127,
        description="the key used for a live crypto test on every check",
    )
    memory_mb: int = Field(
        default=512, ge=128, le=10240, description="the two key functions' memory"
    )
    timeout_minutes: int = Field(
        default=5, ge=1, le=15, description="the two key functions' timeout"
    )
    regions: dict[Region, RegionalVerifier] = Field(
        default={},
        description="a verifier in a DR region's VPC, `{dr_region: {vpc_id, subnet_ids, "
        "hsm_security_group_id, secret_kms_key_arn (optional)}}`: restores there check "
        "their keys, and that region's warm "
        "standbys are checked daily; it reads the manifests from this region's bucket and "
        "the crypto user's secret from its replica there (same name)",
    )

    @field_validator("subnet_ids")
    @classmethod
    def _distinct_subnets(cls, value: list[str]) -> list[str]:
        return each_subnet_once(value)
