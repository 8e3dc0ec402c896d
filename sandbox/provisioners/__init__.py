"""Create one CloudFormation resource through the ordinary AWS API (moto behind it).

Each provisioner receives the resource's properties with every intrinsic already
resolved and returns what CloudFormation would expose: the `Ref` value (physical id)
and the `Fn::GetAtt` attributes. Return values follow the CloudFormation resource
reference ("Return values" section of each resource type).
"""

from __future__ import annotations

from sandbox.provisioners.compute import (
    environment_variables,
    function_handler,
    lambda_function,
    scheduler_schedule,
    scheduler_schedule_group,
    state_machine,
)
from sandbox.provisioners.context import Properties, ProvisionContext, Provisioned, Provisioner
from sandbox.provisioners.events import events_rule, lambda_permission
from sandbox.provisioners.messaging import (
    sns_subscription,
    sns_topic,
    sns_topic_policy,
    sqs_queue,
    sqs_queue_policy,
)
from sandbox.provisioners.monitoring import cloudwatch_alarm, log_group
from sandbox.provisioners.network import (
    security_group,
    security_group_egress,
    security_group_ingress,
)
from sandbox.provisioners.security import (
    iam_managed_policy,
    iam_policy,
    iam_role,
    kms_alias,
    kms_key,
    secretsmanager_secret,
)
from sandbox.provisioners.storage import (
    dynamodb_table,
    s3_bucket,
    s3_bucket_policy,
    ssm_parameter,
)

__all__ = [
    "PROVISIONERS",
    "Properties",
    "ProvisionContext",
    "Provisioned",
    "Provisioner",
    "environment_variables",
    "function_handler",
]

PROVISIONERS: dict[str, Provisioner] = {
    "AWS::KMS::Key": kms_key,
    "AWS::KMS::Alias": kms_alias,
    "AWS::IAM::Role": iam_role,
    "AWS::IAM::Policy": iam_policy,
    "AWS::IAM::ManagedPolicy": iam_managed_policy,
    "AWS::SNS::Topic": sns_topic,
    "AWS::SNS::TopicPolicy": sns_topic_policy,
    "AWS::SNS::Subscription": sns_subscription,
    "AWS::Lambda::Function": lambda_function,
    "AWS::StepFunctions::StateMachine": state_machine,
    "AWS::Scheduler::Schedule": scheduler_schedule,
    "AWS::Scheduler::ScheduleGroup": scheduler_schedule_group,
    "AWS::Logs::LogGroup": log_group,
    "AWS::CloudWatch::Alarm": cloudwatch_alarm,
    "AWS::Events::Rule": events_rule,
    "AWS::EC2::SecurityGroupIngress": security_group_ingress,
    "AWS::EC2::SecurityGroupEgress": security_group_egress,
    "AWS::Lambda::Permission": lambda_permission,
    "AWS::S3::Bucket": s3_bucket,
    "AWS::S3::BucketPolicy": s3_bucket_policy,
    "AWS::SSM::Parameter": ssm_parameter,
    "AWS::SQS::Queue": sqs_queue,
    "AWS::SQS::QueuePolicy": sqs_queue_policy,
    "AWS::DynamoDB::Table": dynamodb_table,
    "AWS::DynamoDB::GlobalTable": dynamodb_table,
    "AWS::SecretsManager::Secret": secretsmanager_secret,
    "AWS::EC2::SecurityGroup": security_group,
}
