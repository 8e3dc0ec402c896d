"""`hsmdr`: the operator CLI.

Every command takes --json and then prints exactly one JSON document with at least
`status` (SUCCEEDED or FAILED). The exit code is 0 only on success.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

Command = Callable[[argparse.Namespace], "Outcome"]


class Outcome:
    """What a command produced: a JSON-able document and its human rendering."""

    def __init__(self, document: dict[str, Any], text: str) -> None:
        if document.get("status") not in ("SUCCEEDED", "FAILED"):
            raise ValueError("every command result needs a status")
        self.document = document
        self.text = text

    @property
    def ok(self) -> bool:
        return bool(self.document["status"] == "SUCCEEDED")


class UsageError(Exception):
    """Bad input from the operator: reported with the field, before any call."""


def build_parser() -> argparse.ArgumentParser:
    from hsmdr.commands import alerts, backup, docs, drill, hsm, keys, restore, sandbox

    parser = argparse.ArgumentParser(
        prog="hsmdr",
        description="CloudHSM backup verification and disaster recovery (cloudhsm-dr).",
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    backup.register(groups)
    hsm.register(groups)
    restore.register(groups)
    sandbox.register(groups)
    keys.register(groups)
    docs.register(groups)
    docs.register_docs(groups)
    drill.register(groups)
    alerts.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    as_json = bool(getattr(args, "json", False))
    try:
        outcome: Outcome = args.run(args)
    except UsageError as error:
        return _fail(as_json, "usage", str(error), code=2)
    except Exception as error:  # the operator gets one clear line, not a traceback
        from stacks.config import ConfigError

        if isinstance(error, ConfigError):
            return _fail(as_json, "config", str(error), code=2)
        if os.environ.get("HSMDR_DEBUG"):
            raise
        return _fail(as_json, type(error).__name__, str(error), code=1)
    if as_json:
        print(json.dumps(outcome.document, indent=2, default=str))
    else:
        print(outcome.text)
    return 0 if outcome.ok else 1


def _fail(as_json: bool, kind: str, message: str, code: int) -> int:
    if as_json:
        print(json.dumps({"status": "FAILED", "error": kind, "message": message}, indent=2))
    else:
        print(f"hsmdr: {message}", file=sys.stderr)
    return code


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document instead of tables"
    )


if __name__ == "__main__":
    sys.exit(main())
