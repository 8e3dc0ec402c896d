"""`hsmdr report` (post-incident analysis) and `hsmdr docs inventory` (recovery document)."""

from __future__ import annotations

import argparse
from typing import Any

from hsmdr.arguments import add_config_source, add_json_flag
from hsmdr.outcome import Outcome, UsageError


def register(groups: Any) -> None:
    report = groups.add_parser(
        "report",
        help="post-incident analysis of a workflow execution (timeline, gantt, RTO/RPO)",
    )
    report.description = (
        "Reads one execution of a deployment state machine (restore, backup, HSM "
        "replacement, drill) and prints its timeline, a Gantt chart and the RPO and RTO "
        "achieved, as Markdown (or --json). Needs states:DescribeExecution and "
        "states:GetExecutionHistory in the execution's region (taken from the ARN)."
    )
    report.add_argument(
        "execution_arn",
        metavar="EXECUTION_ARN",
        help="the execution's ARN (as `hsmdr restore`, `hsmdr backup create`, ... print it)",
    )
    add_json_flag(report)
    report.set_defaults(run=run_report)


def register_docs(groups: Any) -> None:
    docs = groups.add_parser("docs", help="generate the recovery documentation")
    commands = docs.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inventory = commands.add_parser(
        "inventory",
        help="the recovery document from live data: clusters, HSMs, backups, copies, drills, "
        "contacts",
    )
    add_config_source(inventory)
    inventory.add_argument("--output", metavar="FILE", help="also write the Markdown here")
    add_json_flag(inventory)
    inventory.set_defaults(run=run_inventory)


def run_inventory(args: argparse.Namespace) -> Outcome:
    from hsmdr.deployment_config import load
    from hsmdr.inventory import gather

    return _inventory_outcome(gather(load(args)), args.output)


def _inventory_outcome(inventory: dict[str, Any], output: str | None) -> Outcome:
    from pathlib import Path

    from hsmdr.inventory import markdown

    text = markdown(inventory)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        inventory["written_to"] = output
    return Outcome(inventory, text)


def register_sandbox(commands: Any, fault_help: str) -> None:
    inventory = commands.add_parser(
        "inventory",
        help="seed the sandbox, run the copy job, and print the recovery document",
    )
    inventory.add_argument("--output", metavar="FILE", help="also write the Markdown here")
    add_json_flag(inventory)
    inventory.set_defaults(run=run_sandbox_inventory)

    report = commands.add_parser(
        "report",
        help="run a workflow in the sandbox and print its post-incident report",
    )
    report.add_argument(
        "--workflow",
        choices=["on-demand-backup"],
        default="on-demand-backup",
        help="which workflow to run (default: on-demand-backup)",
    )
    report.add_argument("--fault", action="append", default=[], metavar="NAME", help=fault_help)
    add_json_flag(report)
    report.set_defaults(run=run_sandbox_report)


def report_for(execution_arn: str) -> dict[str, Any]:
    import boto3

    from hsmdr.commands.follow import execution_region, not_found
    from hsmdr.incident import analyse
    from hsmdr.workflows import history

    client = boto3.client("stepfunctions", region_name=execution_region(execution_arn))
    try:
        description = client.describe_execution(executionArn=execution_arn)
    except Exception as error:
        usage = not_found(error, execution_arn)
        if usage is not None:
            raise usage from error
        raise
    return analyse(description, history(client, execution_arn))


def run_report(args: argparse.Namespace) -> Outcome:
    report = report_for(args.execution_arn)
    return _outcome(report)


def run_sandbox_inventory(args: argparse.Namespace) -> Outcome:
    from hsmdr.inventory import gather
    from sandbox.session import Sandbox

    with Sandbox() as sandbox:
        sandbox.seed_protected_clusters()
        inventory = gather(sandbox.config)
    return _inventory_outcome(inventory, args.output)


def run_sandbox_report(args: argparse.Namespace) -> Outcome:
    from sandbox.backup_scenarios import create_backup
    from sandbox.session import FaultError, Sandbox

    with Sandbox() as sandbox:
        sandbox.seed_protected_clusters()
        try:
            sandbox.apply_faults(args.fault)
        except FaultError as error:
            raise UsageError(str(error)) from error
        run = create_backup(sandbox)
        report = report_for(run["execution_arn"])
    report["alerts_captured"] = run["alerts"]
    return _outcome(report)


def _outcome(report: dict[str, Any]) -> Outcome:
    from hsmdr.incident import markdown

    # The report is the product here: it succeeded if it was produced.
    document = {
        **report,
        "status": "SUCCEEDED",
        "execution_succeeded": report["status"] == "SUCCEEDED",
    }
    return Outcome(document, markdown(report))
