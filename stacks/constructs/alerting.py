"""The alert topic: KMS-encrypted, TLS-only, subscribed from the config."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from stacks.config import DeploymentConfig


class Alerting(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
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
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{config.deployment_name} CloudHSM alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        notifications = config.notifications
        for email in notifications.emails:
            self.topic.add_subscription(subs.EmailSubscription(email))
        for number in notifications.sms:
            self.topic.add_subscription(subs.SmsSubscription(number))
        for url in notifications.https:
            self.topic.add_subscription(subs.UrlSubscription(url))
        self.action = cw_actions.SnsAction(self.topic)

    def page_on(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        alarm.add_alarm_action(self.action)
        return alarm


ALARM_PERIOD = Duration.minutes(5)
