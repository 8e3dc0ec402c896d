"""Backup copies in the DR regions: `hsmdr backup copy`, `hsmdr backup list` (real AWS,
your credentials) and `hsmdr sandbox copy-backups` (the embedded sandbox).

`register_backup(commands)` adds the two `backup` commands,
`register_sandbox(commands, fault_help)` the sandbox one; each group's module calls its own.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from hsmdr.arguments import add_config_source, add_json_flag, add_region, hours
from hsmdr.outcome import Outcome, UsageError
from hsmdr.render_copies import backup_listing, copy_report, sandbox_copy_run


def register_backup(commands: Any) -> None:
    copy = commands.add_parser(
        "copy",
        help="copy the newest backups to the DR regions and prune old copies, now",
        description=(
            "Runs the copy job (as the scheduled function does) from this machine, with "
            "the AWS credentials of your environment: copies each protected cluster's "
            "newest READY backup to every DR region unless a copy exists, prunes copies "
            "by the config's rule, marks golden backups and checks the retention policy. "
            "Sends no alert. --dry-run decides and reports but changes nothing."
        ),
    )
    _common(copy)
    copy.add_argument("--dry-run", action="store_true", help="decide and report, change nothing")
    copy.set_defaults(run=run_copy)

    listing = commands.add_parser(
        "list",
        help="list each protected cluster's backups and their copies per DR region",
        description=(
            "Read-only: a table per protected cluster of its backups, newest first, with "
            "the copy of each in every DR region (needs cloudhsm:DescribeBackups)."
        ),
    )
    _common(listing)
    add_region(listing, "list only the copies held there (one of the config's dr_regions)")
    listing.set_defaults(run=run_list)


def register_sandbox(commands: Any, fault_help: str) -> None:
    sandbox = commands.add_parser(
        "copy-backups",
        help="seed the protected clusters and fire the copy schedule twice",
        description=(
            "Deploys the stacks into the sandbox, seeds the protected clusters without "
            "copies, fires the copy-backups schedule, lets the copies finish and fires it "
            "again (it tracks them and copies nothing new), then checks for leftovers."
        ),
    )
    sandbox.add_argument("--fault", action="append", default=[], metavar="NAME", help=fault_help)
    sandbox.add_argument(
        "--advance-hours",
        type=hours,
        default=0.0,
        metavar="H",
        help="let H hours pass in the sandbox before the schedule fires",
    )
    add_json_flag(sandbox)
    sandbox.set_defaults(run=run_sandbox_copy_backups)


def _common(parser: argparse.ArgumentParser) -> None:
    add_config_source(parser)
    parser.add_argument(
        "--cluster",
        action="append",
        dest="clusters",
        metavar="ID",
        help="only this protected cluster (repeatable)",
    )
    add_json_flag(parser)


def _config_and_clusters(args: argparse.Namespace) -> tuple[Any, list[str] | None]:
    from hsmdr.deployment_config import load, source

    config = load(args)
    known = {c.id for c in config.protected_clusters}
    unknown = sorted(set(args.clusters or ()) - known)
    if unknown:
        raise UsageError(f"--cluster: {unknown} not in {source(args)}'s protected_clusters")
    return config, args.clusters


def run_copy(args: argparse.Namespace) -> Outcome:
    from hsmdr.deployment_config import source
    from lambdas.backups.copy_job import run_copy_job
    from lambdas.shared.gateway import CloudHsmGateway

    config, clusters = _config_and_clusters(args)
    if not config.dr_regions:
        raise UsageError(f"{source(args)} names no dr_regions: there is nowhere to copy to")
    report = run_copy_job(
        config.verification_settings(),
        config.backup_settings(),
        CloudHsmGateway.for_region,
        cluster_ids=clusters,
        dry_run=args.dry_run,
    ).to_dict()
    return Outcome(report, copy_report(report))


def run_list(args: argparse.Namespace) -> Outcome:
    from lambdas.shared.gateway import CloudHsmGateway

    config, clusters = _config_and_clusters(args)
    regions = list(config.dr_regions)
    if args.region is not None:
        if args.region not in regions:
            raise UsageError(f"--region: {args.region} is not one of the dr_regions {regions}")
        regions = [args.region]
    document = list_backups(config, CloudHsmGateway.for_region, regions, clusters)
    return Outcome(document, backup_listing(document))


def list_backups(
    config: Any, gateway_for: Any, regions: list[str], cluster_ids: list[str] | None
) -> dict[str, Any]:
    """Each cluster's backups in its region, newest first, with their copies per region.

    One listing per DR region (no SourceCluster filter exists); a copy whose source
    backup is gone from the cluster's region still shows, on a row of its own.
    """
    from lambdas.shared.copies import GOLDEN_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE, newest_first
    from lambdas.shared.models import Backup

    copies_by_region: dict[str, list[Backup]] = {
        region: [b for b in gateway_for(region).iter_backups() if b.is_copy] for region in regions
    }
    clusters = []
    for spec in config.protected_clusters:
        if cluster_ids and spec.id not in cluster_ids:
            continue
        home = list(gateway_for(spec.region).iter_backups(cluster_ids=[spec.id]))
        shown = [r for r in regions if r != spec.region]
        copies = {r: [c for c in copies_by_region[r] if c.origin_cluster == spec.id] for r in shown}
        known = {b.backup_id for b in home}
        orphans = {
            c.source_backup: c for r in shown for c in copies[r] if c.source_backup not in known
        }
        rows = []
        for backup in newest_first([*home, *orphans.values()]):
            source_id = backup.source_backup if backup.is_copy else backup.backup_id
            rows.append(
                {
                    "backup_id": source_id,
                    "in_source_region": not backup.is_copy,
                    "state": backup.state if not backup.is_copy else None,
                    "create_timestamp": _iso(backup.create_timestamp),
                    "never_expires": backup.never_expires if not backup.is_copy else None,
                    "golden": backup.tags.get(GOLDEN_KEY) if not backup.is_copy else None,
                    "copies": {
                        r: [
                            {
                                "backup_id": c.backup_id,
                                "state": c.state,
                                "never_expires": c.never_expires,
                                "golden": c.tags.get(GOLDEN_KEY),
                                "managed": c.tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE,
                            }
                            for c in copies[r]
                            if c.source_backup == source_id
                        ]
                        for r in shown
                    },
                }
            )
        clusters.append(
            {
                "cluster_id": spec.id,
                "name": spec.name,
                "region": spec.region,
                "dr_regions": shown,
                "backups": rows,
            }
        )
    return {"status": "SUCCEEDED", "deployment_name": config.deployment_name, "clusters": clusters}


def run_sandbox_copy_backups(args: argparse.Namespace) -> Outcome:
    from sandbox.copy_scenarios import copy_backups
    from sandbox.session import FaultError

    try:
        result = copy_backups(args.fault, timedelta(hours=args.advance_hours))
    except FaultError as error:
        raise UsageError(str(error)) from error
    return Outcome(result, sandbox_copy_run(result))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
