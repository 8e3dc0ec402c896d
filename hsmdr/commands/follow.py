"""`hsmdr follow EXECUTION_ARN`: watch a workflow started without --follow until it ends."""

from __future__ import annotations

import argparse
from typing import Any

from hsmdr.arguments import add_json_flag
from hsmdr.outcome import Outcome, UsageError


def register(groups: Any) -> None:
    follow = groups.add_parser(
        "follow",
        help="show each step of a running workflow live until it ends",
        description="Follows one execution of this deployment's state machines (the ARN "
        "that `hsmdr restore`, `hsmdr backup create`, ... print when started without "
        "--follow): each state as it starts, then the result. Exit 0 when it succeeded, "
        "1 when it failed.",
    )
    follow.add_argument(
        "execution_arn",
        metavar="EXECUTION_ARN",
        help="the execution's ARN (its region is taken from it)",
    )
    add_json_flag(follow)
    follow.set_defaults(run=run_follow)


def execution_region(execution_arn: str) -> str:
    """The region of a Step Functions execution ARN; UsageError if it is not one."""
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[2] != "states" or parts[5] != "execution":
        raise UsageError(f"EXECUTION_ARN: {execution_arn!r} is not a Step Functions execution ARN")
    return parts[3]


def not_found(error: Exception, execution_arn: str) -> UsageError | None:
    """The operator's error when Step Functions knows no such execution, else None."""
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in (
        "ExecutionDoesNotExist",
        "InvalidArn",
    ):
        return UsageError(
            f"EXECUTION_ARN: no execution {execution_arn} in this account and region "
            "(check the ARN, the account and the region of your credentials)"
        )
    return None


def run_follow(args: argparse.Namespace) -> Outcome:
    import boto3

    from hsmdr.workflows import follow
    from presentation.render import condensed_steps, table

    client = boto3.client("stepfunctions", region_name=execution_region(args.execution_arn))
    try:
        document = follow(client, args.execution_arn)
    except Exception as error:
        usage = not_found(error, args.execution_arn)
        if usage is not None:
            raise usage from error
        raise
    lines = [f"{document['execution_status']}  ({document['execution_arn']})"]
    if document["timeline"]:
        lines += [
            "",
            table(["STEP", "RUNS", "STARTED", "TOOK", ""], condensed_steps(document["timeline"])),
        ]
    if document.get("error"):
        lines.append(f"Error: {document['error']}: {document.get('cause')}")
    return Outcome(document, "\n".join(lines))
