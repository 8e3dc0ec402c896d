"""The README stays a page for people: its first two commands set up and run the demo,
then the tests, and it stays short (the details live in docs/)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
MOST_LINES = 180  # about 150: what is longer belongs in docs/
PAGED = "## Paged? start here"


def test_the_first_two_commands_are_the_demo_then_the_tests() -> None:
    block = re.search(r"```bash\n(.*?)```", README.read_text(), re.DOTALL)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert [c for c in commands if c][:2] == ["make demo", "make test"]


def test_the_readme_stays_short() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= MOST_LINES, "move the detail to a page of docs/ and link it"


def test_the_readme_starts_with_what_it_is_and_says_where_to_start_when_paged() -> None:
    headings = [line for line in README.read_text().splitlines() if line.startswith("## ")]
    assert headings[0] == "## Paged? start here"
    for heading in ("## Deploy to AWS", "## Costs", "## Uninstall"):
        assert heading in headings


# -- "Paged? start here" --------------------------------------------------------------


def section(text: str, heading: str) -> str:
    return text.partition(heading)[2].split("\n## ")[0]


def table_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


@dataclass(frozen=True)
class PagedRow:
    fragments: list[str]  # of alarm logical ids (so of alarm names)
    subjects: list[str]  # how the messages' subjects start
    findings: list[str]
    runbooks: set[str]
    commands: list[str]


def paged_rows() -> list[PagedRow]:
    rows = []
    for got, where, run in table_rows(section(README.read_text(), PAGED)):
        codes = re.findall(r"`([A-Za-z_]+)`", got)
        rows.append(
            PagedRow(
                fragments=[c for c in codes if not c.isupper()],
                subjects=[s.removesuffix("...").strip() for s in re.findall(r'"([^"]+)"', got)],
                findings=[c for c in codes if c.isupper()],
                runbooks=set(re.findall(r"\((docs/runbooks/[a-z-]+\.md)", where)),
                commands=re.findall(r"`(hsmdr [^`]+)`", run),
            )
        )
    return rows


def subject_row(subject: str, rows: list[PagedRow]) -> PagedRow | None:
    """The row for a message subject: one whose quoted subject starts the same way, up
    to the subject's first value (`{}`); a deployment tag `[name] ` in front is skipped."""
    fixed = re.sub(r"^\[\{\}\] ", "", subject).split("{}")[0]
    for row in rows:
        if any(fixed.startswith(s) or (fixed and s.startswith(fixed)) for s in row.subjects):
            return row
    return None


def _template(node: ast.JoinedStr) -> str:
    return "".join(
        str(part.value) if isinstance(part, ast.Constant) else "{}" for part in node.values
    )


def lambda_subjects() -> Iterator[tuple[str, str]]:
    """(file, subject with {} for each value) of every SNS subject the Lambda code words:
    `subject = f"..."` and `{"subject": f"..."}`."""
    for path in sorted((REPO_ROOT / "lambdas").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            values: list[ast.expr] = []
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "subject" for t in node.targets
            ):
                values = [node.value]
            elif isinstance(node, ast.Dict):
                values = [
                    v
                    for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value == "subject"
                ]
            for value in values:
                if isinstance(value, ast.JoinedStr):
                    yield str(path.relative_to(REPO_ROOT)), _template(value)
                elif isinstance(value, ast.Constant) and isinstance(value.value, str):
                    yield str(path.relative_to(REPO_ROOT)), value.value


def test_every_message_subject_the_lambda_code_words_has_its_row() -> None:
    # Given every subject the functions give their messages
    subjects = sorted(set(lambda_subjects()))
    assert len(subjects) >= 12
    rows = paged_rows()
    # Then the table has a row for each, unless it starts with a value (a workflow's name)
    orphans = [
        f"{where}: {subject}"
        for where, subject in subjects
        if not subject.startswith("{}") and subject_row(subject, rows) is None
    ]
    assert orphans == [], "add the subject to the 'Paged? start here' table"


def test_a_subject_matches_its_row_only() -> None:
    rows = [PagedRow([], ["Restore FAILED", "DR drill"], [], set(), [])]
    assert subject_row("Restore FAILED: {}: {}", rows) is rows[0]
    assert subject_row("[{}] DR drill {}: teardown run started", rows) is rows[0]
    assert subject_row("[{}] CloudHSM backup copies FAILED: {}", rows) is None
