"""The HSM health check: its function, its schedule, and the alarms around it.

CloudHSM emits no EventBridge events of its own, so failures are seen two ways:
- the check runs on `schedules.health_check` (every 5 minutes by default) and reads
  DescribeClusters against the desired topology;
- a CloudWatch alarm per cluster on AWS/CloudHSM HsmUnhealthy pages on-call and,
  through an EventBridge rule on its state change, runs the check at once. Which
  dimension sets CloudHSM publishes it with is UNCONFIRMED (the user guide lists
  metrics by cluster and by cluster and HSM; AWS Prescriptive Guidance names "HSM ID and
  cluster ID"), and an alarm on a set that is not published never fires: the alarm is a
  Metrics Insights query over the namespace, filtered on the cluster id, which covers
  both (HSM ids change when AWS replaces one, the cluster id does not).
Whatever fires it, the check decides from DescribeClusters alone, so a sensitive
alarm costs at most one extra read. A third alarm per cluster pages when the check's
own metrics say a zone stayed short of ACTIVE HSMs longer than a replacement needs.
"""

from __future__ import annotations

import math

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as event_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.replacement.health import unhealthy_alarm_name
from lambdas.shared import runbooks
from lambdas.shared.env import METRICS_NAMESPACE, Env
from stacks.config import DeploymentConfig, ProtectedClusterConfig, schedule_interval_minutes
from stacks.constructs.alerting.alerting import ALARM_PERIOD, Alerting, rule_arn
from stacks.constructs.alerting.scheduled_job import ScheduledJob
from stacks.constructs.replacement.hsm_replacement import replacement_settings
from stacks.constructs.shared.cluster_locks import ClusterLocks
from stacks.constructs.shared.python_function import PythonFunction
from stacks.nag import acknowledge
from stacks.names import CHECK_HEALTH

# AWS/CloudHSM HsmUnhealthy: Maximum, so one unhealthy HSM among many is not averaged
# away; over 5 minutes, the health check's default cadence; one period, because the
# alarm only makes the check look sooner and page: the check itself decides.
UNHEALTHY_PERIOD = ALARM_PERIOD
MAX_ALARM_WINDOW_MINUTES = 24 * 60  # CloudWatch: periods x period at most one day


class HsmHealthCheck(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
        locks: ClusterLocks,
        replace_hsm: sfn.StateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        settings = alerting.alert_settings(config)
        self.lambda_ = PythonFunction(
            self,
            "CheckHealth",
            config=config,
            service_name=CHECK_HEALTH,
            handler="lambdas.replacement.health_check_handler.handler",
            description="Checks the HSMs of every protected cluster; starts replacements",
            environment={
                **settings.to_env(),
                **replacement_settings(config).to_env(),
                Env.LOCK_TABLE: locks.table.table_name,
                Env.REPLACE_HSM_STATE_MACHINE_ARN: replace_hsm.state_machine_arn,
            },
            timeout=Duration.minutes(2),
        )
        function = self.lambda_.function
        role = self.lambda_.role
        role.add_to_policy(
            iam.PolicyStatement(actions=["cloudhsm:DescribeClusters"], resources=["*"])
        )
        locks.grant_read(function)  # who holds a cluster, and is it still running; no writes
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution", "states:ListExecutions"],
                resources=[replace_hsm.state_machine_arn],
            )
        )
        alerting.grant_alerts(function)
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeClusters and X-Ray trace writes support no resource-level "
            "permissions; every other statement names its resource.",
        )

        self.job = ScheduledJob(
            self,
            "Job",
            function=function,
            expression=config.schedules.health_check,
            timezone=config.schedules.timezone,
            description=f"{config.deployment_name}: check CloudHSM HSM health",
            alerting=alerting,
            what_fails=(
                "The HSM health check function failed (crashed or timed out), so failed "
                "HSMs are neither detected nor replaced"
            ),
            next_step=(
                f"Open its log group {self.lambda_.log_group.log_group_name} and check by "
                "hand: hsmdr cluster health --config <deployment config>"
            ),
            runbook=runbooks.SINGLE_HSM_FAILURE,
        )
        local = [c for c in config.protected_clusters if c.region == stack.region]
        self.unhealthy_alarms = [self._unhealthy_alarm(config, c, alerting) for c in local]
        self.alarm_rule = (
            self._alarm_rule(config, alerting, function) if self.unhealthy_alarms else None
        )
        self.capacity_alarms = [
            self._capacity_alarm(config, c, alerting, i)
            for i, c in enumerate(config.protected_clusters)
        ]

    def _unhealthy_alarm(
        self, config: DeploymentConfig, cluster: ProtectedClusterConfig, alerting: Alerting
    ) -> cloudwatch.Alarm:
        # Alarms see metrics of their own region only: clusters elsewhere rely on the
        # scheduled check (and the capacity alarm, fed by the check's own metrics).
        alarm = cloudwatch.Alarm(
            self,
            f"HsmUnhealthy-{cluster.id}",
            alarm_name=unhealthy_alarm_name(config.deployment_name, cluster.id),
            alarm_description=(
                f"CloudHSM reports an unhealthy HSM in {cluster.name or cluster.id} "
                f"({cluster.id}). AWS replaces unhealthy HSMs itself; the health check runs "
                "now and replaces a DEGRADED one. Look: hsmdr cluster health --config "
                f"<deployment config> --cluster {cluster.id}. Runbook: "
                f"{runbooks.SINGLE_HSM_FAILURE}"
            ),
            metric=hsm_unhealthy_metric(cluster.id),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No data is no unhealthy HSM; a cluster with no HSM at all is the capacity
            # alarm's and the check's to report.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alerting.page_on(alarm)
        alarm.add_ok_action(alerting.action)  # on-call also hears when it clears
        return alarm

    def _alarm_rule(
        self, config: DeploymentConfig, alerting: Alerting, function: lambda_.IFunction
    ) -> events.Rule:
        # Named, so the dead-letter key's policy can name the rule without depending on it.
        name = f"{config.deployment_name}-hsm-unhealthy-alarm"
        alerting.allow_dead_letters_from("events.amazonaws.com", [rule_arn(self, name)])
        return events.Rule(
            self,
            "UnhealthyAlarmRule",
            rule_name=name,
            description="Runs the HSM health check when an HsmUnhealthy alarm goes off",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={
                    "alarmName": [a.alarm_name for a in self.unhealthy_alarms],
                    "state": {"value": ["ALARM"]},
                },
            ),
            targets=[
                event_targets.LambdaFunction(
                    function,
                    dead_letter_queue=self.job.dead_letters,
                    retry_attempts=2,
                    max_event_age=Duration.hours(1),
                )
            ],
        )

    def _capacity_alarm(
        self,
        config: DeploymentConfig,
        cluster: ProtectedClusterConfig,
        alerting: Alerting,
        index: int,
    ) -> cloudwatch.Alarm:
        interval, periods = capacity_alarm_window(config)
        period = Duration.minutes(interval)

        def metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                # As the function emits it: Powertools adds service=<service name> to
                # every metric, single metrics included, and a metric is identified by
                # its full set of dimensions.
                dimensions_map={"ClusterId": cluster.id, "service": CHECK_HEALTH},
                statistic="Maximum",  # the best state any run of the check saw
                period=period,
            )

        return alerting.page_on(
            cloudwatch.Alarm(
                self,
                f"CapacityAlarm{index}",
                alarm_description=(
                    f"A zone of {cluster.name or cluster.id} ({cluster.id}) has had fewer "
                    f"ACTIVE HSMs than desired for {interval * periods} minutes: longer than "
                    "an automatic replacement needs. Look: hsmdr cluster health --config "
                    f"<deployment config> --cluster {cluster.id}; replace: hsmdr hsm replace "
                    f"--config <deployment config> --cluster {cluster.id} --follow. Runbook: "
                    f"{runbooks.SINGLE_HSM_FAILURE}"
                ),
                metric=cloudwatch.MathExpression(
                    expression="desired - healthy",
                    using_metrics={
                        "desired": metric("DesiredHsms"),
                        "healthy": metric("HealthyHsms"),
                    },
                    period=period,
                    label="HSMs missing",
                ),
                threshold=0,
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                # No data means the check did not run: its own errors alarm pages for that.
                treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
            )
        )


def hsm_unhealthy_query(cluster_id: str) -> str:
    """HsmUnhealthy of a cluster under every dimension set that names it (one series)."""
    # Not SQL: a CloudWatch query; cluster ids are checked against their pattern first.
    return f"SELECT MAX(HsmUnhealthy) FROM \"AWS/CloudHSM\" WHERE ClusterId = '{cluster_id}'"  # noqa: S608


def hsm_unhealthy_metric(cluster_id: str) -> cloudwatch.MathExpression:
    return cloudwatch.MathExpression(
        expression=hsm_unhealthy_query(cluster_id),
        using_metrics={},
        period=UNHEALTHY_PERIOD,
        label=f"HsmUnhealthy {cluster_id}",
    )


def capacity_alarm_window(config: DeploymentConfig) -> tuple[int, int]:
    """(period in minutes, periods) for the capacity alarm: one period per run of the
    check; with automatic replacement, long enough for one HSM creation plus a run to
    notice the failure, so the alarm pages only when the automation did not fix it."""
    interval = min(schedule_interval_minutes(config.schedules.health_check), 60)
    if not config.hsm_replacement.auto_replace:
        return interval, 1
    periods = math.ceil(config.hsm_replacement.hsm_timeout_minutes / interval) + 1
    return interval, max(1, min(periods, MAX_ALARM_WINDOW_MINUTES // interval))
