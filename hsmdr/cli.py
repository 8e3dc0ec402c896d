"""`hsmdr`: the operator CLI.

Every command takes --json and then prints exactly one JSON document with at least
`status`: SUCCEEDED, FAILED, or STARTED (a workflow started without --follow, still
running). Usage errors print a JSON error object too.

Exit codes: 0 succeeded (or started), 1 findings or a failed workflow, 2 usage or
config error, 3 AWS could not be reached or refused access.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from hsmdr.outcome import Outcome, UsageError

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

Command = Callable[[argparse.Namespace], "Outcome"]


class CommandLineError(Exception):
    """argparse refused the command line (raised instead of exiting, see _Parser)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class _Parser(argparse.ArgumentParser):
    """Raises on a bad command line, so that main() reports it as --json asks."""

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(self, message)


def build_parser() -> argparse.ArgumentParser:
    from hsmdr.commands import alerts, backup, docs, drill, follow, hsm, keys, restore, sandbox

    parser = _Parser(
        prog="hsmdr",
        description="CloudHSM backup verification and disaster recovery (cloudhsm-dr).",
    )
    groups = parser.add_subparsers(
        dest="group", required=True, metavar="COMMAND", parser_class=_Parser
    )
    backup.register(groups)
    hsm.register(groups)
    restore.register(groups)
    sandbox.register(groups)
    keys.register(groups)
    docs.register(groups)
    docs.register_docs(groups)
    drill.register(groups)
    alerts.register(groups)
    follow.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(arguments)
    except CommandLineError as error:
        if "--json" in arguments:
            return _fail(True, "usage", str(error), code=2)
        error.parser.print_usage(sys.stderr)
        print(f"{error.parser.prog}: error: {error}", file=sys.stderr)
        return 2
    as_json = bool(getattr(args, "json", False))
    try:
        outcome: Outcome = args.run(args)
    except Exception as error:  # the operator gets one clear line, not a traceback
        kind, code = _classify(error)
        if os.environ.get("HSMDR_DEBUG") and code != 2:
            raise
        message = f"AWS: {error}" if kind == "aws" else str(error)
        return _fail(as_json, kind, message, code=code)
    if as_json:
        print(json.dumps(outcome.document, indent=2, default=str))
    else:
        print(outcome.text + _faults_text(outcome.document))
    return 0 if outcome.ok else 1


def _classify(error: Exception) -> tuple[str, int]:
    """The error's kind and exit code: 2 usage or config, 3 AWS unreachable or access
    refused, 1 anything else."""
    from botocore.exceptions import BotoCoreError, ClientError

    from stacks.config import ConfigError

    if isinstance(error, UsageError):
        return "usage", 2
    if isinstance(error, ConfigError):
        return "config", 2
    if isinstance(error, BotoCoreError) or _access_denied(error):
        return "aws", 3
    if isinstance(error, ClientError):
        return "aws", 1
    return type(error).__name__, 1


def _access_denied(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return False
    code = str(error.response.get("Error", {}).get("Code", ""))
    return "AccessDenied" in code or code in ("UnrecognizedClientException", "ExpiredToken")


def _faults_text(document: dict[str, Any]) -> str:
    """Sandbox runs: which injected faults fired, measured, and which never did (then the
    run did not test what was asked)."""
    fired = document.get("faults_fired")
    if not isinstance(fired, dict) or not fired:
        return ""
    counts = ", ".join(f"{name} x{count}" for name, count in fired.items() if count)
    lines = ["", f"Faults fired: {counts or 'none'}"]
    silent = document.get("faults_not_fired") or []
    if silent:
        lines.append(
            f"WARNING: never fired: {', '.join(silent)}: this run did not exercise "
            + ("it" if len(silent) == 1 else "them")
        )
    return "\n".join(lines)


def _fail(as_json: bool, kind: str, message: str, code: int) -> int:
    if as_json:
        print(json.dumps({"status": "FAILED", "error": kind, "message": message}, indent=2))
    else:
        print(f"hsmdr: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
