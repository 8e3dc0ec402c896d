"""The alert topics, one per severity, and their escalation: KMS-encrypted, TLS-only,
subscribed from the config's escalation matrix.

- `topic` (construct id "Topic", unchanged): page severity. Alarms passed to
  `page_on` act on it, and workflow messages that need a person now (a recovery point
  or a recovery at risk: see lambdas/alerting/alerts.py) go to it. Its subscribers are the
  page contacts.
- `notify_topic`: notify severity (working hours), for alarms passed to `notify_on`
  and for messages about drift, one-off failures and what the automation fixed.
- `escalation_topic`: subscribed by `page.escalate_to`. For every alarm passed to
  `page_on`, an escalation alarm on the same metric (same threshold and comparison,
  `escalate_after_minutes` more evaluation periods, every one of them breaching) acts
  on it: it fires only if the page has not been resolved by then.

Workflow messages reach the first-line contacts of the topic they are published to and
never escalate here: acknowledging a message and escalating an unacknowledged one is
the paging service's job (subscribe its https endpoint as a contact).

Who may publish: a topic policy replaces SNS's default one, so each topic's policy
allows, besides its TLS-only Deny, this account's principals (as their own IAM
policies say) and CloudWatch alarms of this account and region
(cloudwatch.amazonaws.com, aws:SourceAccount/aws:SourceArn); the key lets CloudWatch
alarms encrypt for the topics under the same conditions, and every function or state
machine that publishes gets kms:GenerateDataKey*/kms:Decrypt on it.

Dead letters: every dead-letter queue of the stack (subscriptions' redrive, rules',
schedules' and asynchronous invocations') is encrypted with `dead_letter_key`, a
customer key whose policy lets the AWS services that write there use it, each only for
its own sources (aws:SourceArn). A separate key from the topics' one: a key policy
naming a topic ARN on the key that encrypts that topic would be a circular dependency.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambdas.shared import runbooks
from lambdas.shared.settings import VerificationSettings
from stacks.config import Contact, DeploymentConfig
from stacks.constructs.shared.tables import expiring_table
from stacks.nag import acknowledge
from stacks.names import alert_topic_parameter

# CloudWatch evaluates at most one day of periods shorter than an hour, seven days else.
MAX_WINDOW_SECONDS_SHORT = 24 * 3600
MAX_WINDOW_SECONDS_LONG = 7 * 24 * 3600
MAX_DESCRIPTION = 1024


class Alerting(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        matrix = config.escalation
        self.escalate_after_minutes = matrix.severities.page.escalate_after_minutes
        self.key = kms.Key(
            self,
            "Key",
            description=f"{config.deployment_name}: encrypts alert messages at rest",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch alarms publish to an encrypted topic only if the key lets them.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsEncryptForTheTopics",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=self._from_alarms(),
            )
        )
        self.dead_letter_key = kms.Key(
            self,
            "DeadLetterKey",
            description=(
                f"{config.deployment_name}: encrypts dead-letter queues (messages and events "
                "that could not be delivered)"
            ),
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.dead_letters = self.dead_letter_queue(self, "SubscriptionDeadLetters")
        audiences = matrix.audiences()
        name = config.deployment_name
        self.topic = self._topic("Topic", f"{name} CloudHSM alerts", audiences["page"])
        self.notify_topic = self._topic(
            "NotifyTopic", f"{name} CloudHSM notices", audiences["notify"]
        )
        self.escalation_topic = self._topic(
            "EscalationTopic", f"{name} CloudHSM escalations", audiences["escalation"]
        )
        for audience, topic in (
            ("page", self.topic),
            ("notify", self.notify_topic),
            ("escalation", self.escalation_topic),
        ):
            ssm.StringParameter(
                self,
                f"{audience.capitalize()}TopicArn",
                parameter_name=alert_topic_parameter(name, audience),
                string_value=topic.topic_arn,
                description=f"{name}: the {audience} alert topic (hsmdr alerts check reads it)",
            )
        self.action = cw_actions.SnsAction(self.topic)  # page severity
        self.notify_action = cw_actions.SnsAction(self.notify_topic)
        self.escalation_action = cw_actions.SnsAction(self.escalation_topic)
        self.escalations: dict[str, cloudwatch.Alarm] = {}  # page alarm path -> its escalation
        self.undelivered_alarm = self.page_on_dead_letters(
            self,
            "UndeliveredAlertsAlarm",
            self.dead_letters,
            "SNS could not deliver alert messages to a contact (email, SMS or webhook) after "
            f"its retries: they wait in the dead-letter queue {self.dead_letters.queue_name}. "
            "Read them there, and check the subscriptions: hsmdr alerts check --config "
            "<deployment config>. Runbook: the one each message names (e.g. "
            f"{runbooks.SINGLE_HSM_FAILURE}).",
        )
        # What scheduled checks last sent, so a lasting problem is not sent on every run
        # (lambdas/alerting/memory.py). Items expire on their own.
        self.memory = expiring_table(self, "Memory", "key")

    def _from_alarms(self) -> dict[str, dict[str, str]]:
        """Conditions for cloudwatch.amazonaws.com: this account's alarms in this region."""
        stack = Stack.of(self)
        alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name="*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": alarms},
        }

    def _topic(self, construct_id: str, display_name: str, contacts: list[Contact]) -> sns.Topic:
        topic = sns.Topic(
            self, construct_id, display_name=display_name, master_key=self.key, enforce_ssl=True
        )
        # The policy enforce_ssl writes replaces SNS's default one: say who may publish.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=self._from_alarms(),
            )
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AccountPrincipalsPublish",
                principals=[iam.AccountRootPrincipal()],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
            )
        )
        # A message SNS could not deliver to a contact waits in the dead-letter queue.
        self.allow_dead_letters_from("sns.amazonaws.com", [topic.topic_arn])
        endpoints = {e: None for c in contacts for e in c.endpoints()}  # once each, in order
        for kind, endpoint in endpoints:
            if kind == "sms":
                # SmsSubscription drops its dead_letter_queue: the L2 keeps it (same id).
                sns.Subscription(
                    topic,
                    endpoint,
                    topic=topic,
                    endpoint=endpoint,
                    protocol=sns.SubscriptionProtocol.SMS,
                    dead_letter_queue=self.dead_letters,
                )
            else:
                topic.add_subscription(_subscription(kind, endpoint, self.dead_letters))
        return topic

    def dead_letter_queue(self, scope: Construct, construct_id: str) -> sqs.Queue:
        """A dead-letter queue under the dead-letter key (never alias/aws/sqs, whose
        policy no AWS service principal may use), TLS-only, kept 14 days."""
        queue = sqs.Queue(
            scope,
            construct_id,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.dead_letter_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            queue,
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is itself a dead-letter queue.",
        )
        return queue

    def allow_dead_letters_from(self, service: str, source_arns: list[str]) -> None:
        """Let an AWS service encrypt into the dead-letter queues, for these sources only
        (each queue's own policy says which source may send to it)."""
        self.dead_letter_key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(service)],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                    "ArnLike": {"aws:SourceArn": source_arns},
                },
            )
        )

    def grant_dead_letters_key(self, grantee: iam.IGrantable) -> None:
        """What sending to a dead-letter queue takes in KMS, for a role (EventBridge
        Scheduler writes a schedule's dead letters as the schedule's role)."""
        self.dead_letter_key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey")

    def grant_publish_key(self, grantee: iam.IGrantable) -> None:
        """What publishing to the encrypted topics takes in KMS (an SNS publish grant alone
        is refused by the key)."""
        self.key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey*")

    def alert_settings(self, config: DeploymentConfig) -> VerificationSettings:
        """The settings of a function that sends its own messages, at either severity."""
        return config.verification_settings(
            alert_topic_arn=self.topic.topic_arn,
            notify_topic_arn=self.notify_topic.topic_arn,
            alert_memory_table=self.memory.table_name,
        )

    def grant_alerts(self, function: lambda_.IFunction) -> None:
        """Let a function publish to the page and the notify topics, and keep what it
        sent in the alert memory."""
        self.topic.grant_publish(function)
        self.notify_topic.grant_publish(function)
        self.memory.grant(function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")
        assert function.role is not None
        acknowledge(
            function.role,
            "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Publishing to the KMS-encrypted alert topics needs GenerateDataKey*; the "
            "statement is scoped to the alert key alone.",
        )

    def page_on(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        """Page severity: wakes the page contacts, and escalates if it lasts."""
        alarm.add_alarm_action(self.action)
        self.escalations[alarm.node.path] = self._escalation(alarm)
        return alarm

    def page_on_dead_letters(
        self, scope: Construct, construct_id: str, queue: sqs.IQueue, description: str
    ) -> cloudwatch.Alarm:
        """Page as soon as a dead-letter queue holds a message: something that had to be
        delivered (an alert, an invocation, an event) was not."""
        return self.page_on(
            cloudwatch.Alarm(
                scope,
                construct_id,
                alarm_description=description,
                metric=queue.metric_approximate_number_of_messages_visible(
                    period=ALARM_PERIOD, statistic="Maximum"
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )

    def notify_on(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        """Notify severity: the notify contacts read it in working hours."""
        alarm.add_alarm_action(self.notify_action)
        return alarm

    def _escalation(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        """An alarm on the same metric that needs the condition to last
        `escalate_after_minutes` longer: more evaluation periods, all breaching."""
        shape = AlarmShape.of(alarm)
        period = shape.period_seconds
        extra = math.ceil(self.escalate_after_minutes * 60 / period)
        periods = shape.evaluation_periods + extra
        limit = MAX_WINDOW_SECONDS_SHORT if period < 3600 else MAX_WINDOW_SECONDS_LONG
        if periods * period > limit:
            raise ValueError(
                f"{alarm.node.path}: escalating {self.escalate_after_minutes} minutes later "
                f"needs {periods} periods of {period} s, more than CloudWatch evaluates "
                f"({limit // 3600} h): lower escalation.severities.page.escalate_after_minutes"
            )
        relative = alarm.node.path.split("/", 1)[1]
        escalation = cloudwatch.Alarm(
            self,
            "Escalate-" + relative.replace("/", "-"),
            alarm_description=_escalated(shape.description, self.escalate_after_minutes),
            metric=alarm.metric,
            threshold=shape.threshold,
            comparison_operator=shape.comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=shape.datapoints_to_alarm + extra,
            treat_missing_data=shape.missing,
        )
        escalation.add_alarm_action(self.escalation_action)
        return escalation


@dataclass(frozen=True)
class AlarmShape:
    """What an escalation alarm copies from the L1 CfnAlarm of a page alarm."""

    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: cloudwatch.ComparisonOperator
    missing: cloudwatch.TreatMissingData
    description: str

    @classmethod
    def of(cls, alarm: cloudwatch.Alarm) -> AlarmShape:
        cfn = alarm.node.default_child
        if not isinstance(cfn, cloudwatch.CfnAlarm):
            raise TypeError(f"{alarm.node.path}: not a metric alarm")
        evaluation = _number(cfn.evaluation_periods, alarm)
        return cls(
            period_seconds=alarm_period_seconds(cfn),
            evaluation_periods=evaluation,
            datapoints_to_alarm=(
                _number(cfn.datapoints_to_alarm, alarm) if cfn.datapoints_to_alarm else evaluation
            ),
            threshold=float(cfn.threshold or 0),
            comparison=cloudwatch.ComparisonOperator[_enum_name(cfn.comparison_operator or "")],
            missing=cloudwatch.TreatMissingData[_enum_name(cfn.treat_missing_data or "missing")],
            description=cfn.alarm_description or "",
        )


def _subscription(kind: str, endpoint: str, dead_letters: sqs.IQueue) -> sns.ITopicSubscription:
    if kind == "email":
        return subs.EmailSubscription(endpoint, dead_letter_queue=dead_letters)
    # https: a paging service's SNS integration
    return subs.UrlSubscription(endpoint, dead_letter_queue=dead_letters)


def rule_arn(scope: Construct, name: str) -> str:
    """An EventBridge rule's ARN from its name (on the default event bus)."""
    return Stack.of(scope).format_arn(
        service="events",
        resource="rule",
        resource_name=name,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def alarm_period_seconds(cfn: cloudwatch.CfnAlarm) -> int:
    """The period of an alarm, from its L1: `Period`, or the longest period of the
    metrics of a metric-math alarm."""
    if isinstance(cfn.period, int | float):
        return int(cfn.period)
    queries = [
        q
        for q in (cfn.metrics if isinstance(cfn.metrics, list) else [])
        if isinstance(q, cloudwatch.CfnAlarm.MetricDataQueryProperty)
    ]
    periods = [int(q.period) for q in queries if isinstance(q.period, int | float)]
    periods += [
        int(q.metric_stat.period)
        for q in queries
        if isinstance(q.metric_stat, cloudwatch.CfnAlarm.MetricStatProperty)
    ]
    if not periods:
        raise ValueError(f"{cfn.node.path}: alarm has no period")
    return max(periods)


def _number(value: object, alarm: cloudwatch.Alarm) -> int:
    if not isinstance(value, int | float):
        raise TypeError(f"{alarm.node.path}: evaluation periods must be a number here")
    return int(value)


def _enum_name(cfn_value: str) -> str:
    """`GreaterThanThreshold` or `notBreaching` (CloudFormation) as CDK's enum member."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", cfn_value).upper()


def _escalated(description: str | None, minutes: int) -> str:
    prefix = f"ESCALATED: still in alarm {minutes} minutes after it paged. "
    text = prefix + (description or "")
    if len(text) > MAX_DESCRIPTION and not Token.is_unresolved(text):
        text = text[: MAX_DESCRIPTION - 1] + "…"
    return text


ALARM_PERIOD = Duration.minutes(5)
