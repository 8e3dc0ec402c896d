"""See every message published to the stack's SNS topics.

Each topic gets an SQS queue subscribed at deploy time, so messages arrive through
moto's real SNS delivery (what a subscriber would get), whoever published them: a
handler, a Step Functions `sns:publish` task or the sandbox itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sandbox.provisioners import ProvisionContext


@dataclass(frozen=True)
class CapturedMessage:
    topic_arn: str
    topic_logical_id: str
    subject: str | None
    message: str
    message_id: str
    timestamp: str
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        """The message parsed as JSON, or None if it is plain text."""
        try:
            return json.loads(self.message)
        except ValueError:
            return None


@dataclass
class _TopicTap:
    topic_arn: str
    topic_logical_id: str
    queue_url: str


class MessageCapture:
    """One SQS queue per topic; drained into an ever-growing, time-ordered list."""

    def __init__(self, context: ProvisionContext) -> None:
        self._context = context
        self._taps: list[_TopicTap] = []
        self._captured: list[CapturedMessage] = []

    def attach(self, topic_logical_id: str, topic_arn: str) -> None:
        sqs = self._context.client("sqs")
        queue_name = self._context.generated_name(topic_logical_id, 75, prefix="sandbox-capture")
        if topic_arn.endswith(".fifo"):
            queue_name += ".fifo"
            queue_url = sqs.create_queue(QueueName=queue_name, Attributes={"FifoQueue": "true"})
        else:
            queue_url = sqs.create_queue(QueueName=queue_name)
        queue_url = queue_url["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self._context.client("sns").subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
        )
        self._taps.append(_TopicTap(topic_arn, topic_logical_id, queue_url))

    def messages(self) -> list[CapturedMessage]:
        """Everything published so far (earlier calls' messages included)."""
        for tap in self._taps:
            self._captured.extend(self._drain(tap))
        self._captured.sort(key=lambda message: message.timestamp)  # stable: keeps queue order
        return list(self._captured)

    def _drain(self, tap: _TopicTap) -> list[CapturedMessage]:
        sqs = self._context.client("sqs")
        drained: list[CapturedMessage] = []
        while True:
            batch = sqs.receive_message(QueueUrl=tap.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return drained
            for received in batch:
                drained.append(_from_envelope(tap, json.loads(received["Body"])))
                sqs.delete_message(QueueUrl=tap.queue_url, ReceiptHandle=received["ReceiptHandle"])


def _from_envelope(tap: _TopicTap, envelope: dict[str, Any]) -> CapturedMessage:
    """SNS's JSON notification envelope (raw delivery is off on the capture queues)."""
    return CapturedMessage(
        topic_arn=envelope.get("TopicArn", tap.topic_arn),
        topic_logical_id=tap.topic_logical_id,
        subject=envelope.get("Subject"),
        message=envelope["Message"],
        message_id=envelope.get("MessageId", ""),
        timestamp=envelope.get("Timestamp", ""),
        attributes=envelope.get("MessageAttributes", {}),
    )
