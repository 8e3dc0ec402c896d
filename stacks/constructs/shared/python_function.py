"""A Python Lambda function with this project's defaults, in one place.

Python 3.13 on arm64, the official Powertools layer, JSON logs into an explicit
log group with retention, X-Ray active tracing, and a role that holds only what
the caller grants plus writing to its own log group.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from lambdas.shared.env import METRICS_NAMESPACE, Env
from stacks.config import LOG_RETENTION_NAMES, DeploymentConfig
from stacks.constructs.shared.lambda_code import lambda_code
from stacks.nag import acknowledge
from stacks.names import powertools_layer_arn

LAMBDA_ENV_LIMIT_BYTES = 4096  # Lambda's limit on all environment variables together


class PythonFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        service_name: str,
        handler: str,
        description: str,
        environment: Mapping[str, str],
        timeout: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=_retention(config.lambda_options.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{config.deployment_name} {service_name} function",
        )
        # Writing to its own log group only, instead of AWSLambdaBasicExecutionRole's "*".
        self.log_group.grant_write(self.role)
        env = {
            Env.SERVICE_NAME: service_name,
            Env.METRICS_NAMESPACE: METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # What the messages a function words name (runbooks.from_environment).
            Env.DEPLOYMENT_NAME: config.deployment_name,
            **({Env.DOCS_URL: config.docs_url} if config.docs_url else {}),
            **environment,
        }
        _check_env_size(service_name, env)
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            powertools_layer_arn(stack.region, config.lambda_options.powertools_layer_version),
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            code=lambda_code(stack),
            handler=handler,
            memory_size=config.lambda_options.memory_mb,
            timeout=timeout,
            role=self.role,
            layers=[layer],
            environment=env,
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=self.log_group,
        )
        acknowledge(
            self.function,
            "AwsSolutions::AwsSolutions-L1",
            "Python 3.13 is the runtime this code is built and tested for; moving to a "
            "newer runtime is a deliberate, tested change.",
        )


def _retention(days: int) -> logs.RetentionDays:
    return logs.RetentionDays[LOG_RETENTION_NAMES[days]]


def _check_env_size(service_name: str, env: Mapping[str, str]) -> None:
    size = sum(len(k) + len(v) for k, v in env.items() if not k.startswith("${"))
    if size > LAMBDA_ENV_LIMIT_BYTES:
        raise ValueError(
            f"{service_name}: environment is {size} bytes, over Lambda's "
            f"{LAMBDA_ENV_LIMIT_BYTES}: protect fewer clusters per deployment"
        )
