"""`hsmdr alerts check` (AWS, your credentials) and `hsmdr sandbox alerts-check`: are the
escalation matrix's people really subscribed to the alert topics, and confirmed?"""

from __future__ import annotations

import argparse
from typing import Any

from hsmdr.arguments import add_config_source, add_json_flag
from hsmdr.outcome import Outcome

SEND_TEST_HELP = "also publish one test message to every topic (nothing else changes)"


def register(groups: Any) -> None:
    alerts = groups.add_parser("alerts", help="the alert routes: who is subscribed to what")
    commands = alerts.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="compare the config's escalation matrix with the topics' subscriptions",
        description=(
            "For the main region and every DR region, and for each alert topic (page, "
            "notify, escalation): which endpoints of the escalation matrix are subscribed "
            "and confirmed, which still wait for their confirmation, which are missing. "
            "Fails while any is pending or missing."
        ),
    )
    add_config_source(check)
    check.add_argument("--send-test", action="store_true", help=SEND_TEST_HELP)
    add_json_flag(check)
    check.set_defaults(run=run_check)


def register_sandbox(commands: Any) -> None:
    check = commands.add_parser(
        "alerts-check", help="deploy, then check the alert routes (and send test messages)"
    )
    check.add_argument("--send-test", action="store_true", help=SEND_TEST_HELP)
    add_json_flag(check)
    check.set_defaults(run=run_sandbox_check)


def run_check(args: argparse.Namespace) -> Outcome:
    import boto3

    from hsmdr.deployment_config import load

    config = load(args)

    def client_for(service: str, region: str) -> Any:
        return boto3.client(service, region_name=region)

    return _check(config, client_for, args.send_test)


def run_sandbox_check(args: argparse.Namespace) -> Outcome:
    import boto3

    from sandbox.session import Sandbox

    def client_for(service: str, region: str) -> Any:
        return boto3.client(service, region_name=region)

    with Sandbox() as sandbox:
        outcome = _check(sandbox.config, client_for, args.send_test, ignore=_capture_queue)
        if args.send_test:
            outcome.document["messages_captured"] = [
                {"topic": m.topic_logical_id, "subject": m.subject} for m in sandbox.messages()
            ]
    return outcome


def _capture_queue(subscription: Any) -> bool:
    """The sandbox reads every topic through an SQS queue of its own: not a person."""
    return bool(subscription["Protocol"] == "sqs" and "sandbox-capture" in subscription["Endpoint"])


def _check(config: Any, client_for: Any, send_test: bool, ignore: Any = None) -> Outcome:
    from hsmdr.alert_routes import healthy, read_routes, render, send_tests

    routes = read_routes(config, client_for, ignore) if ignore else read_routes(config, client_for)
    document: dict[str, Any] = {
        "status": "SUCCEEDED" if healthy(routes) else "FAILED",
        "deployment_name": config.deployment_name,
        "routes": routes,
    }
    if send_test:
        document["tests_sent"] = send_tests(config, routes, client_for)
    return Outcome(document, render(document))
