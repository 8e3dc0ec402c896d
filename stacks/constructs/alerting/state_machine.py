"""A Step Functions state machine that always logs (ALL, to its own log group) and
traces, and pages when an execution stops without running its own failure path."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.config import LOG_RETENTION_NAMES, DeploymentConfig
from stacks.constructs.alerting.alerting import ALARM_PERIOD, Alerting
from stacks.nag import acknowledge, rendered

STOPPED_EXPRESSION = "FILL(timedOut, 0) + FILL(aborted, 0)"


class ObservedStateMachine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        name: str,
        definition: sfn.IChainable,
        timeout: Duration,
        comment: str,
        alerting: Alerting,
        invokes: Sequence[lambda_.IFunction],
        when_stopped: str,
        runbook: str,
    ) -> None:
        """`invokes`: the functions its steps call. `when_stopped`: what a person does
        when an execution timed out or was aborted (its Catch paths did not run)."""
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{name}",
            retention=logs.RetentionDays[
                LOG_RETENTION_NAMES[config.lambda_options.log_retention_days]
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            comment=comment,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        self._acknowledge(invokes)
        # SnsPublish steps grant sns:Publish only; the topics are KMS-encrypted.
        reachable = sfn.State.find_reachable_states(
            definition.start_state, include_error_handlers=True
        )
        if any(isinstance(state, tasks.SnsPublish) for state in reachable):
            alerting.grant_publish_key(self.state_machine)
        self.stopped_alarm = alerting.page_on(
            cloudwatch.Alarm(
                self,
                "StoppedAlarm",
                alarm_description=f"{when_stopped} Runbook: {runbook}",
                metric=cloudwatch.MathExpression(
                    # A metric with no datapoint in the period makes "a + b" have none
                    # either: FILL counts it as 0, so one timeout alone still alarms.
                    expression=STOPPED_EXPRESSION,
                    using_metrics={
                        "timedOut": self.state_machine.metric_timed_out(period=ALARM_PERIOD),
                        "aborted": self.state_machine.metric_aborted(period=ALARM_PERIOD),
                    },
                    period=ALARM_PERIOD,
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )

    def _acknowledge(self, invokes: Sequence[lambda_.IFunction]) -> None:
        role = self.state_machine.role
        for function in invokes:
            arn = rendered(self, function.function_arn)
            acknowledge(
                role,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn}:*]",
                "Step Functions invokes this one function and its versions (Arn:*).",
            )
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "X-Ray trace writes and CloudWatch Logs delivery support no resource-level "
            "permissions.",
        )
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Publishing to the KMS-encrypted alert topics needs GenerateDataKey*; the "
            "statement is scoped to the alert key alone.",
        )
