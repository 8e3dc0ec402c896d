"""DR drills: `hsmdr drill start|status|report` (AWS, your credentials) and
`hsmdr sandbox drill` (the embedded sandbox, SoftHSM2-backed keys).

`register(groups)` adds the `drill` group, `register_sandbox(commands, fault_help)` the
sandbox command; hsmdr/cli.py and hsmdr/commands/sandbox.py call them.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from hsmdr.arguments import add_config_source, add_json_flag
from hsmdr.drill_reports import find_report, report_bucket, stored_report
from hsmdr.outcome import Outcome, UsageError

SOURCES = ("dr-copy", "primary")
SOURCE_HELP = (
    "dr-copy (default: the newest READY copy in a DR region, the path a real disaster "
    "takes) or primary (the cluster's newest READY backup in its own region)"
)
DRILL_FAULTS_HELP = "; key faults (on the drill cluster): key-missing, key-corrupt, bad-pin"
VAULT_HELP = (
    "the vault stack's drill, in the recovery account and the vault region (run with "
    "recovery-account credentials): it drills the newest READY vault backup"
)


def add_vault_flag(parser: Any) -> None:
    parser.add_argument("--vault", action="store_true", help=VAULT_HELP)


def drill_region(config: Any, args: argparse.Namespace) -> str:
    """Where the drill state machine is: the deployment's region, or with --vault the
    vault region (the vault stack's drill has the same name, in the recovery account)."""
    if not getattr(args, "vault", False):
        return str(config.region)
    vault = config.recovery_account
    if vault is None:
        raise UsageError("--vault: the config has no recovery_account, so no vault stack")
    region = str(vault.vault_region(config.region))
    import boto3

    # Production has a drill state machine of the same name: never start that one here.
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    if account != vault.account:
        raise UsageError(
            f"--vault: your credentials are for account {account}; the vault stack is in "
            f"recovery_account.account {vault.account}: use recovery-account credentials"
        )
    return region


def register(groups: Any) -> None:
    drill = groups.add_parser(
        "drill", help="DR drills: restore a backup into an isolated cluster, check keys, tear down"
    )
    commands = drill.add_subparsers(dest="command", required=True, metavar="COMMAND")
    start = commands.add_parser(
        "start",
        help="start a DR drill now (the deployed dr-drill state machine)",
        description=(
            "Starts the deployment's dr-drill state machine: it restores a backup into an "
            "isolated cluster with one HSM in the drill subnets (drills.subnets), checks "
            "its keys against the key manifest of the backup's time, measures, and always "
            "deletes the drill cluster. The report goes to S3; a summary or a page to SNS."
        ),
    )
    add_config_source(start)
    start.add_argument("--cluster", metavar="ID", help="protected cluster (drills.cluster)")
    start.add_argument("--backup-id", metavar="ID", help="drill this backup (default: the newest)")
    start.add_argument("--source", choices=SOURCES, help=SOURCE_HELP)
    start.add_argument("--poll-seconds", type=int, metavar="S", help="wait between checks")
    start.add_argument("--follow", action="store_true", help="show each step until it ends")
    add_vault_flag(start)
    add_json_flag(start)
    start.set_defaults(run=run_start)

    status = commands.add_parser(
        "status",
        help="the latest drills and their results, and any drill cluster left running",
    )
    add_config_source(status)
    status.add_argument("--limit", type=int, default=5, metavar="N", help="drills to list")
    add_vault_flag(status)
    add_json_flag(status)
    status.set_defaults(run=run_status)

    report = commands.add_parser(
        "report", help="print a drill's Markdown report from S3 (default: the latest)"
    )
    report.add_argument("execution", nargs="?", metavar="EXECUTION", help="name or ARN")
    report.add_argument(
        "--html",
        metavar="FILE",
        help="also write it as one self-contained HTML page (Gantt chart, RTO, the trend "
        "across past drills) to FILE",
    )
    add_config_source(report)
    add_vault_flag(report)
    add_json_flag(report)
    report.set_defaults(run=run_report)


def register_sandbox(commands: Any, fault_help: str) -> None:
    drill = commands.add_parser(
        "drill",
        help="run the DR drill on the sandbox (SoftHSM2 keys, key verification deployed)",
        description=(
            "Deploys the stack with key verification into the sandbox, seeds the protected "
            "cluster (real keys in a SoftHSM2 token, READY copies in the DR region, a key "
            "manifest), runs the dr-drill state machine and reports what it did and what is "
            "left (nothing may be)."
        ),
    )
    drill.add_argument(
        "--fault", action="append", default=[], metavar="NAME", help=fault_help + DRILL_FAULTS_HELP
    )
    drill.add_argument("--source", choices=SOURCES, help=SOURCE_HELP)
    drill.add_argument(
        "--posture",
        choices=["cold", "pilot-light", "warm-standby"],
        default="cold",
        help="the seeded cluster's dr_posture in the DR region: cold (a drill cluster from "
        "the newest copy); pilot-light or warm-standby (the DR stack's refresher makes the "
        "standby first, and the drill borrows it: adds an HSM, or uses its HSM, checks the "
        "keys, and gives it back)",
    )
    add_json_flag(drill)
    drill.set_defaults(run=run_sandbox_drill)


# AWS -----------------------------------------------------------------------------------


def run_start(args: argparse.Namespace) -> Outcome:
    import boto3

    from hsmdr.deployment_config import load, source
    from hsmdr.workflows import follow, started_or_ended, state_machine_arn
    from stacks.names import dr_drill_state_machine_name

    config = load(args)
    execution_input: dict[str, Any] = {"trigger": "cli"}
    if args.cluster:
        if args.cluster not in {c.id for c in config.protected_clusters}:
            raise UsageError(
                f"--cluster: {args.cluster} is not in {source(args)}'s protected_clusters"
            )
        execution_input["cluster"] = args.cluster
    if args.backup_id:
        execution_input["backup_id"] = args.backup_id
    if args.source:
        if args.vault:
            raise UsageError("--source: the vault's drill drills vault backups only")
        execution_input["source"] = args.source
    if args.poll_seconds is not None:
        if not 1 <= args.poll_seconds <= 3600:
            raise UsageError("--poll-seconds: must be from 1 to 3600")
        execution_input["poll_seconds"] = args.poll_seconds
    client = boto3.client("stepfunctions", region_name=drill_region(config, args))
    arn = state_machine_arn(client, dr_drill_state_machine_name(config.deployment_name))
    execution_arn = client.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))[
        "executionArn"
    ]
    if args.follow:
        document = follow(client, execution_arn)
    else:
        document = started_or_ended(client, execution_arn)
    return Outcome(document, render_execution(document))


def run_status(args: argparse.Namespace) -> Outcome:
    import boto3

    from hsmdr.deployment_config import load
    from hsmdr.workflows import state_machine_arn
    from stacks.names import dr_drill_state_machine_name

    config = load(args)
    if args.limit < 1:
        raise UsageError("--limit: must be 1 or more")
    region = drill_region(config, args)
    client = boto3.client("stepfunctions", region_name=region)
    arn = state_machine_arn(client, dr_drill_state_machine_name(config.deployment_name))
    listed = client.list_executions(stateMachineArn=arn, maxResults=args.limit)["executions"]
    drills = [_summary(client.describe_execution(executionArn=e["executionArn"])) for e in listed]
    running = {d["execution_arn"] for d in drills if d["execution_status"] == "RUNNING"}
    regions = [region] if args.vault else None
    left = [c for c in leftover_clusters(config, regions) if c["execution"] not in running]
    finished = [d for d in drills if d["execution_status"] != "RUNNING"]
    ok = bool(finished) and finished[0]["execution_status"] == "SUCCEEDED" and not left
    document = {
        "status": "SUCCEEDED" if ok else "FAILED",
        "state_machine_arn": arn,
        "drills": drills,
        "leftover_drill_clusters": left,
    }
    return Outcome(document, render_status(document))


def leftover_clusters(config: Any, regions: list[str] | None = None) -> list[dict[str, str]]:
    """Drill clusters of this deployment that still exist, in every drill region (or in
    `regions`: the vault region, for the vault's drill)."""
    from lambdas.drill.plan import DRILL_KEY
    from lambdas.shared.gateway import CloudHsmGateway

    if regions is None:
        regions = list(dict.fromkeys([config.region, *config.dr_regions, *config.drills.subnets]))
    found = []
    for region in regions:
        for cluster in CloudHsmGateway.for_region(region).describe_clusters():
            if (
                DRILL_KEY in cluster.tags
                and cluster.tags.get("hsmdr:deployment") == config.deployment_name
                and cluster.state not in ("DELETE_IN_PROGRESS", "DELETED")
            ):
                found.append(
                    {
                        "cluster_id": cluster.cluster_id,
                        "region": region,
                        "state": cluster.state,
                        "execution": cluster.tags[DRILL_KEY],
                    }
                )
    return found


def run_report(args: argparse.Namespace) -> Outcome:
    import boto3

    from hsmdr.deployment_config import load

    config = load(args)
    region = drill_region(config, args)
    bucket = report_bucket(boto3.client("ssm", region_name=region), config.deployment_name)
    s3 = boto3.client("s3", region_name=region)
    key = find_report(s3, bucket, args.execution)
    markdown = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    stored = stored_report(s3, bucket, key)
    document = {
        "status": "SUCCEEDED" if stored.get("status") == "SUCCEEDED" else "FAILED",
        "bucket": bucket,
        "markdown_key": key,
        "execution": stored.get("execution"),
        "report": stored,
        "markdown": markdown,
    }
    if args.html:
        from pathlib import Path

        from hsmdr.drill_reports import past_reports
        from lambdas.drill.report_html import render_html

        page = render_html(stored, past_reports(s3, bucket))
        Path(args.html).write_text(page, encoding="utf-8")
        document["html_written_to"] = args.html
        markdown += f"\nHTML report written to {args.html}\n"
    return Outcome(document, markdown)


def _summary(description: dict[str, Any]) -> dict[str, Any]:
    output = json.loads(description["output"]) if description.get("output") else {}
    measured = output.get("measurements") or {}
    stopped = description.get("stopDate")
    return {
        "execution_arn": description["executionArn"],
        "execution_status": description["status"],
        "started": str(description["startDate"]),
        "stopped": str(stopped) if stopped else None,
        "error": description.get("error"),
        "cause": description.get("cause"),
        "source_cluster_id": output.get("source_cluster_id"),
        "backup_id": (output.get("backup") or {}).get("backup_id"),
        "recovery_time_seconds": measured.get("recovery_time_seconds"),
        "rto_met": measured.get("rto_met"),
        "hsm_hours": measured.get("hsm_hours"),
        "teardown": (output.get("teardown") or {}).get("status"),
        "report_key": (output.get("report") or {}).get("markdown_key"),
    }


# Sandbox -------------------------------------------------------------------------------


def run_sandbox_drill(args: argparse.Namespace) -> Outcome:
    from sandbox.drill_scenarios import drill
    from sandbox.session import FaultError
    from sandbox.softhsm import INSTALL_COMMAND, softhsm_available

    if not softhsm_available():
        raise UsageError(f"SoftHSM2 is missing: {INSTALL_COMMAND}")
    execution_input = {"source": args.source} if args.source else {}
    try:
        report = drill(args.fault, execution_input=execution_input, posture=args.posture)
    except FaultError as error:
        raise UsageError(str(error)) from error
    return Outcome(report, render_execution(report))


# Text ------------------------------------------------------------------------------------


def render_execution(document: dict[str, Any]) -> str:
    from presentation.render import condensed_steps, duration, table

    if document["status"] == "STARTED":
        from hsmdr.workflows import started_text

        return started_text(document, "DR drill")
    lines = [f"DR drill: {document['status']}  ({document['execution_arn']})", ""]
    steps = document.get("timeline") or []
    if steps:
        lines += [table(["STEP", "RUNS", "STARTED", "TOOK", ""], condensed_steps(steps)), ""]
    result = document.get("report") or document.get("output") or {}
    measured = result.get("measurements") if isinstance(result, dict) else None
    if measured:
        backup = result.get("backup") or {}
        lines += [
            f"Backup {backup.get('backup_id')} ({result.get('source')}, {result.get('region')}), "
            f"{duration(measured.get('backup_age_seconds'))} old",
            f"Time to restore {duration(measured.get('time_to_restore_seconds'))}, to verified "
            f"keys {duration(measured.get('time_to_verified_keys_seconds'))} (RTO "
            f"{measured.get('rto_minutes')} min)",
            f"HSM-hours {measured.get('hsm_hours')}, about {measured.get('estimated_cost_usd')} "
            "USD (UNCONFIRMED price)",
            f"Teardown: {(result.get('teardown') or {}).get('status')}",
        ]
        posture = result.get("posture") or {}
        if posture:
            lines.append(
                f"Posture: {posture.get('used')} (configured {posture.get('configured')}): "
                f"{posture.get('reason')}"
            )
    for found in (result.get("findings") or []) if isinstance(result, dict) else []:
        lines.append(f"Finding {found['code']} ({found['severity']}): {found['message']}")
    if document.get("error"):
        lines.append(f"Error: {document['error']}: {_cause(document.get('cause'))}")
    if "leaked_resources" in document:
        leaked = [x for items in document["leaked_resources"].values() for x in items]
        lines.append(f"Leaked resources: {', '.join(leaked) if leaked else 'none'}")
    if document.get("report_key"):
        lines.append(f"Report: {document['report_key']}")
    for alert in document.get("alerts", []):
        lines += ["", f"Alert sent: {alert['subject']}", alert["message"]]
    return "\n".join(lines)


def render_status(document: dict[str, Any]) -> str:
    from presentation.render import table

    rows = [
        [
            d["execution_arn"].rsplit(":", 1)[-1],
            d["execution_status"],
            d["started"][:19],
            d["backup_id"] or "-",
            "-" if d["recovery_time_seconds"] is None else f"{d['recovery_time_seconds']:.0f} s",
            d["teardown"] or "-",
            d["error"] or "",
        ]
        for d in document["drills"]
    ]
    lines = [
        table(["EXECUTION", "STATUS", "STARTED", "BACKUP", "RECOVERY", "TEARDOWN", "ERROR"], rows)
        if rows
        else "No drill has run yet: hsmdr drill start --follow --config PATH"
    ]
    left = document["leftover_drill_clusters"]
    if left:
        lines += ["", "Drill clusters left running (billed by the hour; delete them):"]
        lines += [f"  {c['cluster_id']} in {c['region']} ({c['execution']})" for c in left]
    return "\n".join(lines)


def _cause(cause: Any) -> str:
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return str(cause)
    return str(parsed.get("errorMessage", cause)) if isinstance(parsed, dict) else str(cause)
