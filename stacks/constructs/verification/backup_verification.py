"""Scheduled backup verification: the function, its schedule and its alarms."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambdas.shared import runbooks
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.scheduled_job import ScheduledJob
from stacks.constructs.shared.python_function import PythonFunction
from stacks.nag import acknowledge
from stacks.names import VERIFY_BACKUPS

# CloudHSM's Describe* actions accept no resource-level restriction.
CLOUDHSM_READ_ACTIONS = ["cloudhsm:DescribeClusters", "cloudhsm:DescribeBackups"]


class BackupVerification(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = alerting.alert_settings(config)
        self.lambda_ = PythonFunction(
            self,
            "VerifyBackups",
            config=config,
            service_name=VERIFY_BACKUPS,
            handler="lambdas.verification.handler.handler",
            description="Verifies the backups and HSMs of every protected CloudHSM cluster",
            # The backup settings carry the DR regions: verification checks their copies.
            environment={**settings.to_env(), **config.backup_settings().to_env()},
            timeout=Duration.minutes(5),
        )
        function = self.lambda_.function
        function.add_to_role_policy(
            iam.PolicyStatement(actions=CLOUDHSM_READ_ACTIONS, resources=["*"])
        )
        alerting.grant_alerts(function)
        acknowledge(
            self.lambda_.role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeClusters/DescribeBackups and X-Ray trace writes support no "
            "resource-level permissions; every other statement names its resource.",
        )

        self.job = ScheduledJob(
            self,
            "Job",
            function=function,
            expression=config.schedules.verify_backups,
            timezone=config.schedules.timezone,
            description=f"{config.deployment_name}: verify CloudHSM backups",
            alerting=alerting,
            what_fails=(
                "The backup verification function failed (crashed or timed out), so backups "
                "are not being checked"
            ),
            next_step=(
                f"Open its log group {self.lambda_.log_group.log_group_name} and re-run it: "
                "hsmdr backup verify --config <deployment config>"
            ),
            runbook=runbooks.ON_DEMAND_BACKUP,
        )
