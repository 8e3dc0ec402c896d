"""What every alert must carry for a person woken at night: a runbook that exists and
`hsmdr` commands that the real CLI accepts. Shared by the unit, infra and sandbox tests."""

from __future__ import annotations

import re
import shlex

from hsmdr.cli import build_parser
from tests.conftest import REPO_ROOT

# A runbook reference: the relative path, or a link under a config's docs_url (then
# the path follows the URL), with an anchor or not.
RUNBOOK = re.compile(r"docs/runbooks/[a-z0-9-]+\.md")
RUNBOOK_REFERENCE = re.compile(
    r"(?:https://[A-Za-z0-9.:-]+(?:/[A-Za-z0-9._~%+-]+)*?/)?(docs/runbooks/[a-z0-9-]+\.md)"
    r"(?:#([a-z0-9_-]+))?"
)
# A command runs to the end of its sentence: a full stop before a space or the end, a
# parenthesis, a semicolon, a backtick or the end of the line.
COMMAND = re.compile(r"\bhsmdr (?:[^\n`;().]|\.(?=\S))+")
PLACEHOLDER = re.compile(r"<[^>]+>")


def runbooks_in(text: str) -> list[str]:
    return RUNBOOK.findall(text)


def reference_problems(text: str, *, docs_url: str | None = None) -> list[str]:
    """Each runbook reference that does not resolve: a file that does not exist, an
    anchor its page does not have; with `docs_url`, a reference that is not a link under
    it (and without, a link where a relative path was expected)."""
    from tests.docs.test_links import anchors

    problems = []
    for match in RUNBOOK_REFERENCE.finditer(text):
        reference, path, anchor = match.group(0), match.group(1), match.group(2)
        page = REPO_ROOT / path
        if not page.is_file():
            problems.append(f"runbook {path} does not exist")
        elif anchor and anchor not in anchors(page):
            problems.append(f"{path} has no heading for #{anchor}")
        expected = f"{docs_url.rstrip('/')}/{path}" if docs_url else path
        if reference.split("#")[0] != expected:
            problems.append(f"{reference} is not {expected}")
    return problems


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


def alert_problems(
    text: str, *, runbook: str | None = None, docs_url: str | None = None
) -> list[str]:
    """Everything wrong with an alert's text; `runbook` must be among the ones it names,
    every reference a link under `docs_url` when given, to a page and heading that exist."""
    problems = []
    named = runbooks_in(text)
    if not named:
        problems.append("names no runbook")
    problems += reference_problems(text, docs_url=docs_url)
    if runbook is not None and runbook not in named:
        problems.append(f"does not name {runbook} (names {named})")
    commands = commands_in(text)
    if not commands:
        problems.append("names no hsmdr command")
    problems += [p for c in commands if (p := command_problem(c))]
    return problems
