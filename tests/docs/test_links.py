"""Every relative link in README.md and docs/ points to a file that exists and, with a
`#fragment`, to a heading that page has (GitHub's anchors)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
EXTERNAL = ("http://", "https://", "mailto:")


def prose(text: str) -> Iterator[str]:
    """The lines outside code blocks, inline code removed (a regex there is no link)."""
    in_code = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        if not in_code:
            yield re.sub(r"`[^`]*`", "", line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (code and emphasis marks and link targets
    dropped), lower case, punctuation but `-` and `_` dropped, spaces to `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    text = text.replace("`", "").replace("*", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor; a repeated heading gets `-1`, `-2`, ..."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    in_code = False
    for line in page.read_text().splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        elif not in_code and (match := re.match(r"#{1,6}\s+(.*)", line)):
            base = slug(match.group(1))
            seen = counts.get(base, 0)
            counts[base] = seen + 1
            found.add(base if seen == 0 else f"{base}-{seen}")
    return found


def links(page: Path) -> Iterator[str]:
    for line in prose(page.read_text()):
        yield from LINK.findall(line)


def link_problem(page: Path, target: str) -> str | None:
    if target.startswith(EXTERNAL):
        return None
    path_part, _, fragment = target.partition("#")
    resolved = (page.parent / path_part).resolve() if path_part else page
    if not resolved.exists():
        return f"{target}: {resolved} does not exist"
    if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
        return f"{target}: no heading #{fragment} in {resolved.name}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    problems = [p for target in links(page) if (p := link_problem(page, target))]
    assert problems == []


def test_the_pages_link_to_each_other() -> None:
    readme = set(links(REPO_ROOT / "README.md"))
    for name in ("architecture", "configuration", "sandbox", "troubleshooting", "costs"):
        assert f"docs/{name}.md" in readme


def test_a_broken_link_or_anchor_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Paged? start here\n\n[a](#paged-start-here)\n")
    assert link_problem(page, "#paged-start-here") is None
    assert link_problem(page, "#title") is None
    assert link_problem(page, "#nowhere") is not None
    assert link_problem(page, "missing.md") is not None
    assert link_problem(page, "https://example.com/x") is None


def test_the_slug_is_githubs() -> None:
    assert slug("Break-glass: when the stack itself is unusable") == (
        "break-glass-when-the-stack-itself-is-unusable"
    )
    assert slug("`backups.on_demand`") == "backupson_demand"
    assert slug("`protected_clusters[]`") == "protected_clusters"
    assert slug("After the restore: clients") == "after-the-restore-clients"
