"""Key-level verification: the manifest bucket, the verifier and the scheduled capture.

Two functions run the same container image (lambdas/keycheck/Dockerfile: AWS's
CloudHSM SDK 5 PKCS#11 library and CLI, python-pkcs11, Powertools) in the clusters'
VPC, with a security group of their own:

- capture-key-manifest, on a schedule (daily by default): the key manifest of each
  production cluster, into the manifest bucket;
- verify-keys, invoked by a drill (or by hand): a (restored) cluster against the
  manifest of its backup's time.

Network: egress TCP 2223-2225 to the configured HSM security group only, and HTTPS
for Secrets Manager, S3 and CloudHSM's API (the subnets need a NAT gateway or VPC
endpoints). A cluster's security group admits only its own members, so the stack also
adds the matching ingress rule to that group: TCP 2223-2225 from the verifier's group.
A restored cluster gets a security group of its own from CloudHSM: the drill that
creates it must let this group in (ingress on the new group, and egress here to it)
before it invokes verify-keys.

The crypto user's secret is not made here: it holds an HSM password, created by
the operator who creates the crypto user; the functions may only read it.

With `key_verification.regions`, DR stacks run a verify-keys function of their own
(regional_verifier.py) that reads the manifests here: this construct then writes the
bucket's name to an SSM parameter and admits those functions' roles (fixed names) in
the bucket's and key's policies, to read manifests/ only and decrypt only through S3.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambdas.keycheck.manifest import MANIFEST_PREFIX
from lambdas.keycheck.settings import KeyCheckSettings, KeyCluster
from lambdas.shared import runbooks
from stacks.config import DeploymentConfig, KeyVerification, RegionalVerifier
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.scheduled_job import ScheduledJob
from stacks.constructs.shared.container_function import ContainerFunction
from stacks.nag import acknowledge, rendered
from stacks.names import CAPTURE_KEY_MANIFEST, VERIFY_KEYS, key_function_name

DOCKERFILE = "lambdas/keycheck/Dockerfile"
HSM_PORTS = (2223, 2225)  # CloudHSM client to HSM (facts page)
Network = KeyVerification | RegionalVerifier  # vpc_id, subnet_ids, hsm_security_group_id


def manifest_bucket_parameter(deployment_name: str) -> str:
    """SSM parameter, in the deployment region, naming the manifest bucket: DR-region
    verifiers read it there (the bucket's name is CloudFormation's)."""
    return f"/hsmdr/{deployment_name}/key-manifest-bucket"


def regional_verifier_role_name(deployment_name: str, region: str) -> str:
    """The DR-region verifier's role has a fixed name: the manifest bucket's and key's
    policies in the deployment region admit exactly that role (deployment name <= 40
    characters, region <= 14: at most 60 of IAM's 64)."""
    return f"{deployment_name}-keys-{region}"


class KeyVerificationConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
    ) -> None:
        super().__init__(scope, construct_id)
        keys = config.key_verification
        if keys is None:
            raise ValueError("key_verification is not configured")
        self.key, self.access_logs, self.bucket = manifest_storage(
            self, f"{config.deployment_name}: encrypts key manifests at rest"
        )
        self.secret = secretsmanager.Secret.from_secret_name_v2(
            self, "CryptoUser", keys.crypto_user_secret_name
        )
        self.secret_key_arn = keys.secret_kms_key_arn  # None: aws/secretsmanager
        self.region = config.region
        self.security_group = self._security_group(keys)
        settings = KeyCheckSettings(
            manifest_bucket=self.bucket.bucket_name,
            crypto_user_secret=keys.crypto_user_secret_name,
            clusters=tuple(KeyCluster(c.id, c.region) for c in config.key_clusters()),
            canary_label=keys.canary_key_label,
        )
        self.verify = self._function(config, keys, settings, VERIFY_KEYS)
        self.capture = self._function(config, keys, settings, CAPTURE_KEY_MANIFEST)
        self._grant(self.verify, write=False)
        self._grant(self.capture, write=True)
        self.job = ScheduledJob(
            self,
            "Capture",
            function=self.capture.function,
            expression=keys.capture_schedule,
            timezone=config.schedules.timezone,
            description=f"{config.deployment_name}: capture the CloudHSM key manifests",
            alerting=alerting,
            what_fails=(
                "The key manifest capture failed (an HSM unreachable, a refused login, a "
                "crash or a timeout), so drills compare restores with an older manifest"
            ),
            next_step=(
                f"Open its log group {self.capture.log_group.log_group_name} and capture "
                "by hand: hsmdr keys manifest --cluster ID --config <deployment config>"
            ),
            runbook=runbooks.DR_DRILL,
        )
        if keys.regions:
            self._admit_regional_verifiers(config, sorted(keys.regions))
        CfnOutput(self, "ManifestBucket", value=self.bucket.bucket_name)
        CfnOutput(self, "VerifyKeysFunction", value=self.verify.function.function_name)

    def _admit_regional_verifiers(self, config: DeploymentConfig, regions: list[str]) -> None:
        """DR-region verifiers read manifests here (cross-region GetObject): the bucket's
        name in an SSM parameter, and the bucket's and key's policies admit their roles
        (fixed names) to read manifests only, decrypting only through S3."""
        ssm.StringParameter(
            self,
            "ManifestBucketName",
            parameter_name=manifest_bucket_parameter(config.deployment_name),
            string_value=self.bucket.bucket_name,
            description="The key manifest bucket: DR-region key verifiers read it here",
        )
        stack = Stack.of(self)
        roles = [
            stack.format_arn(
                service="iam",
                region="",
                resource="role",
                resource_name=regional_verifier_role_name(config.deployment_name, region),
            )
            for region in regions
        ]
        # Principal "*" narrowed to those role ARNs: a policy naming a role as principal is
        # refused until the role exists, and the DR stacks deploy after this one.
        admitted = {
            "ArnEquals": {"aws:PrincipalArn": roles},
            "StringEquals": {"aws:PrincipalAccount": stack.account},
        }
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RegionalVerifiersReadManifests",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(f"{MANIFEST_PREFIX}*")],
                conditions=admitted,
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RegionalVerifiersListManifests",
                principals=[iam.AnyPrincipal()],
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={
                    **admitted,
                    "StringLike": {"s3:prefix": [f"{MANIFEST_PREFIX}*"]},
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RegionalVerifiersDecryptManifests",
                principals=[iam.AnyPrincipal()],
                actions=["kms:Decrypt"],
                resources=["*"],  # a key policy's resource is the key itself
                conditions={
                    **admitted,
                    "StringEquals": {
                        "aws:PrincipalAccount": stack.account,
                        "kms:ViaService": f"s3.{config.region}.amazonaws.com",
                    },
                },
            )
        )

    def _security_group(self, keys: Network) -> ec2.SecurityGroup:
        return verifier_security_group(self, self._vpc(keys), keys.hsm_security_group_id)

    def _vpc(self, keys: Network) -> ec2.IVpc:
        if not hasattr(self, "_imported_vpc"):
            self._imported_vpc = ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=keys.vpc_id,
                availability_zones=Stack.of(self).availability_zones[:1],
            )
        return self._imported_vpc

    def _function(
        self,
        config: DeploymentConfig,
        keys: KeyVerification,
        settings: KeyCheckSettings,
        service: str,
    ) -> ContainerFunction:
        return key_function(
            self,
            config,
            service,
            vpc=self._vpc(keys),
            settings=settings,
            security_group=self.security_group,
        )

    def _grant(self, function: ContainerFunction, *, write: bool) -> None:
        grant_manifests(self, function.role, self.bucket, self.key, write=write)
        grant_client_reads(self, function.role, self.secret, self.secret_key_arn, self.region)


def manifest_storage(scope: Construct, description: str) -> tuple[kms.Key, s3.Bucket, s3.Bucket]:
    """The manifest bucket (versioned, KMS-encrypted with a key of its own, TLS only,
    access-logged, retained) and its access-log bucket, in `scope`."""
    # Access logs delivered under a bucket policy, not the legacy LogDeliveryWrite ACL
    # (the flag applies to this construct's buckets only; it must precede them).
    scope.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
    key = kms.Key(
        scope,
        "ManifestKey",
        description=description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    logs = s3.Bucket(
        scope,
        "AccessLogs",
        # Server access log delivery supports SSE-S3 only, not SSE-KMS.
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,  # logs via policy, no ACL
        versioned=True,
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
        removal_policy=RemovalPolicy.RETAIN,
    )
    bucket = s3.Bucket(
        scope,
        "Manifests",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        versioned=True,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=logs,
        server_access_logs_prefix="manifests/",
        removal_policy=RemovalPolicy.RETAIN,
    )
    return key, logs, bucket


def grant_manifests(
    scope: Construct, role: iam.IRole, bucket: s3.IBucket, key: kms.IKey, *, write: bool
) -> None:
    """Read (and with `write`, write) manifests/ of the bucket, through its key."""
    manifests = bucket.arn_for_objects(f"{MANIFEST_PREFIX}*")
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject", *(["s3:PutObject"] if write else [])],
            resources=[manifests],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{MANIFEST_PREFIX}*"]}},
        )
    )
    key_actions = ["kms:Decrypt", *(["kms:GenerateDataKey"] if write else [])]
    role.add_to_principal_policy(iam.PolicyStatement(actions=key_actions, resources=[key.key_arn]))
    acknowledge(
        role,
        f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered(scope, manifests)}]",
        "Manifests are written under manifests/{cluster_id}/ with a timestamp in the "
        "name, so objects are named by that prefix; nothing else in the bucket.",
    )


def verifier_security_group(
    scope: Construct, vpc: ec2.IVpc, hsm_security_group_id: str
) -> ec2.SecurityGroup:
    """The verifier's group: TCP 2223-2225 to the HSM group (which admits it back) and
    HTTPS for the AWS APIs, nothing else."""
    group = ec2.SecurityGroup(
        scope,
        "VerifierGroup",
        vpc=vpc,
        description="cloudhsm-dr key verifier: to the HSMs and AWS APIs only",
        allow_all_outbound=False,
    )
    hsms = ec2.SecurityGroup.from_security_group_id(
        scope, "HsmGroup", hsm_security_group_id, mutable=False
    )
    group.add_egress_rule(
        ec2.Peer.security_group_id(hsms.security_group_id),
        ec2.Port.tcp_range(*HSM_PORTS),
        "CloudHSM client to the HSMs",
    )
    # The other half: CloudHSM makes the cluster's group admit only its members.
    ec2.CfnSecurityGroupIngress(
        scope,
        "HsmIngressFromVerifier",
        group_id=hsm_security_group_id,
        ip_protocol="tcp",
        from_port=HSM_PORTS[0],
        to_port=HSM_PORTS[1],
        source_security_group_id=group.security_group_id,
        description="cloudhsm-dr key verifier to the HSMs",
    )
    group.add_egress_rule(
        ec2.Peer.any_ipv4(),
        ec2.Port.tcp(443),
        "Secrets Manager, SSM, S3 and the CloudHSM API (NAT or VPC endpoints)",
    )
    return group


def key_function(
    scope: Construct,
    config: DeploymentConfig,
    service: str,
    *,
    vpc: ec2.IVpc,
    settings: KeyCheckSettings,
    security_group: ec2.ISecurityGroup,
    network: Network | None = None,
) -> ContainerFunction:
    """One of the two functions (lambdas/keycheck/verify_handler.py,
    capture_handler.py); `network`: a DR region's verifier section, else `keys`."""
    handler = {VERIFY_KEYS: "verify_handler"}.get(service, "capture_handler")
    keys = config.key_verification
    assert keys is not None  # the constructs check it first
    place = network or keys
    return ContainerFunction(
        scope,
        "".join(part.title() for part in service.split("-")),
        config=config,
        function_name=key_function_name(config.deployment_name, service),
        service_name=service,
        dockerfile=DOCKERFILE,
        handler=f"lambdas.keycheck.{handler}.handler",
        description=(
            "Checks a CloudHSM cluster's keys against a key manifest over PKCS#11"
            if service == VERIFY_KEYS
            else "Captures the key manifests of the production CloudHSM clusters"
        ),
        environment=settings.to_env(),
        timeout=Duration.minutes(keys.timeout_minutes),
        memory_mb=keys.memory_mb,
        vpc=vpc,
        subnets=[
            ec2.Subnet.from_subnet_id(scope, f"{service}-{subnet}", subnet)
            for subnet in place.subnet_ids
        ],
        security_group=security_group,
    )


def grant_client_reads(
    scope: Construct,
    role: iam.IRole,
    secret: secretsmanager.ISecret,
    secret_key_arn: str | None,
    region: str,
) -> None:
    """What every key function reads besides manifests: the crypto user's secret and
    the cluster's HSMs (DescribeClusters)."""
    secret.grant_read(role)
    if secret_key_arn is not None:
        # A customer key of the secret: decrypt only as Secrets Manager reads it.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[secret_key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
                },
            )
        )
    # configure-pkcs11 --cluster-id finds the HSMs; Describe* has no resource scope.
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["cloudhsm:DescribeClusters"], resources=["*"])
    )
    acknowledge(
        role,
        "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        "cloudhsm:DescribeClusters, X-Ray trace writes and the VPC network interface "
        "actions support no resource-level permissions; every other statement names "
        "its resource.",
    )
