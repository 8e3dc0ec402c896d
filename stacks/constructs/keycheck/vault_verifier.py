"""The recovery account's own key verifier (`recovery_account.key_verification`), in the
vault stack: the recovery account trusts nothing in production, so it keeps its own
manifests, its own copy of the crypto user's secret and its own functions.

- capture-key-manifest (vault mode, lambdas/keycheck/capture_handler.py): invoked by
  the vault refresh while its HSM is ACTIVE in a vault cluster; files that cluster's
  manifest under the production cluster whose backup it holds, in this stack's own
  manifest bucket, and compares it with the vault's previous manifest of that cluster
  (VAULT_KEYS_CHANGED). It re-reads the cluster's tags first (cloudhsm:ListTags, on
  the vault region's clusters only) and captures only a vault cluster of this
  deployment;
- verify-keys: invoked by the vault stack's restore (and drill), a restored cluster
  against the vault's manifest of the backup's time.

Both run the main stack's container image in `recovery_account.key_verification`'s
subnets (the VPC of `recovery_account.subnets`) with a security group of their own.
That group has no standing HSM egress: every vault cluster and every restored cluster
gets a new group from CloudHSM, so the refresh (for a capture) and the restore (for a
check) add the two rules that let this group in, and the refresh revokes its own.

The crypto user's secret is the operator's, in the recovery account: the users and
keys travel inside the backup, so it holds the same user's credentials, and its
customer_ca is the recovery account's own copy of the trust anchor.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from lambdas.keycheck.settings import KeyCheckSettings
from lambdas.shared.copies import MANAGED_BY_KEY, MANAGED_BY_VALUE
from lambdas.shared.vault_tags import VAULT_KEY
from stacks.config import DeploymentConfig, VaultKeyVerification
from stacks.constructs.keycheck.key_verification import (
    DOCKERFILE,
    grant_client_reads,
    grant_manifests,
    manifest_storage,
)
from stacks.constructs.shared.container_function import ContainerFunction
from stacks.nag import acknowledge, rendered
from stacks.names import CAPTURE_KEY_MANIFEST, VERIFY_KEYS, key_function_name


def vault_key_verification(config: DeploymentConfig) -> VaultKeyVerification | None:
    vault = config.recovery_account
    return None if vault is None else vault.key_verification


class VaultKeyVerifier(Construct):
    """`.verify.function` and `.security_group` as RegionalKeyVerifier's, for the vault
    restore and drill; `.capture.function` for the vault refresh."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        vault = config.recovery_account
        keys = vault_key_verification(config)
        if vault is None or keys is None:
            raise ValueError("recovery_account.key_verification is not configured")
        self.region = vault.vault_region(config.region)
        self.key, self.access_logs, self.bucket = manifest_storage(
            self, f"{config.deployment_name}: encrypts the vault's key manifests at rest"
        )
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=keys.vpc_id,
            availability_zones=Stack.of(self).availability_zones[:1],
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "VerifierGroup",
            vpc=vpc,
            description="cloudhsm-dr vault key verifier: AWS APIs; HSM rules added per run",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(443),
            "Secrets Manager, S3 and the CloudHSM API (NAT or VPC endpoints)",
        )
        self.secret = secretsmanager.Secret.from_secret_name_v2(
            self, "CryptoUser", keys.crypto_user_secret_name
        )
        settings = KeyCheckSettings(
            manifest_bucket=self.bucket.bucket_name,
            crypto_user_secret=keys.crypto_user_secret_name,
            canary_label=keys.canary_key_label,
            vault_deployment=config.deployment_name,
        )
        subnets = [
            ec2.Subnet.from_subnet_id(self, f"Subnet{index}", subnet)
            for index, subnet in enumerate(keys.subnet_ids)
        ]
        self.verify, self.capture = (
            ContainerFunction(
                self,
                "".join(part.title() for part in service.split("-")),
                config=config,
                function_name=key_function_name(config.deployment_name, service),
                service_name=service,
                dockerfile=DOCKERFILE,
                handler=f"lambdas.keycheck.{handler}.handler",
                description=description,
                environment=settings.to_env(),
                timeout=Duration.minutes(keys.timeout_minutes),
                memory_mb=keys.memory_mb,
                vpc=vpc,
                subnets=subnets,
                security_group=self.security_group,
            )
            for service, handler, description in (
                (
                    VERIFY_KEYS,
                    "verify_handler",
                    "Checks a cluster restored from the vault against the vault's manifest",
                ),
                (
                    CAPTURE_KEY_MANIFEST,
                    "capture_handler",
                    "Captures a vault cluster's key manifest during the vault refresh",
                ),
            )
        )
        for function, write in ((self.verify, False), (self.capture, True)):
            grant_manifests(self, function.role, self.bucket, self.key, write=write)
            grant_client_reads(
                self, function.role, self.secret, keys.secret_kms_key_arn, self.region
            )
        clusters = Stack.of(self).format_arn(
            service="cloudhsm", region=self.region, resource="cluster", resource_name="*"
        )
        # The capture re-reads a cluster's tags before reading its keys: only the vault's.
        self.capture.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadVaultClusterTags",
                actions=["cloudhsm:ListTags"],
                resources=[clusters],
                conditions={
                    "StringEquals": {
                        f"aws:ResourceTag/{MANAGED_BY_KEY}": MANAGED_BY_VALUE,
                        f"aws:ResourceTag/{VAULT_KEY}": config.deployment_name,
                    }
                },
            )
        )
        acknowledge(
            self.capture.role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered(self, clusters)}]",
            "Vault cluster ids are made by CloudHSM at run time; ListTags is limited by "
            "condition to clusters tagged as this deployment's vault.",
        )
        CfnOutput(self, "ManifestBucket", value=self.bucket.bucket_name)
        CfnOutput(self, "VerifyKeysFunction", value=self.verify.function.function_name)
