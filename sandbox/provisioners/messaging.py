"""SNS topics, policies and subscriptions; SQS queues and their policies."""

from __future__ import annotations

from sandbox.provisioners.context import (
    Properties,
    ProvisionContext,
    Provisioned,
    pick,
    policy_json,
    text,
)

_TOPIC_ATTRIBUTES = (
    "DisplayName",
    "KmsMasterKeyId",
    "FifoTopic",
    "ContentBasedDeduplication",
    "SignatureVersion",
    "TracingConfig",
)


def sns_topic(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    name = props.get("TopicName") or ctx.generated_name(logical_id, 251)
    if props.get("FifoTopic") and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {key: text(value) for key, value in pick(props, *_TOPIC_ATTRIBUTES).items()}
    topic_arn = ctx.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    for subscription in props.get("Subscription", []):
        _subscribe(ctx, logical_id, topic_arn, subscription)
    return Provisioned(topic_arn, {"TopicArn": topic_arn, "TopicName": name})


def sns_topic_policy(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    for topic_arn in props.get("Topics", []):
        ctx.client("sns").set_topic_attributes(
            TopicArn=topic_arn,
            AttributeName="Policy",
            AttributeValue=policy_json(props["PolicyDocument"]),
        )
    return Provisioned(ctx.generated_name(logical_id))


def sns_subscription(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    subscription_arn = _subscribe(ctx, logical_id, props["TopicArn"], props)
    return Provisioned(subscription_arn)


def _subscribe(
    ctx: ProvisionContext, logical_id: str, topic_arn: str, subscription: Properties
) -> str:
    protocol = subscription["Protocol"]
    if protocol == "lambda":
        # moto delivers SNS->Lambda through a Docker path that bypasses the in-process
        # dispatcher; a publish would then fail inside the publishing state machine.
        ctx.note(logical_id, "lambda subscription not created (no in-process SNS delivery)")
        return f"{topic_arn}:sandbox-skipped-{logical_id}"
    if protocol in ("http", "https"):
        # moto would POST every message to the endpoint: the sandbox reaches no network.
        ctx.note(logical_id, f"{protocol} subscription not created (the sandbox has no network)")
        return f"{topic_arn}:sandbox-skipped-{logical_id}"
    attributes = {
        key: text(value)
        for key, value in pick(
            subscription, "RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"
        ).items()
    }
    response = ctx.client("sns").subscribe(
        TopicArn=topic_arn,
        Protocol=protocol,
        Endpoint=subscription["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    return str(response["SubscriptionArn"])


_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DelaySeconds",
    "FifoQueue",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def sqs_queue(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    name = props.get("QueueName") or ctx.generated_name(logical_id, 75)
    if props.get("FifoQueue") and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {key: text(value) for key, value in pick(props, *_QUEUE_ATTRIBUTES).items()}
    sqs = ctx.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return Provisioned(url, {"Arn": arn["QueueArn"], "QueueName": name, "QueueUrl": url})


def sqs_queue_policy(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    for queue_url in props.get("Queues", []):
        ctx.client("sqs").set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": policy_json(props["PolicyDocument"])}
        )
    return Provisioned(ctx.generated_name(logical_id))
