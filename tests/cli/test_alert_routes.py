"""`hsmdr alerts check`: the escalation matrix against the topics' subscriptions."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hsmdr.alert_routes import PENDING, compare, expected_endpoints, healthy, read_routes
from hsmdr.cli import main
from stacks.config import load_config
from stacks.names import alert_topic_parameter
from tests.conftest import SANDBOX_CONFIG

ONCALL_EMAIL = ("email", "oncall@example.com")
ONCALL_SMS = ("sms", "+15555550100")
LEAD = ("email", "lead@example.com")


def subscription(
    protocol: str, endpoint: str, arn: str = "arn:aws:sns:x:1:t:abc"
) -> dict[str, str]:
    return {"Protocol": protocol, "Endpoint": endpoint, "SubscriptionArn": arn}


def test_compare_sorts_confirmed_pending_missing_and_unexpected() -> None:
    found = [
        subscription(*ONCALL_EMAIL),
        subscription(*ONCALL_SMS, arn=PENDING),
        subscription("https", "https://example.com/hook"),
    ]
    result = compare([ONCALL_EMAIL, ONCALL_SMS, LEAD], found)
    assert result == {
        "confirmed": ["email:oncall@example.com"],
        "pending": ["sms:+15555550100"],
        "missing": ["email:lead@example.com"],
        "unexpected": ["https:https://example.com/hook"],
    }


def test_the_sandbox_matrix_expects_each_endpoint_once_per_topic() -> None:
    expected = expected_endpoints(load_config(SANDBOX_CONFIG))
    assert expected["page"] == [ONCALL_EMAIL, ONCALL_SMS]
    assert expected["notify"] == [("email", "hsm-team@example.com")]
    assert expected["escalation"] == [LEAD]


def client_for(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


@mock_aws
def test_routes_are_read_per_region_and_a_missing_subscription_fails_the_check() -> None:
    # Given the main region's topics, deployed with every subscription but the SMS
    config = load_config(SANDBOX_CONFIG)
    ssm, sns = client_for("ssm", "us-east-1"), client_for("sns", "us-east-1")
    for audience, endpoints in expected_endpoints(config).items():
        arn = sns.create_topic(Name=audience)["TopicArn"]
        ssm.put_parameter(
            Name=alert_topic_parameter(config.deployment_name, audience), Value=arn, Type="String"
        )
        for protocol, endpoint in endpoints:
            if protocol != "sms":
                sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
    # When the routes are read (the DR region us-west-2 has no stack)
    routes = read_routes(config, client_for)
    # Then the SMS is missing from the page topic, and the DR region is not deployed
    by_key = {(r["region"], r["audience"]): r for r in routes}
    page = by_key[("us-east-1", "page")]
    assert page["confirmed"] == ["email:oncall@example.com"]
    assert page["missing"] == ["sms:+15555550100"]
    assert by_key[("us-east-1", "notify")]["missing"] == []
    assert "not readable (ParameterNotFound)" in by_key[("us-west-2", "page")]["problem"]
    assert not healthy(routes)


def test_sandbox_check_finds_every_route_live_and_delivers_the_tests(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["sandbox", "alerts-check", "--send-test", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0, document
    routes = document["routes"]
    assert {(r["region"], r["audience"]) for r in routes} == {
        (region, audience)
        for region in ("us-east-1", "us-west-2")
        for audience in ("page", "notify", "escalation")
    }
    assert all(r["missing"] == [] and r["pending"] == [] for r in routes)
    # Each test message reached its own topic (the main stack's, captured)
    captured = {m["subject"]: m["topic"] for m in document["messages_captured"]}
    page = "[hsmdr-sandbox] TEST of the page alert route (us-east-1)"
    notify = "[hsmdr-sandbox] TEST of the notify alert route (us-east-1)"
    assert captured[page].startswith("AlertingTopic")
    assert captured[notify].startswith("AlertingNotifyTopic")
    assert len(document["tests_sent"]) == 6
