"""`hsmdr backup ...` against real AWS, with the normal credential chain."""

from __future__ import annotations

import argparse
from typing import Any

from hsmdr.arguments import add_config_source, add_json_flag
from hsmdr.commands import backup_create, copies
from hsmdr.outcome import Outcome, UsageError


def register(groups: Any) -> None:
    backup = groups.add_parser("backup", help="check and manage CloudHSM backups")
    commands = backup.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = commands.add_parser(
        "verify",
        help="verify the backups and HSMs of the protected clusters now (read-only)",
        description=(
            "Runs the same checks as the scheduled verification function, from this "
            "machine, with the AWS credentials of your environment. Read-only: needs "
            "cloudhsm:DescribeClusters and cloudhsm:DescribeBackups."
        ),
    )
    add_config_source(verify)
    verify.add_argument(
        "--cluster",
        action="append",
        dest="clusters",
        metavar="ID",
        help="only this protected cluster (repeatable)",
    )
    add_json_flag(verify)
    verify.set_defaults(run=run_verify)
    backup_create.register_backup(commands)
    copies.register_backup(commands)


def run_verify(args: argparse.Namespace) -> Outcome:
    from hsmdr.deployment_config import load, source
    from lambdas.shared.gateway import CloudHsmGateway
    from lambdas.verification.run import run_verification
    from presentation.render import verification_report

    config = load(args)
    known = {c.id for c in config.protected_clusters}
    unknown = sorted(set(args.clusters or ()) - known)
    if unknown:
        raise UsageError(f"--cluster: {unknown} not in {source(args)}'s protected_clusters")
    report = run_verification(
        config.verification_settings(),
        CloudHsmGateway.for_region,
        cluster_ids=args.clusters,
        backups=config.backup_settings(),  # the DR regions' copies are checked too
    ).to_dict()
    return Outcome(report, verification_report(report))
