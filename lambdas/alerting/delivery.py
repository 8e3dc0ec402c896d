"""Send an alert to the SNS topic of its severity (page or notify)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lambdas.alerting.alerts import Alert
from lambdas.alerting.memory import AlertMemory, Remembered, due
from lambdas.shared import runbooks
from lambdas.shared.settings import AlertTopics

if TYPE_CHECKING:
    from lambdas.shared.settings import VerificationSettings


def publish(alert: Alert, topics: AlertTopics, sns: Any = None) -> dict[str, str] | None:
    """Publish to the topic of the alert's severity; None when there is no topic."""
    topic_arn = topics.for_severity(alert.severity)
    if not topic_arn:
        return None
    if sns is None:
        import boto3

        sns = boto3.client("sns", region_name=topic_arn.split(":")[3])
    body = runbooks.from_environment(alert.body)  # links, --deployment NAME
    response = sns.publish(TopicArn=topic_arn, Subject=alert.subject, Message=body)
    return {
        "message_id": str(response["MessageId"]),
        "severity": alert.severity,
        "topic_arn": topic_arn,
    }


def alert_fields(sent: dict[str, str] | None) -> dict[str, str | None]:
    """What a handler's result says about the alert it sent (None: none was sent)."""
    return {
        "alert_message_id": sent["message_id"] if sent else None,
        "alert_severity": sent["severity"] if sent else None,
    }


def memory_of(settings: VerificationSettings) -> AlertMemory | None:
    """The stack's alert memory, or None (then every message is sent)."""
    if not settings.alert_memory_table:
        return None
    import boto3

    return AlertMemory(boto3.client("dynamodb"), settings.alert_memory_table)


@dataclass(frozen=True)
class Repeat:
    """Where a scheduled check remembers what it sent, and for how long it holds back."""

    memory: AlertMemory | None
    key: str  # one per check (and region), e.g. "verification"
    every: timedelta

    def publish(
        self, alert: Alert, topics: AlertTopics, *, signature: str, now: datetime, scheduled: bool
    ) -> dict[str, Any]:
        """Send unless a scheduled run would repeat what was sent less than `every` ago;
        a run by hand always sends. The result's fields for the handler's answer."""
        memory = self.memory
        if memory is not None and scheduled:
            previous = memory.recall(self.key)
            if not due(previous, signature, now, self.every):
                return {**alert_fields(None), "alert_held_back": True}
        sent = publish(alert, topics)
        if self.memory is not None and sent is not None:
            self.memory.remember(self.key, Remembered(signature, now), keep_for=2 * self.every)
        return {**alert_fields(sent), "alert_held_back": False}

    @property
    def problems(self) -> list[str]:
        """What the memory could not read or write (it fails open: messages still go)."""
        return list(self.memory.problems) if self.memory is not None else []

    def clear(self) -> None:
        """Nothing wrong any more: the next problem is news, even if it looks the same."""
        if self.memory is not None and self.memory.recall(self.key) is not None:
            self.memory.forget(self.key)
