"""`hsmdr`: the operator CLI.

Every command takes --json and then prints exactly one JSON document with at least
`status`: SUCCEEDED, FAILED, or STARTED (a workflow started without --follow, still
running). Usage errors print a JSON error object too.

Exit codes (docs/cli.md): 0 succeeded (or started), 1 findings or a failed workflow, 2
usage or config error, 3 AWS could not be reached or refused access (no credentials, an
expired SSO session or token, access denied): one line that says what to do, never a
traceback (HSMDR_DEBUG=1 shows it). 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from hsmdr.arguments import DEPLOYMENT_ENV
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


EXIT_CODES = (
    "exit codes: 0 succeeded (or started), 1 findings or a failed workflow, 2 usage or "
    "config error, 3 AWS not reachable or access refused (credentials, SSO, IAM)"
)
INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    from hsmdr.commands import (
        alerts,
        backup,
        config,
        docs,
        drill,
        follow,
        hsm,
        keys,
        restore,
        sandbox,
    )

    parser = _Parser(
        prog="hsmdr",
        description="CloudHSM backup verification and disaster recovery (cloudhsm-dr).",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--deployment",
        dest="global_deployment",
        metavar="NAME",
        help="for every command that takes --config: use the deployed config of NAME, read "
        f"from SSM /hsmdr/NAME/config in your AWS region (default: ${DEPLOYMENT_ENV})",
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
    config.register(groups)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cloudhsm-dr")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


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
    except KeyboardInterrupt as interrupted:
        # Following a run (hsmdr/workflows.py Detached) names the command to re-attach.
        message = str(interrupted) or (
            "interrupted: a workflow already started keeps running (hsmdr follow ARN)"
        )
        return _fail(as_json, "interrupted", message, code=INTERRUPTED)
    except Exception as error:  # the operator gets one clear line, not a traceback
        kind, code, message = _classify(error)
        if os.environ.get("HSMDR_DEBUG") and code != 2:
            raise
        return _fail(as_json, kind, message, code=code)
    if as_json:
        print(json.dumps(outcome.document, indent=2, default=str))
    else:
        print(outcome.text + _faults_text(outcome.document))
    return 0 if outcome.ok else 1


def _classify(error: Exception) -> tuple[str, int, str]:
    """The error's kind, exit code and one-line message: 2 usage or config, 3 AWS
    unreachable or access refused (hsmdr/aws_access.py), 1 anything else."""
    from hsmdr.aws_access import aws_failure
    from stacks.config import ConfigError

    if isinstance(error, UsageError):
        return "usage", 2, str(error)
    if isinstance(error, ConfigError):
        return "config", 2, str(error)
    extra = _missing_extra(error)
    if extra is not None:
        return "install", 2, extra
    aws = aws_failure(error)
    if aws is not None:
        code, message = aws
        return "aws", code, message
    return type(error).__name__, 1, str(error)


# Modules only an extra installs (pyproject.toml), by the extra that does.
EXTRA_OF_MODULE = {
    "aws_cdk": "cdk",
    "constructs": "cdk",
    "cdk_nag": "cdk",
    "moto": "sandbox",
    "aws_lambda_powertools": "sandbox",
    "aws_xray_sdk": "sandbox",
    "policy_sentry": "sandbox",
    "pkcs11": "sandbox",
}


def _missing_extra(error: Exception) -> str | None:
    """What to install when a command needs an extra the installation lacks."""
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return None
    extra = EXTRA_OF_MODULE.get(error.name.split(".")[0])
    if extra is None:
        return None
    # The sandbox and the CDK app read files of the repository (config/sandbox.yaml,
    # app.py): they run from a checkout, installed editable.
    return (
        f"this command needs the [{extra}] extra ({error}): in a checkout of cloudhsm-dr, "
        f"pip install -e '.[{extra}]' (with pipx: pipx install --force --editable "
        f"'.[{extra}]')"
    )


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
