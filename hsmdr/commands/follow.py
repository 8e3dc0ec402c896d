"""`hsmdr follow EXECUTION_ARN|RESTORE_ID`: re-attach to a running workflow (one started
without --follow, or one left with Ctrl-C) and watch it until it ends."""

from __future__ import annotations

import argparse
import re
from typing import Any

from hsmdr.arguments import add_config_source, add_json_flag, add_region
from hsmdr.outcome import Outcome, UsageError


def register(groups: Any) -> None:
    follow = groups.add_parser(
        "follow",
        help="re-attach to a workflow and show it live until it ends",
        description="Follows one execution of this deployment's state machines (the ARN "
        "that `hsmdr restore`, `hsmdr backup create`, ... print when started without "
        "--follow, or a restore's id): its phase, each HSM's state, the time since it "
        "started and an estimate from the expected durations, redrawn in place on a "
        "terminal, one line per phase change otherwise; then the result. Ctrl-C detaches "
        "(exit 130): the workflow keeps running. Exit 0 when it succeeded, 1 when it "
        "failed. Needs states:DescribeExecution and states:GetExecutionHistory, "
        "cloudhsm:DescribeClusters for the HSMs; a restore id also states:ListStateMachines "
        "and states:ListExecutions, and --config or --deployment.",
    )
    follow.add_argument(
        "execution_arn",
        metavar="EXECUTION_ARN|RESTORE_ID",
        help="the execution's ARN (its region is taken from it), or the id of a restore "
        "(`hsmdr restore --restore-id`, or the name it printed): its newest run",
    )
    add_config_source(follow)
    add_region(
        follow,
        "where the restore runs, for a RESTORE_ID (default: the deployment "
        "region, then each DR region)",
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


def restore_execution(args: argparse.Namespace) -> str:
    """The ARN of the newest run of restore `args.execution_arn` (its id: the execution is
    named `{id}-{UTC stamp}`, or the id is that name), a running one first."""
    import boto3

    from hsmdr.deployment_config import load
    from hsmdr.workflows import state_machine_arn
    from lambdas.restore.request import RESTORE_ID_PATTERN
    from stacks.names import restore_state_machine_name

    restore_id = args.execution_arn
    if not re.fullmatch(RESTORE_ID_PATTERN, restore_id.rsplit("-", 1)[0]):
        raise UsageError(
            f"{restore_id!r} is neither a Step Functions execution ARN nor a restore id"
        )
    config = load(args)
    regions = [args.region] if args.region else [config.region, *config.dr_regions]
    for region in regions:
        client = boto3.client("stepfunctions", region_name=region)
        machine = state_machine_arn(client, restore_state_machine_name(config.deployment_name))
        runs = [
            run
            for page in client.get_paginator("list_executions").paginate(stateMachineArn=machine)
            for run in page["executions"]
            if run["name"] == restore_id or run["name"].rsplit("-", 1)[0] == restore_id
        ]
        if runs:
            runs.sort(key=lambda r: (r["status"] == "RUNNING", r["startDate"]), reverse=True)
            return str(runs[0]["executionArn"])
    raise UsageError(
        f"RESTORE_ID: no restore {restore_id} of {config.deployment_name} in "
        f"{', '.join(regions)} (hsmdr restore prints the id it started)"
    )


def run_follow(args: argparse.Namespace) -> Outcome:
    import boto3

    from hsmdr.workflows import follow
    from presentation.render import condensed_steps, table

    if not args.execution_arn.startswith("arn:"):
        args.execution_arn = restore_execution(args)
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
