"""Say it once: a cluster that needs a person is paged when the problem is first seen,
again when it changes, and then every `repeat_after` while it lasts, not on every
five-minute health check. The escalation alarms, not repeated pages, raise the stakes.

The decision is pure; `AlertMemory` keeps what was sent in a DynamoDB table of its own
(never the lock table: the health check only reads locks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Remembered:
    signature: str
    sent_at: datetime


def signature(parts: Iterable[str]) -> str:
    """The same problems give the same signature, whatever their order."""
    import hashlib  # here, not at import: the handlers' cold start stays short

    joined = "\n".join(sorted(parts))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def findings_signature(findings: Iterable[tuple[str, str, str]]) -> str:
    """(code, cluster id, message) triples, with the numbers in the messages ignored:
    a backup that grew an hour older is the same problem, not a new one."""
    return signature(
        f"{code}|{cluster}|{re.sub(r'[0-9]+', '#', text)}" for code, cluster, text in findings
    )


def due(previous: Remembered | None, current: str, now: datetime, repeat_after: timedelta) -> bool:
    """Send when nothing was sent, the problem changed, or it has lasted `repeat_after`."""
    if previous is None or previous.signature != current:
        return True
    return now - previous.sent_at >= repeat_after


class AlertMemory:
    """One item per key: the signature and time of the last message sent for it.

    It fails open: if the table cannot be read the message is sent, and if it cannot
    be written the next run may repeat it. A broken memory never silences a page."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self.problems: list[str] = []  # what failed, for the handler's answer and logs

    def recall(self, key: str) -> Remembered | None:
        try:
            item = self._dynamodb.get_item(
                TableName=self._table, Key={"key": {"S": key}}, ConsistentRead=True
            ).get("Item")
        except _aws_errors() as error:
            self.problems.append(f"alert memory not read ({key}): {error}")
            return None
        if not item:
            return None
        return Remembered(
            signature=item["signature"]["S"],
            sent_at=datetime.fromisoformat(item["sent_at"]["S"]),
        )

    def remember(self, key: str, sent: Remembered, keep_for: timedelta) -> None:
        # Forgotten (TTL) well after it would be repeated anyway.
        expires_at = int((sent.sent_at + keep_for).timestamp())
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "key": {"S": key},
                    "signature": {"S": sent.signature},
                    "sent_at": {"S": sent.sent_at.isoformat()},
                    "expires_at": {"N": str(expires_at)},
                },
            )
        except _aws_errors() as error:
            self.problems.append(f"alert memory not written ({key}): {error}")

    def forget(self, key: str) -> None:
        try:
            self._dynamodb.delete_item(TableName=self._table, Key={"key": {"S": key}})
        except _aws_errors() as error:
            self.problems.append(f"alert memory not cleared ({key}): {error}")


def _aws_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError  # only when a call failed

    return (ClientError, BotoCoreError)
