"""Recovering from a failure: the restore workflow, the HSM replacement and the
CloudHSM quotas both must keep within."""

from __future__ import annotations

from pydantic import Field

from stacks.config.base import KMS_KEY_ARN_PATTERN, Region, Strict, SubnetId


class Restore(Strict):
    """Full cluster restore: where a restored cluster goes and how long steps may take."""

    subnets: dict[Region, list[SubnetId]] = Field(
        default_factory=dict,
        description="recovery subnets per region, one per AZ (DR region: regional "
        "disaster); `--subnet-ids` overrides",
    )
    poll_seconds: int = Field(
        default=30, ge=1, le=3600, description="the restore's wait between status checks"
    )
    cluster_timeout_minutes: int = Field(
        default=60, ge=1, le=24 * 60, description="the cluster must be ACTIVE within this"
    )
    hsm_timeout_minutes: int = Field(
        default=45,
        ge=1,
        le=24 * 60,
        description="each HSM must be ACTIVE (or gone) within this",
    )
    max_hsm_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="DEGRADED HSMs in a row in one AZ before the restore gives up",
    )
    trust_anchor_parameter: str | None = Field(
        default=None,
        pattern=r"^/[A-Za-z0-9_./-]{1,1010}$",
        description="SSM parameter (primary region) holding customerCA.crt; the copy job "
        "replicates it to `/hsmdr/<deployment>/trust-anchor/customerCA.crt` in every DR "
        "region, and a restore copies it to its target region",
    )
    trust_anchor_kms_key_arn: str | None = Field(
        default=None,
        pattern=KMS_KEY_ARN_PATTERN,
        description="the customer-managed KMS key of trust_anchor_parameter, if it is a "
        "SecureString encrypted with one (reading it needs kms:Decrypt on that key)",
    )


class HsmReplacement(Strict):
    """Single-HSM failure: the health check and the replacement workflow."""

    auto_replace: bool = Field(
        default=True, description="start the replacement when the health check finds a failed HSM"
    )
    poll_seconds: int = Field(
        default=30, ge=1, le=3600, description="the replacement's wait between status checks"
    )
    hsm_timeout_minutes: int = Field(
        default=45, ge=1, le=24 * 60, description="how long an HSM may stay in transit"
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="HSMs created (DEGRADED ones deleted) before it gives up",
    )


class Quotas(Strict):
    """The account's CloudHSM quotas per region (AWS defaults; both are adjustable)."""

    clusters_per_region: int = Field(default=4, ge=1, description="clusters per region")
    hsms_per_region: int = Field(default=6, ge=1, description="HSMs per region")
