"""Are the alert routes live? The escalation matrix in the config against what SNS
holds: per stack region and topic (page, notify, escalation), which endpoints are
subscribed and confirmed, which still wait for their confirmation (an email
subscription does nothing until its owner clicks the link), which are missing.

`compare` is pure; `read_routes` and `send_tests` take an SSM and an SNS client per
region, so the same code runs against AWS and the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from stacks.config import DeploymentConfig
from stacks.names import ALERT_AUDIENCES, alert_topic_parameter

PENDING = "PendingConfirmation"
ClientFor = Callable[[str, str], Any]  # (service, region) -> boto3 client
Endpoint = tuple[str, str]  # (protocol, endpoint)


def expected_endpoints(config: DeploymentConfig) -> dict[str, list[Endpoint]]:
    """Audience -> the (protocol, endpoint) pairs the matrix subscribes to its topic."""
    audiences = config.escalation.audiences()
    return {
        audience: list(dict.fromkeys(e for c in audiences[audience] for e in c.endpoints()))
        for audience in ALERT_AUDIENCES
    }


def compare(
    expected: Iterable[Endpoint], subscriptions: Iterable[Mapping[str, str]]
) -> dict[str, list[str]]:
    """Sort a topic's endpoints into confirmed, pending, missing, and unexpected (a
    subscription the matrix does not name: harmless, but someone added it by hand)."""
    found: dict[Endpoint, str] = {
        (s["Protocol"], s["Endpoint"]): s["SubscriptionArn"] for s in subscriptions
    }
    wanted = list(expected)
    result: dict[str, list[str]] = {"confirmed": [], "pending": [], "missing": []}
    for protocol, endpoint in wanted:
        arn = found.get((protocol, endpoint))
        label = f"{protocol}:{endpoint}"
        if arn is None:
            result["missing"].append(label)
        elif arn == PENDING:
            result["pending"].append(label)
        else:
            result["confirmed"].append(label)
    result["unexpected"] = [f"{p}:{e}" for p, e in found if (p, e) not in wanted]
    return result


def read_routes(
    config: DeploymentConfig,
    client_for: ClientFor,
    ignore: Callable[[Mapping[str, str]], bool] = lambda _subscription: False,
) -> list[dict[str, Any]]:
    """One entry per stack region and audience; `ignore` drops subscriptions that are
    not people (the sandbox's capture queues)."""
    from botocore.exceptions import ClientError

    expected = expected_endpoints(config)
    routes = []
    for region in [config.region, *config.dr_regions]:
        ssm, sns = client_for("ssm", region), client_for("sns", region)
        for audience in ALERT_AUDIENCES:
            name = alert_topic_parameter(config.deployment_name, audience)
            entry: dict[str, Any] = {"region": region, "audience": audience, "parameter": name}
            try:
                topic = ssm.get_parameter(Name=name)["Parameter"]["Value"]
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                entry.update(topic_arn=None, problem=f"{name} not readable ({code}): deployed?")
                routes.append(entry)
                continue
            paginator = sns.get_paginator("list_subscriptions_by_topic")
            subscriptions = [
                s
                for page in paginator.paginate(TopicArn=topic)
                for s in page["Subscriptions"]
                if not ignore(s)
            ]
            entry.update(topic_arn=topic, **compare(expected[audience], subscriptions))
            routes.append(entry)
    return routes


def healthy(routes: Iterable[Mapping[str, Any]]) -> bool:
    return all(not r.get("problem") and not r["pending"] and not r["missing"] for r in routes)


def send_tests(
    config: DeploymentConfig,
    routes: Iterable[Mapping[str, Any]],
    client_for: ClientFor,
    now: datetime | None = None,
) -> list[dict[str, str]]:
    """One test message per readable topic, saying who should get it and that nothing
    is wrong; the people on the route confirm that it arrived."""
    now = now or datetime.now(UTC)
    audiences = config.escalation.audiences()
    sent = []
    for route in routes:
        if not route.get("topic_arn"):
            continue
        region, audience = route["region"], route["audience"]
        who = ", ".join(c.name for c in audiences[audience])
        subject = f"[{config.deployment_name}] TEST of the {audience} alert route ({region})"
        body = "\n".join(
            [
                f"This is a test of the {audience} alert route of {config.deployment_name} "
                f"in {region}, sent at {now:%Y-%m-%d %H:%M:%S} UTC by hsmdr alerts check "
                "--send-test. Nothing is wrong with CloudHSM.",
                "",
                f"It should reach: {who}. If one of them did not get it, check their "
                "subscription: hsmdr alerts check --config <deployment config>",
            ]
        )
        response = client_for("sns", region).publish(
            TopicArn=route["topic_arn"], Subject=subject[:100], Message=body
        )
        sent.append({"region": region, "audience": audience, "message_id": response["MessageId"]})
    return sent


def render(document: Mapping[str, Any]) -> str:
    from presentation.render import table

    rows = [
        [
            r["region"],
            r["audience"],
            r.get("problem") or str(len(r["confirmed"])),
            ", ".join(r.get("pending", [])) or "-",
            ", ".join(r.get("missing", [])) or "-",
        ]
        for r in document["routes"]
    ]
    lines = [
        f"Alert routes of {document['deployment_name']}: {document['status']}",
        "",
        table(["REGION", "TOPIC", "CONFIRMED", "PENDING CONFIRMATION", "MISSING"], rows),
    ]
    if any(r.get("pending") for r in document["routes"]):
        lines += [
            "",
            "Pending: each of these received an email (or SMS) from AWS Notifications with "
            "a confirmation link; nothing reaches them until it is clicked.",
        ]
    if any(r.get("missing") or r.get("problem") for r in document["routes"]):
        lines += [
            "",
            "Missing: the stack subscribes the config's escalation matrix; deploy it again "
            "(cdk deploy) after changing the config.",
        ]
    if document.get("tests_sent"):
        lines += ["", f"Test messages sent: {len(document['tests_sent'])} (one per topic)."]
    return "\n".join(lines)
