"""What every alert must carry for a person woken at night: a runbook that exists and
`hsmdr` commands that the real CLI accepts. Shared by the unit, infra and sandbox tests."""

from __future__ import annotations

import re
import shlex

from hsmdr.cli import build_parser
from tests.conftest import REPO_ROOT

RUNBOOK = re.compile(r"docs/runbooks/[a-z0-9-]+\.md")
# A command runs to the end of its sentence: a full stop before a space or the end, a
# parenthesis, a semicolon, a backtick or the end of the line.
COMMAND = re.compile(r"\bhsmdr (?:[^\n`;().]|\.(?=\S))+")
PLACEHOLDER = re.compile(r"<[^>]+>")


def runbooks_in(text: str) -> list[str]:
    return RUNBOOK.findall(text)


def commands_in(text: str) -> list[str]:
    return [match.rstrip(" .,") for match in COMMAND.findall(text)]


def command_problem(command: str) -> str | None:
    """Why the CLI would refuse `command` (None: it parses). Placeholders such as
    <deployment config> stand for one argument."""
    words = shlex.split(PLACEHOLDER.sub("PLACEHOLDER", command))[1:]
    try:
        build_parser().parse_args(words)
    except SystemExit as exited:
        return f"`{command}` is not a valid hsmdr command (exit {exited.code})"
    except Exception as refused:  # hsmdr's parser raises instead of exiting (for --json)
        return f"`{command}` is not a valid hsmdr command ({refused})"
    return None


def alert_problems(text: str, *, runbook: str | None = None) -> list[str]:
    """Everything wrong with an alert's text; `runbook` must be among the ones it names."""
    problems = []
    named = runbooks_in(text)
    if not named:
        problems.append("names no runbook")
    problems += [f"runbook {r} does not exist" for r in named if not (REPO_ROOT / r).is_file()]
    if runbook is not None and runbook not in named:
        problems.append(f"does not name {runbook} (names {named})")
    commands = commands_in(text)
    if not commands:
        problems.append("names no hsmdr command")
    problems += [p for c in commands if (p := command_problem(c))]
    return problems
