"""A container-image Lambda function in a VPC, with this project's defaults.

For code that needs more than the zip runtime offers: the key verifier ships AWS's
CloudHSM PKCS#11 library, which is not on PyPI (lambdas/keycheck/Dockerfile). Like
PythonFunction: arm64, JSON logs into an explicit log group with retention, X-Ray
active tracing, and a role with only what the caller grants plus its log group.

`cdk synth` stages the image's build context into cdk.out without building it;
`cdk deploy` (cdk-assets) builds and pushes it, so deploying needs Docker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, IgnoreMode, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from lambdas.shared.env import METRICS_NAMESPACE, Env
from stacks.config import LOG_RETENTION_NAMES, DeploymentConfig
from stacks.constructs.shared.lambda_code import REPO_ROOT

# The build context is the repository with everything but lambdas/ left out, so the
# image copies `lambdas/` as the zip functions package it.
VPC_ACCESS_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
_ONLY_LAMBDAS = ["*", ".*", "!lambdas", "!lambdas/**", "**/__pycache__", "**/*.pyc"]


def image_code(dockerfile: str, handler: str) -> lambda_.DockerImageCode:
    return lambda_.DockerImageCode.from_image_asset(
        str(REPO_ROOT),
        file=dockerfile,
        cmd=[handler],
        platform=ecr_assets.Platform.LINUX_ARM64,
        exclude=_ONLY_LAMBDAS,
        ignore_mode=IgnoreMode.GLOB,
    )


class ContainerFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        function_name: str,
        service_name: str,
        dockerfile: str,
        handler: str,
        description: str,
        environment: Mapping[str, str],
        timeout: Duration,
        memory_mb: int,
        vpc: ec2.IVpc,
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays[
                LOG_RETENTION_NAMES[config.lambda_options.log_retention_days]
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{config.deployment_name} {service_name} function",
        )
        self.log_group.grant_write(self.role)
        # What AWSLambdaVPCAccessExecutionRole grants, which CDK adds only to roles it
        # makes itself: Lambda manages the function's network interfaces in the VPC.
        self.role.add_to_policy(iam.PolicyStatement(actions=VPC_ACCESS_ACTIONS, resources=["*"]))
        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            function_name=function_name,
            description=description,
            code=image_code(dockerfile, handler),
            architecture=lambda_.Architecture.ARM_64,
            memory_size=memory_mb,
            timeout=timeout,
            role=self.role,
            environment={
                Env.SERVICE_NAME: service_name,
                Env.METRICS_NAMESPACE: METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=self.log_group,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=list(subnets)),
            security_groups=[security_group],
        )
