"""Argument helpers the commands share: the --json flag and a number of hours."""

from __future__ import annotations

import argparse


def hours(text: str) -> float:
    """An argparse type: a finite number of hours, zero or more (nan, inf refused)."""
    import math
    from datetime import timedelta

    try:
        value = float(text)
        timedelta(hours=value)  # one the sandbox clock can move by
    except (ValueError, OverflowError):
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours, 0 or more")
    return value


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document instead of tables"
    )


DEPLOYMENT_ENV = "HSMDR_DEPLOYMENT"  # --deployment's default
CONFIG_HELP = "the deployment config (YAML)"
DEPLOYMENT_HELP = (
    "the deployed config instead of a file: read from SSM parameter /hsmdr/NAME/config in "
    f"your AWS region (default: ${DEPLOYMENT_ENV})"
)


def add_config_source(parser: argparse.ArgumentParser) -> None:
    """--config PATH or --deployment NAME (one of them, or $HSMDR_DEPLOYMENT): which
    deployment a command works on. hsmdr/deployment_config.py loads it."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    source.add_argument("--deployment", metavar="NAME", help=DEPLOYMENT_HELP)


def add_region(parser: argparse.ArgumentParser, what: str) -> None:
    """--region means one thing in every command: the AWS region the command works in
    (never where the config or the credentials come from); `what` says what it does there."""
    parser.add_argument("--region", metavar="REGION", help=f"the AWS region to work in: {what}")
