"""Send an alert to the SNS topic of its severity (page or notify)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdas.core.alerts import NOTIFY, Alert, Severity


@dataclass(frozen=True)
class AlertTopics:
    page: str | None = None
    notify: str | None = None

    def for_severity(self, severity: Severity) -> str | None:
        # A stack without a notify topic still gets its notices read: on the page topic.
        if severity == NOTIFY and self.notify:
            return self.notify
        return self.page


def publish(alert: Alert, topics: AlertTopics, sns: Any = None) -> dict[str, str] | None:
    """Publish to the topic of the alert's severity; None when there is no topic."""
    topic_arn = topics.for_severity(alert.severity)
    if not topic_arn:
        return None
    if sns is None:
        import boto3

        sns = boto3.client("sns", region_name=topic_arn.split(":")[3])
    response = sns.publish(TopicArn=topic_arn, Subject=alert.subject, Message=alert.body)
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
