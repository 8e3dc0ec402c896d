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
        "achieved, as Markdown (or --json). For a restore or an HSM replacement it also "
        "fetches the report the workflow stored in its stack's reports bucket, and --html "
        "writes that page. Needs states:DescribeExecution and states:GetExecutionHistory "
        "in the execution's region (taken from the ARN), and for the stored report "
        "ssm:GetParameter, s3:GetObject and kms:Decrypt there (the operator policy has them)."
    )
    report.add_argument(
        "execution_arn",
        metavar="EXECUTION_ARN",
        help="the execution's ARN (as `hsmdr restore`, `hsmdr backup create`, ... print it)",
    )
    add_html_options(report)
    add_json_flag(report)
    report.set_defaults(run=run_report)


def add_html_options(parser: Any) -> None:
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="also write the report as one self-contained HTML page (Gantt chart by phase, "
        "RTO and RPO against the objectives) to FILE: for a restore or an HSM replacement, "
        "the page its workflow stored; otherwise one made from the execution's history",
    )
    parser.add_argument(
        "--rto-minutes",
        type=float,
        metavar="M",
        help="the RTO to hold the execution to (default: a drill's own; else none)",
    )
    parser.add_argument(
        "--rpo-hours", type=float, metavar="H", help="the RPO to hold the backup's age to"
    )


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
        choices=list(SANDBOX_WORKFLOWS),
        default="on-demand-backup",
        help="which workflow to run (default: on-demand-backup; restore loses the protected "
        "cluster first, replacement fails one of its HSMs, drill deploys key verification)",
    )
    report.add_argument("--fault", action="append", default=[], metavar="NAME", help=fault_help)
    add_html_options(report)
    add_json_flag(report)
    report.set_defaults(run=run_sandbox_report)


def report_for(execution_arn: str) -> dict[str, Any]:
    import boto3

    from hsmdr.commands.follow import execution_region, not_found
    from hsmdr.incident import analyse
    from hsmdr.workflow_reports import stored_report
    from hsmdr.workflows import history

    client = boto3.client("stepfunctions", region_name=execution_region(execution_arn))
    try:
        description = client.describe_execution(executionArn=execution_arn)
    except Exception as error:
        usage = not_found(error, execution_arn)
        if usage is not None:
            raise usage from error
        raise
    report = analyse(description, history(client, execution_arn))
    stored = stored_report(
        execution_arn,
        description["startDate"],
        lambda service, region: boto3.client(service, region_name=region),
    )
    if stored is not None:
        report["stored_report"] = stored
    return report


def run_report(args: argparse.Namespace) -> Outcome:
    report = report_for(args.execution_arn)
    return _outcome(report, args)


def run_sandbox_inventory(args: argparse.Namespace) -> Outcome:
    from hsmdr.inventory import gather
    from sandbox.session import Sandbox

    with Sandbox() as sandbox:
        sandbox.seed_protected_clusters()
        inventory = gather(sandbox.config)
    return _inventory_outcome(inventory, args.output)


SANDBOX_WORKFLOWS = ("on-demand-backup", "restore", "replacement", "drill")


def run_sandbox_report(args: argparse.Namespace) -> Outcome:
    from sandbox.session import FaultError

    try:
        if args.workflow == "drill":
            report = _sandbox_drill_report(args.fault)
        else:
            report = _sandbox_report(args.workflow, args.fault)
    except FaultError as error:
        raise UsageError(str(error)) from error
    return _outcome(report, args)


def _sandbox_report(workflow: str, faults: list[str]) -> dict[str, Any]:
    from sandbox.session import Sandbox

    with Sandbox() as sandbox:
        sandbox.seed_protected_clusters()
        run = run_workflow(sandbox, workflow, faults)
        report = report_for(run["execution_arn"])
    report["alerts_captured"] = run["alerts"]
    return report


def run_workflow(sandbox: Any, workflow: str, faults: list[str]) -> dict[str, Any]:
    """Run `workflow` (not the drill: it needs a sandbox of its own) in a seeded sandbox,
    with the faults; restore loses the protected cluster first, replacement fails one of
    its HSMs unless a fault names one."""
    if workflow == "on-demand-backup":
        from sandbox.backup_scenarios import create_backup

        sandbox.apply_faults(faults)
        return create_backup(sandbox)
    if workflow == "restore":
        from sandbox.restore_scenarios import lose_cluster, run_restore, seed_trust_anchor, subnets

        spec = sandbox.config.protected_clusters[0]
        seed_trust_anchor(sandbox)
        lose_cluster(sandbox, spec.id, spec.region)
        sandbox.apply_faults(faults, region=spec.region)
        source = {"source_cluster_id": spec.id, "region": spec.region}
        return run_restore(
            sandbox, {**source, "subnet_ids": subnets(sandbox, spec.region), "poll_seconds": 1}
        )
    from sandbox.replacement_scenarios import replace_after_failure

    wanted = list(faults)
    if not any(f.partition(":")[0] == "hsm-failure" for f in wanted):
        wanted.append("hsm-failure")
    sandbox.apply_faults(wanted)
    run = replace_after_failure(sandbox)
    if not run.get("execution_arn"):
        raise UsageError(f"no replacement started: {run.get('cause')}")
    return run


def _sandbox_drill_report(faults: list[str]) -> dict[str, Any]:
    from sandbox.drill_scenarios import drill_region, drill_sandbox, run_drill
    from sandbox.softhsm import INSTALL_COMMAND, softhsm_available

    if not softhsm_available():
        raise UsageError(f"SoftHSM2 is missing: {INSTALL_COMMAND}")
    with drill_sandbox() as sandbox:
        sandbox.apply_faults(faults, region=drill_region(sandbox, {}))
        run = run_drill(sandbox, {})
        report = report_for(run["execution_arn"])
    report["alerts_captured"] = run["alerts"]
    return report


def _outcome(report: dict[str, Any], args: argparse.Namespace) -> Outcome:
    from pathlib import Path

    from hsmdr.incident import html, markdown
    from hsmdr.workflow_reports import summary_lines

    stored = report.get("stored_report") or {}
    page = stored.pop("html", None)  # written with --html, not printed in the JSON
    # The report is the product here: it succeeded if it was produced.
    document = {
        **report,
        "status": "SUCCEEDED",
        "execution_succeeded": report["status"] == "SUCCEEDED",
    }
    text = markdown(report)
    if stored:
        text += "\n".join(summary_lines(stored)) + "\n"
    if args.html:
        if page is None or args.rto_minutes is not None or args.rpo_hours is not None:
            page = html(report, rto_minutes=args.rto_minutes, rpo_hours=args.rpo_hours)
        else:
            document["html_source"] = f"s3://{stored['bucket']}/{stored['html_key']}"
        Path(args.html).write_text(page, encoding="utf-8")
        document["html_written_to"] = args.html
        text += f"\nHTML report written to {args.html}\n"
    return Outcome(document, text)
