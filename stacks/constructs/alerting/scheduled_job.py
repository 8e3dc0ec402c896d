"""A function on an EventBridge Scheduler schedule, and what pages when it cannot run:
its own scheduler role, a dead-letter queue for events it could not deliver, an
alarm on the function's errors and one on the dead letters."""

from __future__ import annotations

from aws_cdk import Duration, TimeZone
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from stacks.constructs.alerting.alerting import ALARM_PERIOD, Alerting
from stacks.nag import acknowledge, rendered


def schedule_expression(text: str, timezone: str) -> scheduler.ScheduleExpression:
    if text.startswith("cron("):
        return scheduler.ScheduleExpression.expression(text, TimeZone.of(timezone))
    return scheduler.ScheduleExpression.expression(text)


class ScheduledJob(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        expression: str,
        timezone: str,
        description: str,
        alerting: Alerting,
        what_fails: str,
        next_step: str,
        runbook: str,
    ) -> None:
        """`what_fails` completes "... failed (crashed or timed out), so ..." in the
        errors alarm; `next_step` tells the on-call engineer what to run instead, and
        `runbook` which page of docs/runbooks/ explains the job."""
        super().__init__(scope, construct_id)
        # Under the stack's dead-letter key: an EventBridge rule may share this queue
        # (events.amazonaws.com cannot use alias/aws/sqs).
        self.dead_letters = alerting.dead_letter_queue(self, "DeadLetters")
        # Its own role rather than the stack-wide one CDK would share between targets.
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"))
        alerting.grant_dead_letters_key(role)
        acknowledge(
            role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered(self, function.function_arn)}:*]",
            "The Lambda target grant covers this one function and its versions (Arn:*).",
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=description,
            schedule=schedule_expression(expression, timezone),
            target=targets.LambdaInvoke(
                function,
                input=scheduler.ScheduleTargetInput.from_object({"source": "schedule"}),
                dead_letter_queue=self.dead_letters,
                role=role,
                retry_attempts=2,
                max_event_age=Duration.hours(1),
            ),
        )
        self.errors_alarm = alerting.page_on(
            cloudwatch.Alarm(
                self,
                "ErrorsAlarm",
                alarm_description=f"{what_fails}. {next_step}. Runbook: {runbook}",
                metric=function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )
        self.dead_letter_alarm = alerting.page_on_dead_letters(
            self,
            "DeadLettersAlarm",
            self.dead_letters,
            f"EventBridge Scheduler could not invoke the function ({description}); the failed "
            f"events are in the schedule's dead-letter queue. {next_step}. Runbook: {runbook}",
        )
