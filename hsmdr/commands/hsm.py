"""`hsmdr cluster health`, `hsmdr hsm replace` (AWS) and `hsmdr sandbox replace-hsm`.

Runbook 9.2.2 (single HSM failure): look at the cluster's HSMs against the desired
topology, and replace a failed one with the deployment's replacement workflow.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from hsmdr.arguments import add_config_source, add_json_flag
from hsmdr.outcome import Outcome, UsageError


def register(groups: Any) -> None:
    cluster = groups.add_parser("cluster", help="look at the protected clusters' HSMs")
    cluster_commands = cluster.add_subparsers(dest="command", required=True, metavar="COMMAND")
    health = cluster_commands.add_parser(
        "health",
        help="each cluster's HSMs (id, state, AZ, IP) and desired against ACTIVE per AZ",
        description=(
            "Reads the protected clusters with your AWS credentials (cloudhsm:"
            "DescribeClusters only) and compares their HSMs with the desired topology. "
            "Exit 1 when a zone is short of ACTIVE HSMs or an HSM is DEGRADED."
        ),
    )
    add_config_source(health)
    health.add_argument(
        "--cluster", action="append", dest="clusters", metavar="ID", help="only this cluster"
    )
    add_json_flag(health)
    health.set_defaults(run=run_cluster_health)

    hsm = groups.add_parser("hsm", help="replace a failed HSM")
    hsm_commands = hsm.add_subparsers(dest="command", required=True, metavar="COMMAND")
    replace = hsm_commands.add_parser(
        "replace",
        help="start the replacement workflow for a failed HSM of a protected cluster",
        description=(
            "Starts the deployment's HSM replacement state machine: it creates a new HSM "
            "in the failed HSM's zone, waits until it is ACTIVE, then deletes the DEGRADED "
            "one. It never deletes an ACTIVE HSM and alerts when it ends."
        ),
    )
    add_config_source(replace)
    replace.add_argument("--cluster", required=True, metavar="ID", help="protected cluster id")
    replace.add_argument(
        "--hsm", metavar="ID", help="the DEGRADED HSM (default: the one found, or a missing zone)"
    )
    replace.add_argument(
        "--ip",
        metavar="ADDRESS",
        help="reuse this IP of an HSM that is already gone, so clients keep their configuration",
    )
    replace.add_argument("--follow", action="store_true", help="show each step until it ends")
    replace.add_argument(
        "--poll-seconds", type=int, metavar="S", help="wait between checks (default: config)"
    )
    add_json_flag(replace)
    replace.set_defaults(run=run_hsm_replace)


def register_sandbox(commands: Any, fault_help: str) -> None:
    drill = commands.add_parser(
        "replace-hsm",
        help="fail an HSM of the sandbox cluster and let the health check replace it",
        description=(
            "Seeds the protected cluster, injects hsm-failure (unless a --fault names it), "
            "fires the health-check schedule, waits for the replacement it starts and "
            "reports the timeline, leaked resources and the recovery time."
        ),
    )
    drill.add_argument("--fault", action="append", default=[], metavar="NAME", help=fault_help)
    add_json_flag(drill)
    drill.set_defaults(run=run_sandbox_replace_hsm)


def run_cluster_health(args: argparse.Namespace) -> Outcome:
    from hsmdr.deployment_config import load, source
    from hsmdr.render_health import health_report
    from lambdas.replacement.health import health_dict
    from lambdas.replacement.health_run import assess_all
    from lambdas.shared.gateway import CloudHsmGateway

    config = load(args)
    specs = config.verification_settings().clusters
    unknown = sorted(set(args.clusters or ()) - {c.id for c in specs})
    if unknown:
        raise UsageError(f"--cluster: {unknown} not in {source(args)}'s protected_clusters")
    chosen = [c for c in specs if not args.clusters or c.id in args.clusters]
    healths, failed = assess_all(chosen, CloudHsmGateway.for_region)
    clusters = [health_dict(h) for h in healths]
    errors = [f"cannot read clusters in {region}: {why}" for region, why in failed.items()]
    healthy = all(c["healthy"] for c in clusters) and not errors
    document = {
        "status": "SUCCEEDED" if healthy else "FAILED",
        "checked_at": datetime.now(UTC).isoformat(),
        "clusters": clusters,
        "errors": errors,
    }
    return Outcome(document, health_report(document))


def run_hsm_replace(args: argparse.Namespace) -> Outcome:
    import boto3

    from hsmdr.deployment_config import load, source
    from hsmdr.render_health import replacement
    from hsmdr.workflows import follow, started_or_ended, state_machine_arn
    from stacks.names import replace_hsm_state_machine_name

    config = load(args)
    if args.cluster not in {c.id for c in config.protected_clusters}:
        raise UsageError(f"--cluster: {args.cluster} is not in {source(args)}'s protected_clusters")
    execution_input: dict[str, Any] = {"cluster_id": args.cluster, "trigger": "operator"}
    if args.hsm:
        execution_input["hsm_id"] = args.hsm
    if args.ip:
        execution_input["ip_address"] = args.ip
    if args.poll_seconds is not None:
        if args.poll_seconds < 1:
            raise UsageError("--poll-seconds: must be 1 or more")
        execution_input["poll_seconds"] = args.poll_seconds
    client = boto3.client("stepfunctions", region_name=config.region)
    arn = state_machine_arn(client, replace_hsm_state_machine_name(config.deployment_name))
    started = client.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))
    execution_arn = started["executionArn"]
    if args.follow:
        document = follow(client, execution_arn)
    else:
        document = started_or_ended(client, execution_arn)
    document["result"] = document.get("output")
    return Outcome(document, replacement(document))


def run_sandbox_replace_hsm(args: argparse.Namespace) -> Outcome:
    from hsmdr.render_health import replacement
    from sandbox.replacement_scenarios import replace_hsm_drill
    from sandbox.session import FaultError

    try:
        report = replace_hsm_drill(args.fault)
    except FaultError as error:
        raise UsageError(str(error)) from error
    return Outcome(report, replacement(report))
