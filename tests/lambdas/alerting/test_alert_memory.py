"""A cluster that needs a person is paged once per problem, then every repeat interval."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from lambdas.alerting.alerts import Alert
from lambdas.alerting.delivery import Repeat
from lambdas.alerting.memory import (
    AlertMemory,
    Remembered,
    due,
    findings_signature,
    signature,
)
from lambdas.replacement.alerts import health_alert
from lambdas.replacement.health_run import entry_signature, memory_key, split_due
from lambdas.shared.settings import AlertTopics
from lambdas.shared.severity import NOTIFY, PAGE
from tests.lambdas.factories import CLUSTER_ID, NOW, cluster, hsm
from tests.lambdas.replacement.test_health import degraded, run

EVERY = timedelta(hours=4)


def test_signature_ignores_order_and_changes_with_the_problem() -> None:
    assert signature(["a", "b"]) == signature(["b", "a"])
    assert signature(["a", "b"]) != signature(["a", "c"])


def test_due_when_new_changed_or_lasting_longer_than_the_interval() -> None:
    sent = Remembered(signature(["x"]), NOW - timedelta(hours=1))
    assert due(None, signature(["x"]), NOW, EVERY)
    assert not due(sent, signature(["x"]), NOW, EVERY)
    assert due(sent, signature(["y"]), NOW, EVERY)
    assert due(sent, signature(["x"]), NOW + timedelta(hours=3), EVERY)


def test_a_person_needed_is_held_back_until_due_but_a_started_replacement_never() -> None:
    # Given a cluster that needs a person (auto_replace off), paged an hour ago
    attention, _ = run([degraded()], auto_replace=False)
    [entry] = attention.alerting
    memory = {memory_key(entry): Remembered(entry_signature(entry), NOW - timedelta(hours=1))}
    # Then the same problem is held back, and sent again once the interval has passed
    assert split_due(attention.alerting, memory.get, NOW, EVERY) == ((), (entry,))
    later = NOW + timedelta(hours=3, minutes=1)
    assert split_due(attention.alerting, memory.get, later, EVERY) == ((entry,), ())
    # And a replacement this run started is always told, whatever was sent before
    started, _ = run([degraded()])
    [started_entry] = started.alerting
    memory[memory_key(started_entry)] = Remembered(entry_signature(started_entry), NOW)
    assert split_due(started.alerting, memory.get, NOW, EVERY) == ((started_entry,), ())


def test_a_second_failed_hsm_is_news() -> None:
    first, _ = run([degraded()], auto_replace=False)
    worse, _ = run(
        [
            cluster(
                hsm("us-east-1a", state="DEGRADED", n=1), hsm("us-east-1b", state="DEGRADED", n=2)
            )
        ],
        auto_replace=False,
    )
    assert entry_signature(first.alerting[0]) != entry_signature(worse.alerting[0])


def test_severity_page_for_a_person_needed_notify_for_a_started_replacement() -> None:
    attention, _ = run([degraded()], auto_replace=False)
    started, _ = run([degraded()])
    assert health_alert(attention).severity == PAGE
    assert health_alert(started).severity == NOTIFY


def table(dynamodb: Any) -> str:
    dynamodb.create_table(
        TableName="memory",
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "memory"


@mock_aws
def test_memory_round_trip_with_expiry_and_forget() -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    memory = AlertMemory(dynamodb, table(dynamodb))
    key = f"health#{CLUSTER_ID}"
    assert memory.recall(key) is None
    memory.remember(key, Remembered("sig", NOW), keep_for=2 * EVERY)
    assert memory.recall(key) == Remembered("sig", NOW)
    item = dynamodb.get_item(TableName="memory", Key={"key": {"S": key}})["Item"]
    assert int(item["expires_at"]["N"]) == int((NOW + 2 * EVERY).timestamp())
    memory.forget(key)
    assert memory.recall(key) is None


def test_findings_signature_ignores_numbers_but_not_the_problem() -> None:
    older = [("BACKUP_OLDER_THAN_RPO", CLUSTER_ID, "backup is 1d 14h old; the RPO allows 1d")]
    later = [("BACKUP_OLDER_THAN_RPO", CLUSTER_ID, "backup is 1d 15h old; the RPO allows 1d")]
    other = [("NO_READY_BACKUP", CLUSTER_ID, "no READY backup")]
    assert findings_signature(older) == findings_signature(later)
    assert findings_signature(older) != findings_signature(other)


@mock_aws
def test_repeat_holds_back_a_scheduled_repeat_and_clears_when_all_is_well() -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    sns = boto3.client("sns", region_name="us-east-1")
    topics = AlertTopics(page=sns.create_topic(Name="page")["TopicArn"])
    repeat = Repeat(AlertMemory(dynamodb, table(dynamodb)), "verification", EVERY)
    alert = Alert("stale", "body", PAGE)

    def send(now: datetime, *, scheduled: bool = True) -> dict[str, Any]:
        return repeat.publish(alert, topics, signature="sig", now=now, scheduled=scheduled)

    assert send(NOW)["alert_held_back"] is False
    assert send(NOW + timedelta(hours=1))["alert_held_back"] is True
    assert send(NOW + timedelta(hours=1), scheduled=False)["alert_message_id"] is not None
    assert send(NOW + timedelta(hours=5, minutes=1))["alert_held_back"] is False
    repeat.clear()
    assert send(NOW + timedelta(hours=5, minutes=2))["alert_held_back"] is False


class BrokenTable:
    """A DynamoDB client whose every call is refused (throttled, access denied)."""

    def __getattr__(self, name: str) -> Any:
        from botocore.exceptions import ClientError

        def refuse(**_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDeniedException"}}, name)

        return refuse


@mock_aws
def test_a_broken_memory_never_silences_a_message() -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    topics = AlertTopics(page=sns.create_topic(Name="page")["TopicArn"])
    repeat = Repeat(AlertMemory(BrokenTable(), "memory"), "verification", EVERY)
    alert = Alert("stale", "body", PAGE)
    for minutes in (0, 5):  # the second run would be held back by a working memory
        sent = repeat.publish(
            alert, topics, signature="s", now=NOW + timedelta(minutes=minutes), scheduled=True
        )
        assert sent["alert_message_id"] is not None and sent["alert_held_back"] is False
    repeat.clear()
    assert any("not read" in p for p in repeat.problems)
    assert any("not written" in p for p in repeat.problems)
