"""The copy monitor of one DR region: a scheduled, read-only look at the copies there."""

from __future__ import annotations

from datetime import timedelta

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambdas.backups.primary_watch import PrimaryWatch
from lambdas.shared import runbooks
from stacks.config import DeploymentConfig, schedule_interval_minutes
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.scheduled_job import ScheduledJob
from stacks.constructs.shared.python_function import PythonFunction
from stacks.nag import acknowledge
from stacks.names import COPY_MONITOR


class CopyMonitor(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
        region: str,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = alerting.alert_settings(config)
        # Two verification runs missed (and a margin): the primary region is silent, and
        # this monitor speaks for the copies itself.
        verify_every = timedelta(minutes=schedule_interval_minutes(config.schedules.verify_backups))
        watch = PrimaryWatch(config.region, silent_after=2 * verify_every + timedelta(minutes=10))
        self.lambda_ = PythonFunction(
            self,
            "MonitorCopies",
            config=config,
            service_name=COPY_MONITOR,
            handler="lambdas.backups.copy_monitor_handler.handler",
            description=f"Checks that {region} holds fresh READY copies of every protected cluster",
            environment={
                **settings.to_env(),
                **config.backup_settings().to_env(),
                **watch.to_env(),
            },
            timeout=Duration.minutes(5),
        )
        function = self.lambda_.function
        # Read-only: DescribeBackups and GetMetricData support no resource-level
        # permissions (the metric read is the primary verification's heartbeat).
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudhsm:DescribeBackups", "cloudwatch:GetMetricData"], resources=["*"]
            )
        )
        alerting.grant_alerts(function)
        acknowledge(
            self.lambda_.role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeBackups, cloudwatch:GetMetricData and X-Ray trace writes "
            "support no resource-level permissions; every other statement names its resource.",
        )
        self.job = ScheduledJob(
            self,
            "Job",
            function=function,
            expression=config.schedules.verify_backups,
            timezone=config.schedules.timezone,
            description=f"{config.deployment_name}: check the CloudHSM copies in {region}",
            alerting=alerting,
            what_fails=(
                f"The copy monitor in {region} failed (crashed or timed out), so nothing "
                "checks from this region that fresh copies are here to restore from"
            ),
            next_step=(
                f"Open its log group {self.lambda_.log_group.log_group_name}, and list the "
                f"copies by hand: hsmdr backup list --config <deployment config> --region {region}"
            ),
            runbook=runbooks.COPY_FAILURE,
        )
