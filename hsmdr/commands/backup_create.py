"""`hsmdr backup create` (AWS) and `hsmdr sandbox create-backup` (sandbox)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hsmdr.arguments import add_config_source, add_json_flag
from hsmdr.outcome import Outcome, UsageError

STRATEGY_HELP = (
    "add-temporary-hsm (default: add one HSM, wait for the backup, remove it) or "
    "cycle-hsm (remove one HSM and re-create it with the same IP: for accounts with no "
    "HSM quota headroom)"
)


def register_backup(commands: Any) -> None:
    create = commands.add_parser(
        "create",
        help="force a backup now (CloudHSM has no backup API: an HSM is added or cycled)",
        description=(
            "Starts the deployment's on-demand backup state machine for one protected "
            "cluster. It adds a temporary HSM (or cycles one), waits for the backup that "
            "triggers, removes the HSM, and reports the new backup. On any failure it "
            "cleans up and alerts."
        ),
    )
    add_config_source(create)
    create.add_argument("--cluster", required=True, metavar="ID", help="protected cluster id")
    create.add_argument(
        "--strategy", choices=["add-temporary-hsm", "cycle-hsm"], help=STRATEGY_HELP
    )
    create.add_argument(
        "--allow-downtime", action="store_true", help="cycle-hsm on a one-HSM cluster"
    )
    create.add_argument(
        "--follow", action="store_true", help="show each step live until the run ends"
    )
    create.add_argument(
        "--poll-seconds",
        type=int,
        metavar="S",
        help="the workflow's wait between status checks (default: the config's)",
    )
    add_json_flag(create)
    create.set_defaults(run=run_backup_create)


def register_sandbox(commands: Any, fault_help: str) -> None:
    create = commands.add_parser(
        "create-backup",
        help="run the on-demand backup state machine on the seeded sandbox cluster",
    )
    create.add_argument(
        "--strategy", choices=["add-temporary-hsm", "cycle-hsm"], help=STRATEGY_HELP
    )
    create.add_argument("--fault", action="append", default=[], metavar="NAME", help=fault_help)
    add_json_flag(create)
    create.set_defaults(run=run_sandbox_create_backup)


def run_backup_create(args: argparse.Namespace) -> Outcome:
    import boto3

    from hsmdr.deployment_config import load, source
    from hsmdr.workflows import follow, started_or_ended, state_machine_arn

    config = load(args)
    if args.cluster not in {c.id for c in config.protected_clusters}:
        raise UsageError(f"--cluster: {args.cluster} is not in {source(args)}'s protected_clusters")
    client = boto3.client("stepfunctions", region_name=config.region)
    arn = state_machine_arn(client, f"{config.deployment_name}-on-demand-backup")
    execution_input: dict[str, Any] = {"cluster_id": args.cluster}
    if args.strategy:
        execution_input["strategy"] = args.strategy
    if args.allow_downtime:
        execution_input["allow_downtime"] = True
    if args.poll_seconds is not None:
        if args.poll_seconds < 1:
            raise UsageError("--poll-seconds: must be 1 or more")
        execution_input["poll_seconds"] = args.poll_seconds
    execution_arn = client.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))[
        "executionArn"
    ]
    if args.follow:
        document = follow(client, execution_arn)
    else:
        document = started_or_ended(client, execution_arn)
    return Outcome(document, _render(document))


def run_sandbox_create_backup(args: argparse.Namespace) -> Outcome:
    from sandbox.backup_scenarios import create_backup
    from sandbox.session import FaultError, Sandbox

    with Sandbox() as sandbox:
        sandbox.seed_protected_clusters()
        try:
            sandbox.apply_faults(args.fault)
        except FaultError as error:
            raise UsageError(str(error)) from error
        report = create_backup(sandbox, strategy=args.strategy)
    report["status"] = "SUCCEEDED" if report["status"] == "SUCCEEDED" else "FAILED"
    return Outcome(report, _render(report))


def _render(document: dict[str, Any]) -> str:
    from hsmdr.workflows import started_text
    from presentation.render import condensed_steps, table

    if document["status"] == "STARTED":
        return started_text(document, "On-demand backup")
    lines = [f"On-demand backup: {document['status']}  ({document['execution_arn']})", ""]
    steps = document.get("timeline") or []
    if steps:
        lines.append(table(["STEP", "RUNS", "STARTED", "TOOK", ""], condensed_steps(steps)))
        lines.append("")
    result = document.get("result") or document.get("output") or {}
    backup = result.get("backup") if isinstance(result, dict) else None
    if backup:
        lines.append(
            f"New backup {backup['backup_id']} {backup['state']} created "
            f"{backup['create_timestamp']} ({backup['hsm_type']}, {backup['mode']})"
        )
    if document.get("error"):
        lines.append(f"Error: {document['error']}: {_cause(document.get('cause'))}")
    leaked = (document.get("leaked_resources") or {}).get("hsms")
    if "leaked_resources" in document:
        lines.append(f"Leaked resources: {', '.join(leaked) if leaked else 'none'}")
    for alert in document.get("alerts", []):
        lines += ["", f"Alert sent: {alert['subject']}", alert["message"]]
    return "\n".join(lines)


def _cause(cause: Any) -> str:
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return str(cause)
    return str(parsed.get("errorMessage", cause)) if isinstance(parsed, dict) else str(cause)
