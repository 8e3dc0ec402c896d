"""`hsmdr restore` (AWS) and `hsmdr sandbox restore` (sandbox): runbook 9.2.1, complete
cluster failure. Both run the deployment's restore-cluster state machine."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from typing import Any

from hsmdr.arguments import add_config_source, add_json_flag, add_region
from hsmdr.outcome import Outcome, UsageError

DESCRIPTION = (
    "Restores a lost cluster: finds the latest READY backup of --source-cluster in the "
    "target region (copies count) or uses --backup-id, creates a cluster from it, adds "
    "the first HSM, publishes the client configuration (SSM) and announces the service "
    "restored, verifies, adds the remaining HSMs one at a time and reports RPO and RTO. "
    "On failure it alerts and deletes nothing. The state machine runs in the target "
    "region when it is a DR region (its own stack), otherwise in the primary region."
)


def register(groups: Any) -> None:
    restore = groups.add_parser(
        "restore", help="restore a lost cluster from a backup (complete cluster failure)"
    )
    restore.description = DESCRIPTION
    source = restore.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--source-cluster", metavar="ID", help="restore its latest READY backup in the region"
    )
    source.add_argument("--backup-id", metavar="ID", help="restore this backup (or its copy)")
    add_config_source(restore)
    add_region(
        restore,
        "restore into it (default: the config's region; in a DR region the restore starts "
        "from the copies there, run by that region's stack)",
    )
    restore.add_argument(
        "--restore-id",
        metavar="ID",
        help="idempotency key: the same id resumes (adopts) a restore instead of starting "
        "another (default: a new one)",
    )
    restore.add_argument("--hsm-count", type=int, metavar="N", help="HSMs to end with")
    restore.add_argument(
        "--subnet-ids", metavar="A,B", help="one subnet per AZ (default: config restore.subnets)"
    )
    restore.add_argument("--poll-seconds", type=int, metavar="S", help="wait between status checks")
    restore.add_argument(
        "--follow", action="store_true", help="show each step live until the run ends"
    )
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore even though the source cluster still has ACTIVE HSMs (it may still "
        "be serving: the restore makes a second cluster with the same keys)",
    )
    add_json_flag(restore)
    restore.set_defaults(run=run_restore)


def register_sandbox(commands: Any, fault_help: str) -> None:
    restore = commands.add_parser(
        "restore",
        help="lose the seeded cluster (HSMs and cluster deleted, backups kept) and restore it",
    )
    add_region(
        restore,
        "restore into it (default: us-east-1; us-west-2 restores from the copies there, run "
        "by the DR stack)",
    )
    restore.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help=fault_help + "; hsm-failure without :CLUSTER hits the restored cluster's first "
        "HSM once the next one is being created; key faults (on the restored cluster): "
        "key-missing, key-corrupt, bad-pin",
    )
    restore.add_argument(
        "--key-verification",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="deploy key_verification (SoftHSM2 tokens, a seeded key manifest) so the "
        "restore checks every key (default: on with a key fault, otherwise off)",
    )
    restore.add_argument(
        "--posture",
        choices=["cold", "pilot-light", "warm-standby"],
        default="cold",
        help="cold: a new cluster from the newest copy or backup; pilot-light: the seeded "
        "cluster keeps a standby (no HSM) in the target region (default: the DR region), "
        "made by the DR stack's standby refresher before the disaster, and the restore "
        "adopts it (only HSMs are created); warm-standby: that standby also holds an "
        "ACTIVE HSM, so the restore re-points clients and adds HSMs for HA",
    )
    add_json_flag(restore)
    restore.set_defaults(run=run_sandbox_restore)


def execution_input(args: argparse.Namespace) -> dict[str, Any]:
    """The state machine's input from the flags, refusing bad values before any call."""
    from lambdas.restore.request import RESTORE_ID_PATTERN, SUBNET_ID_PATTERN
    from lambdas.shared.protected import BACKUP_ID_PATTERN, CLUSTER_ID_PATTERN

    checks = (
        ("--source-cluster", args.source_cluster, CLUSTER_ID_PATTERN),
        ("--backup-id", args.backup_id, BACKUP_ID_PATTERN),
        ("--restore-id", args.restore_id, RESTORE_ID_PATTERN),
    )
    for flag, value, pattern in checks:
        if value is not None and not re.fullmatch(pattern, value):
            raise UsageError(f"{flag}: {value!r} does not match {pattern}")
    data: dict[str, Any] = {
        "source_cluster_id": args.source_cluster,
        "backup_id": args.backup_id,
        "region": args.region,
        "restore_id": args.restore_id,
        "hsm_count": args.hsm_count,
        "poll_seconds": args.poll_seconds,
    }
    if args.subnet_ids:
        subnets = [s.strip() for s in args.subnet_ids.split(",") if s.strip()]
        bad = [s for s in subnets if not re.fullmatch(SUBNET_ID_PATTERN, s)]
        if bad or not subnets:
            raise UsageError(f"--subnet-ids: {bad or args.subnet_ids!r} are not subnet ids")
        data["subnet_ids"] = subnets
    for flag, value in (("--hsm-count", args.hsm_count), ("--poll-seconds", args.poll_seconds)):
        if value is not None and value < 1:
            raise UsageError(f"{flag}: must be 1 or more")
    return {k: v for k, v in data.items() if v is not None}


def run_restore(args: argparse.Namespace) -> Outcome:
    import boto3

    from hsmdr.deployment_config import load
    from hsmdr.workflows import follow, history, started_or_ended, state_machine_arn
    from stacks.names import restore_state_machine_name

    config = load(args)
    data = execution_input(args)
    check_hsm_count(args.hsm_count, config.quotas.hsms_per_region)
    target = args.region or config.region
    warnings = subnet_warnings(data.get("subnet_ids") or config.restore.subnets.get(target))
    if args.source_cluster:
        warnings += source_warnings(args, config)
    # A regional disaster takes the primary region's Step Functions with it: run the
    # DR-region stack's state machine when the target is a DR region.
    where = target if target in config.dr_regions else config.region
    client = boto3.client("stepfunctions", region_name=where)
    arn = state_machine_arn(client, restore_state_machine_name(config.deployment_name))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{(args.restore_id or 'restore')[:60]}-{stamp}"
    execution_arn = client.start_execution(stateMachineArn=arn, name=name, input=json.dumps(data))[
        "executionArn"
    ]
    if args.follow:
        document = follow(client, execution_arn)
    else:
        document = started_or_ended(client, execution_arn)
    document["restore_id"] = args.restore_id or name
    document["state_machine_region"] = where
    document["warnings"] = warnings
    if document.get("execution_status") == "FAILED":
        document["failure"] = failure_report(history(client, execution_arn))
    shown = [f"WARNING: {w}" for w in warnings]
    return Outcome(document, "\n".join([*shown, *([""] if shown else []), render(document)]))


def check_hsm_count(hsm_count: int | None, hsms_per_region: int) -> None:
    """Refuse, before starting anything, a count the quotas cannot hold."""
    from lambdas.restore.request import MAX_HSMS_PER_CLUSTER

    if hsm_count is None:
        return
    if hsm_count > MAX_HSMS_PER_CLUSTER:
        raise UsageError(
            f"--hsm-count: {hsm_count} is more than CloudHSM's quota of "
            f"{MAX_HSMS_PER_CLUSTER} HSMs per cluster"
        )
    if hsm_count > hsms_per_region:
        raise UsageError(
            f"--hsm-count: {hsm_count} is more than the account's quota of {hsms_per_region} "
            "HSMs per region (config quotas.hsms_per_region: raise it there once AWS has "
            "raised the quota)"
        )


def subnet_warnings(subnets: list[str] | None) -> list[str]:
    if subnets is not None and len(subnets) == 1:
        return [
            f"one subnet ({subnets[0]}): every HSM of the restored cluster goes into its "
            "Availability Zone, so an outage of that zone takes the whole cluster down; "
            "give one subnet per AZ (--subnet-ids A,B or restore.subnets)"
        ]
    return []


def source_warnings(args: argparse.Namespace, config: Any) -> list[str]:
    """A restore is for a lost cluster: refuse one whose source still has ACTIVE HSMs,
    unless --force (then warn). If its region cannot be reached (a regional disaster),
    the restore goes ahead with a warning that the check was not made."""
    import boto3
    from botocore.config import Config

    spec = next((c for c in config.protected_clusters if c.id == args.source_cluster), None)
    region = spec.region if spec is not None else config.region
    # Short and single: in a regional outage this call must not hold the restore up.
    quick = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1})
    try:
        clusters = boto3.client("cloudhsmv2", region_name=region, config=quick).describe_clusters(
            Filters={"clusterIds": [args.source_cluster]}
        )["Clusters"]
    except Exception as error:
        return [
            f"could not check whether {args.source_cluster} in {region} is still serving "
            f"({type(error).__name__}: {error}); restoring anyway"
        ]
    active = [h["HsmId"] for c in clusters for h in c.get("Hsms", []) if h.get("State") == "ACTIVE"]
    if not active:
        return []
    healthy = (
        f"the source cluster {args.source_cluster} in {region} still has {len(active)} "
        f"ACTIVE HSM(s) ({', '.join(active)}): it may still be serving, and a restore makes "
        "a second cluster with the same keys (billed; clients stay on the first)"
    )
    if not args.force:
        raise UsageError(f"{healthy}. If it is lost for its clients, run again with --force")
    return [f"{healthy}; restoring because of --force"]


def failure_report(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ReportFailure step's report (what exists now), from the execution history."""
    for event in reversed(events):
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == "ReportFailure" and details.get("output"):
            failure = json.loads(details["output"]).get("failure") or {}
            report = failure.get("report")
            return report if isinstance(report, dict) else None
    return None


def run_sandbox_restore(args: argparse.Namespace) -> Outcome:
    from sandbox.restore_scenarios import restore_after_disaster
    from sandbox.session import SANDBOX_CONFIG, FaultError
    from stacks.config import load_config

    config = load_config(SANDBOX_CONFIG)
    regions = [config.region, *config.dr_regions]
    if args.region is not None and args.region not in regions:
        raise UsageError(
            f"--region: the sandbox config ({SANDBOX_CONFIG.name}) deploys to "
            f"{', '.join(regions)}, not {args.region}"
        )
    try:
        report = restore_after_disaster(
            args.fault,
            region=args.region,
            key_verification=args.key_verification,
            posture=args.posture,
        )
    except FaultError as error:
        raise UsageError(str(error)) from error
    return Outcome(report, render(report))


def render(document: dict[str, Any]) -> str:
    from hsmdr.workflows import started_text
    from presentation.render import condensed_steps, duration, table

    if document["status"] == "STARTED":
        return started_text(document, f"Restore {document['restore_id']}")
    lines = [f"Restore: {document['status']}  ({document['execution_arn']})", ""]
    steps = document.get("timeline") or []
    if steps:
        lines += [table(["STEP", "RUNS", "STARTED", "TOOK", ""], condensed_steps(steps)), ""]
    report = document.get("result") or document.get("output") or {}
    if isinstance(report, dict) and report.get("cluster_id"):
        lines += [
            f"Restored cluster {report['cluster_id']} in {report['region']} from backup "
            f"{report['backup']['backup_id']} ({report['backup']['create_timestamp']})",
            f"RPO achieved {duration(report['rpo_seconds'])}, service restored (RTO) "
            f"{duration(report['rto_seconds'])}, "
            f"full HA {duration(report['time_to_full_ha_seconds'])}",
            f"Posture: {report.get('posture', 'cold')}"
            + (f" ({report['posture_reason']})" if report.get("posture_reason") else ""),
            table(
                ["HSM", "STATE", "AZ", "IP"],
                [
                    [h["hsm_id"], h["state"], h["availability_zone"], h["eni_ip"]]
                    for h in report["hsms"]
                ],
            ),
            f"Checks: {report['verification'].get('summary', '-')}; {report['key_verification']}",
        ]
    if document.get("error"):
        from lambdas.alerting.workflow_alerts import error_summary

        name, message = error_summary({"Error": document["error"], "Cause": document.get("cause")})
        lines.append(f"Error: {name}: {message}")
    existing = document.get("existing") or (document.get("failure") or {}).get("existing") or []
    if document["status"] == "FAILED" and existing:
        lines.append(
            "Exists now (nothing was deleted): "
            + ", ".join(
                f"{c['cluster_id']} {c['state']} with {len(c['hsms'])} HSM(s)" for c in existing
            )
        )
    if "leaked_resources" in document:
        leaked = [*document["leaked_resources"]["clusters"], *document["leaked_resources"]["hsms"]]
        lines.append(f"Leaked resources: {', '.join(leaked) if leaked else 'none'}")
    for alert in document.get("alerts", []):
        lines += ["", f"Alert sent: {alert['subject']}", alert["message"]]
    return "\n".join(lines)
