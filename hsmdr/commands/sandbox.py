"""`hsmdr sandbox ...`: the product running on the embedded sandbox, no AWS needed."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from hsmdr.arguments import add_json_flag, hours
from hsmdr.commands import alerts, backup_create, copies, docs, drill, hsm, keys, restore
from hsmdr.outcome import Outcome, UsageError

FAULT_HELP = (
    "inject a fault by name, repeatable: throttle, internal-failure, hsm-degraded, "
    "az-unsupported[:AZ], backup-stuck, copy-fails, hsm-failure[:CLUSTER], "
    "backups-stopped, lambda-crash:FUNCTION[@STEP]"
)


def register(groups: Any) -> None:
    sandbox = groups.add_parser(
        "sandbox", help="run the stack on the embedded sandbox (moto + CloudHSM emulator)"
    )
    commands = sandbox.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="deploy, seed a cluster, verify its backups, then break it and show the alerts",
    )
    add_json_flag(demo)
    demo.set_defaults(run=run_demo)

    verify = commands.add_parser(
        "verify-backups",
        help="seed the protected clusters and fire the backup-verification schedule",
    )
    verify.add_argument("--fault", action="append", default=[], metavar="NAME", help=FAULT_HELP)
    verify.add_argument(
        "--advance-hours",
        type=hours,
        default=0.0,
        metavar="H",
        help="let H hours pass in the sandbox before the schedule fires (daily backups, "
        "or their faults, happen meanwhile)",
    )
    add_json_flag(verify)
    verify.set_defaults(run=run_verify_backups)
    backup_create.register_sandbox(commands, FAULT_HELP)
    docs.register_sandbox(commands, FAULT_HELP)
    copies.register_sandbox(commands, FAULT_HELP)
    keys.register_sandbox(commands, FAULT_HELP)
    hsm.register_sandbox(commands, FAULT_HELP)
    restore.register_sandbox(commands, FAULT_HELP)
    drill.register_sandbox(commands, FAULT_HELP)
    alerts.register_sandbox(commands)
    for parser in commands.choices.values():
        parser.set_defaults(run=_in_a_checkout(parser.get_default("run")))


def _in_a_checkout(run: Any) -> Any:
    """The sandbox deploys the repository's config/sandbox.yaml and CDK app, with the
    [sandbox] extra: say so, before anything starts, where they are missing."""

    def checked(args: argparse.Namespace) -> Outcome:
        from importlib.util import find_spec

        from sandbox.session import SANDBOX_CONFIG

        if not SANDBOX_CONFIG.is_file():
            raise UsageError(
                "the sandbox runs from a checkout of cloudhsm-dr (it deploys the "
                f"repository's {SANDBOX_CONFIG.parent.name}/{SANDBOX_CONFIG.name} and CDK "
                "app), not from an installed wheel: in a checkout, pip install -e "
                "'.[sandbox]' (with pipx: pipx install --force --editable '.[sandbox]')"
            )
        if find_spec("moto") is None:
            raise ModuleNotFoundError("No module named 'moto'", name="moto")
        result: Outcome = run(args)
        return result

    return checked


def run_verify_backups(args: argparse.Namespace) -> Outcome:
    from presentation.render import verification_report
    from sandbox.scenarios import verify_backups
    from sandbox.session import FaultError

    try:
        result = verify_backups(args.fault, timedelta(hours=args.advance_hours))
    except FaultError as error:
        raise UsageError(str(error)) from error
    if "clusters" not in result:
        text = f"Backup verification FAILED: {result['error']}: {result['message']}"
    else:
        text = verification_report(result)
    return Outcome(result, text + _alerts_text(result["alerts"]))


def run_demo(args: argparse.Namespace) -> Outcome:
    from sandbox.demo import run_demo as demo

    document, text = demo()
    return Outcome(document, text)


def _alerts_text(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return "\n\nNo alert was sent."
    parts = ["", "", f"Alerts sent to the on-call engineer ({len(alerts)}):"]
    for alert in alerts:
        parts += ["", f"Subject: {alert['subject']}", "", alert["message"]]
    return "\n".join(parts)
