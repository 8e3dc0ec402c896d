"""Scheduled backup verification: the function, its schedule and its alarms."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.config import DeploymentConfig
from stacks.constructs.alerting import ALARM_PERIOD, Alerting
from stacks.constructs.python_function import PythonFunction
from stacks.nag import acknowledge, rendered
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
        settings = config.verification_settings(alert_topic_arn=alerting.topic.topic_arn)
        self.lambda_ = PythonFunction(
            self,
            "VerifyBackups",
            config=config,
            service_name=VERIFY_BACKUPS,
            handler="lambdas.handlers.verify_backups.handler",
            description="Verifies the backups and HSMs of every protected CloudHSM cluster",
            # The backup settings carry the DR regions: verification checks their copies.
            environment={**settings.to_env(), **config.backup_settings().to_env()},
            timeout=Duration.minutes(5),
        )
        function = self.lambda_.function
        function.add_to_role_policy(
            iam.PolicyStatement(actions=CLOUDHSM_READ_ACTIONS, resources=["*"])
        )
        alerting.topic.grant_publish(function)
        acknowledge(
            self.lambda_.role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeClusters/DescribeBackups and X-Ray trace writes support no "
            "resource-level permissions; every other statement names its resource.",
        )
        acknowledge(
            self.lambda_.role,
            "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Publishing to the KMS-encrypted alert topic needs GenerateDataKey*; the "
            "statement is scoped to the alert key alone.",
        )

        # A schedule that cannot invoke the function parks the event here and pages.
        self.dead_letters = sqs.Queue(
            self,
            "ScheduleDeadLetters",
            encryption=sqs.QueueEncryption.KMS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the verification schedule.",
        )
        # Its own role rather than the stack-wide one CDK would share between targets.
        scheduler_role = iam.Role(
            self, "ScheduleRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com")
        )
        acknowledge(
            scheduler_role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered(self, function.function_arn)}:*]",
            "The Lambda target grant covers this one function and its versions (Arn:*).",
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=f"{config.deployment_name}: verify CloudHSM backups",
            schedule=_expression(config.schedules.verify_backups, config.schedules.timezone),
            target=targets.LambdaInvoke(
                function,
                input=scheduler.ScheduleTargetInput.from_object({"source": "schedule"}),
                dead_letter_queue=self.dead_letters,
                role=scheduler_role,
                retry_attempts=2,
                max_event_age=Duration.hours(1),
            ),
        )

        self.errors_alarm = alerting.page_on(
            cloudwatch.Alarm(
                self,
                "ErrorsAlarm",
                alarm_description=(
                    "The backup verification function failed (crashed or timed out), so "
                    "backups are not being checked. Open its log group "
                    f"{self.lambda_.log_group.log_group_name} and re-run it: hsmdr backup verify"
                ),
                metric=function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )
        self.dead_letter_alarm = alerting.page_on(
            cloudwatch.Alarm(
                self,
                "ScheduleDeadLettersAlarm",
                alarm_description=(
                    "EventBridge Scheduler could not invoke the backup verification function; "
                    "the failed events are in the schedule's dead-letter queue."
                ),
                metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                    period=ALARM_PERIOD, statistic="Maximum"
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )


def _expression(text: str, timezone: str) -> scheduler.ScheduleExpression:
    if text.startswith("cron("):
        from aws_cdk import TimeZone

        return scheduler.ScheduleExpression.expression(text, TimeZone.of(timezone))
    return scheduler.ScheduleExpression.expression(text)
