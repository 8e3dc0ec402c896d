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
