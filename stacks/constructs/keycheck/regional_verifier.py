"""A verify-keys function in a DR region (`key_verification.regions`): the DR stack's
restores check the restored cluster's keys with it, and the warm standbys kept there
are checked with it daily.

It runs the main stack's container image in that region's VPC with a security group of
its own (stacks/constructs/keycheck/key_verification.py verifier_security_group). No
bucket, no capture: manifests are captured in the deployment region, and this function
reads them there (cross-region GetObject): the bucket's name from the SSM parameter
the main stack writes, the objects through the bucket's and key's policies, which admit
this function's role by its fixed name (read-only, manifests/ only, decryption only
through S3). While the deployment region is down there is no manifest to read: the
check reports that as its error, it does not pass.

The crypto user's secret is read in this region under the same name: replicate it
here (Secrets Manager replica), as the key-verification runbook says.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from lambdas.keycheck.settings import KeyCheckSettings
from stacks.config import DeploymentConfig
from stacks.constructs.keycheck.key_verification import (
    grant_client_reads,
    key_function,
    manifest_bucket_parameter,
    regional_verifier_role_name,
    verifier_security_group,
)
from stacks.names import VERIFY_KEYS


class RegionalKeyVerifier(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, region: str
    ) -> None:
        super().__init__(scope, construct_id)
        keys = config.key_verification
        verifier = config.regional_verifier(region)
        if keys is None or verifier is None:
            raise ValueError(f"key_verification.regions.{region} is not configured")
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=verifier.vpc_id,
            availability_zones=Stack.of(self).availability_zones[:1],
        )
        self.security_group = verifier_security_group(self, vpc, verifier.hsm_security_group_id)
        parameter = manifest_bucket_parameter(config.deployment_name)
        settings = KeyCheckSettings(
            manifest_bucket="",
            crypto_user_secret=keys.crypto_user_secret_name,
            canary_label=keys.canary_key_label,
            manifest_bucket_parameter=parameter,
            manifest_region=config.region,
        )
        self.verify = key_function(
            self,
            config,
            VERIFY_KEYS,
            vpc=vpc,
            settings=settings,
            security_group=self.security_group,
            network=verifier,
        )
        role = self.verify.role
        # The fixed name the manifest bucket's and key's policies admit.
        cfn_role = role.node.default_child
        assert isinstance(cfn_role, iam.CfnRole)
        cfn_role.role_name = regional_verifier_role_name(config.deployment_name, region)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ManifestBucketName",
                actions=["ssm:GetParameter"],
                resources=[
                    Stack.of(self).format_arn(
                        service="ssm",
                        region=config.region,
                        resource="parameter",
                        resource_name=parameter.lstrip("/"),
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                ],
            )
        )
        secret = secretsmanager.Secret.from_secret_name_v2(
            self, "CryptoUser", keys.crypto_user_secret_name
        )
        grant_client_reads(self, role, secret, verifier.secret_kms_key_arn, region)
        CfnOutput(self, "VerifyKeysFunction", value=self.verify.function.function_name)
