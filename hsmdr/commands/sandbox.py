"""`hsmdr sandbox ...`: the product running on the embedded sandbox, no AWS needed."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from hsmdr.arguments import add_json_flag, hours
from hsmdr.commands import (
    alerts,
    backup_create,
    copies,
    docs,
    drill,
    hsm,
    keys,
    restore,
    sandbox_vault,
)
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
    sandbox_vault.register_sandbox(commands)
    for parser in commands.choices.values():
        parser.add_argument(
            "--speed",
            choices=["demo", "realistic"],
            default="demo",
            help="demo (default): the emulated HSMs, clusters and backups take seconds; "
            "realistic: AWS's durations (an HSM 10-25 minutes) on a clock 120x faster, "
            "the report's measurements also given in emulated time",
        )
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
        from sandbox.session import speed

        with speed(getattr(args, "speed", "demo")) as clock:
            result: Outcome = run(args)
        return _on_the_clock(result, clock)

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


# Durations a report measured on the wall clock during the run (at the top level, or in
# its `measurements` or `result`); seeded ages (rpo_seconds, backup ages) are not scaled.
MEASURED_DURING_THE_RUN = (
    "rto_seconds",
    "time_to_full_ha_seconds",
    "time_to_restore_seconds",
    "time_to_verified_keys_seconds",
    "recovery_time_seconds",
    "wall_seconds",
    "hsm_hours",
    "estimated_cost_usd",
    "hsm_seconds",
    "vault_age_seconds",
)


def _on_the_clock(outcome: Outcome, clock: Any) -> Outcome:
    """On a compressed clock, add `clock` to the report: the speed, the emulated
    duration of every emulated step, and the run's measurements in emulated time."""
    if not clock.worlds or clock.worlds[-1].profile.time_scale == 1.0:
        return outcome
    world = clock.worlds[-1]
    scale = world.profile.time_scale
    steps: dict[str, list[float]] = {}
    for step, duration in world.emulated_durations():
        steps.setdefault(step, []).append(round(duration.total_seconds(), 3))
    document = outcome.document
    emulated: dict[str, float] = {}
    for source in (document, document.get("measurements"), document.get("result")):
        if not isinstance(source, dict):
            continue
        for key in MEASURED_DURING_THE_RUN:
            value = source.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                name = "run_seconds" if key == "wall_seconds" else key
                emulated.setdefault(name, round(value * scale, 3))
    document["clock"] = {
        "speed": clock.speed,
        "profile": world.profile.name,
        "time_scale": scale,
        "emulated_step_seconds": steps,
        "emulated": emulated,
    }
    return Outcome(document, outcome.text + _clock_text(clock.speed, scale, emulated, steps))


def _clock_text(
    speed: str, scale: float, emulated: dict[str, float], steps: dict[str, list[float]]
) -> str:
    lines = ["", "", f"Clock: {speed} durations, {scale:g}x faster than the wall clock."]
    if emulated:
        lines.append(
            f"In emulated time (the wall-clock figures above times {scale:g}, the sandbox's "
            "own processing included):"
        )
        lines += [f"  {key}: {_span(value, key)}" for key, value in emulated.items()]
    if steps:
        lines.append("Emulated steps (each as AWS would take it):")
        for step, seconds in steps.items():
            lines.append(f"  {step}: " + ", ".join(_span(s, "seconds") for s in seconds))
    return "\n".join(lines)


def _span(value: float, key: str) -> str:
    if not key.endswith("seconds"):
        return f"{value:g}"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"
