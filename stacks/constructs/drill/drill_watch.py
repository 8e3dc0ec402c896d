"""The drill watcher: once a day, how long since a DR drill last succeeded.

An alarm evaluates at most seven days of data and drills run every few months, so the
watcher reads DrillSucceeded back over `drills.period_days` (GetMetricData, in the
deployment region and every DR region) and emits DaysSinceSuccessfulDrill, which the
monitoring alarm watches. It reads metrics only.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambdas.drill.watch import DrillWatchSettings
from lambdas.shared import runbooks
from lambdas.shared.env import METRICS_NAMESPACE
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.scheduled_job import ScheduledJob
from stacks.constructs.shared.python_function import PythonFunction
from stacks.nag import acknowledge
from stacks.names import DR_DRILL, WATCH_DRILLS

SCHEDULE = "rate(1 day)"


def drill_watch_settings(config: DeploymentConfig, region: str) -> DrillWatchSettings:
    return DrillWatchSettings(
        period_days=config.drills.period_days,
        regions=(region, *config.dr_regions),
        namespace=METRICS_NAMESPACE,
        dimensions=(("service", DR_DRILL),),
    )


class DrillWatch(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, alerting: Alerting
    ) -> None:
        super().__init__(scope, construct_id)
        settings = drill_watch_settings(config, Stack.of(self).region)
        self.lambda_ = PythonFunction(
            self,
            "WatchDrills",
            config=config,
            service_name=WATCH_DRILLS,
            handler="lambdas.drill.watch_handler.handler",
            description="Days since the last successful DR drill, from the drill's own metric",
            environment=settings.to_env(),
            timeout=Duration.minutes(1),
        )
        # GetMetricData supports no resource-level permissions.
        self.lambda_.function.add_to_role_policy(
            iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])
        )
        acknowledge(
            self.lambda_.role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:GetMetricData and X-Ray trace writes support no resource-level "
            "permissions; the function only reads metrics.",
        )
        self.job = ScheduledJob(
            self,
            "Job",
            function=self.lambda_.function,
            expression=SCHEDULE,
            timezone=config.schedules.timezone,
            description=f"{config.deployment_name}: days since the last successful DR drill",
            alerting=alerting,
            what_fails=(
                "The drill watcher failed (crashed or timed out), so an overdue DR drill "
                "goes unnoticed"
            ),
            next_step=(
                f"Open its log group {self.lambda_.log_group.log_group_name}; the last drill "
                "results are on the deployment's CloudWatch dashboard, and the latest report "
                "is printed by: hsmdr drill report --config <deployment config>"
            ),
            runbook=runbooks.DR_DRILL,
        )
