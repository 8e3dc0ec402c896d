"""The README stays a page for people: its first two commands set up and run the demo,
then the tests, and it stays short (the details live in docs/)."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
MOST_LINES = 180  # about 150: what is longer belongs in docs/


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
