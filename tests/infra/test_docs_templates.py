"""The pages that describe the stack hold to the synthesized templates (config/example.yaml
and config/all-options.yaml, every stack): the architecture diagram names every
function, state machine, schedule and rule, every alarm belongs to a documented family,
the README's "Paged? start here" table covers every alarm, and docs/costs.md counts
what the example deploys."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from tests.alert_text import command_problem, runbooks_in
from tests.conftest import REPO_ROOT
from tests.docs.test_readme import paged_rows, section, subject_row, table_rows
from tests.infra.conftest import GateSynthesis
from tests.infra.template_arns import StackTemplate

pytestmark = pytest.mark.slow

ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"
COSTS = REPO_ROOT / "docs" / "costs.md"
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
# The resources the diagram names one by one, by their logical id family.
DIAGRAMMED = (
    "AWS::Lambda::Function",
    "AWS::StepFunctions::StateMachine",
    "AWS::Scheduler::Schedule",
    "AWS::Events::Rule",
)
ESCALATION_PREFIX = "AlertingEscalate"  # the escalation copy of a page alarm


def family(logical_id: str) -> str:
    """A logical id without the hash CDK appends: `BackupVerificationJobScheduleC8760151`
    is the `BackupVerificationJobSchedule` family."""
    return re.sub(r"[0-9A-F]{8}$", "", logical_id)


def rendered(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(rendered(p) for p in parts)
    return "TOKEN"


def mermaid(text: str) -> str:
    match = re.search(r"```mermaid\n(.*?)```", text, re.DOTALL)
    assert match, "docs/architecture.md has no mermaid diagram"
    return match.group(1)


def alarm_fragments() -> list[str]:
    """The first column of docs/architecture.md's alarm family table."""
    table = section(ARCHITECTURE.read_text(), "Alarm families")
    return [f for row in table_rows(table) for f in re.findall(r"`([A-Za-z]+)`", row[0])]


def alarms(stacks: list[StackTemplate]) -> list[tuple[str, str, str]]:
    """(stack, logical id without the escalation prefix, description) of every alarm."""
    return [
        (
            stack.stack,
            logical_id.removeprefix(ESCALATION_PREFIX),
            rendered(resource["Properties"].get("AlarmDescription", "")),
        )
        for stack in stacks
        for logical_id, resource in stack.of_type("AWS::CloudWatch::Alarm")
    ]


@pytest.fixture(scope="module")
def stacks(gate_synthesis: GateSynthesis) -> list[StackTemplate]:
    return gate_synthesis.all_stacks()


def test_the_diagram_names_every_function_state_machine_schedule_and_rule(
    stacks: list[StackTemplate],
) -> None:
    words = set(re.findall(r"[A-Za-z0-9]+", mermaid(ARCHITECTURE.read_text())))
    families = {family(lid) for stack in stacks for lid, _ in stack.of_type(*DIAGRAMMED)}
    assert len(families) >= 25
    assert sorted(families - words) == [], "add them to the diagram in docs/architecture.md"


def test_every_alarm_belongs_to_a_documented_family_in_the_diagram(
    stacks: list[StackTemplate],
) -> None:
    fragments = alarm_fragments()
    words = set(re.findall(r"[A-Za-z0-9]+", mermaid(ARCHITECTURE.read_text())))
    found = alarms(stacks)
    assert len(found) > 100
    orphans = sorted({f"{s}:{lid}" for s, lid, _ in found if not any(f in lid for f in fragments)})
    assert orphans == [], "add their family to the alarm table of docs/architecture.md"
    assert sorted(set(fragments) - words) == [], "the diagram must show every alarm family"
    stale = [f for f in fragments if not any(f in lid for _, lid, _ in found)]
    assert stale == [], "docs/architecture.md names alarm families no template has"


def test_the_paged_table_covers_every_alarm_with_its_runbook(
    stacks: list[StackTemplate],
) -> None:
    # Given the alarm a person is paged with (its name holds its logical id)
    rows = paged_rows()
    problems = []
    for stack, logical_id, description in alarms(stacks):
        matching = [r for r in rows if any(f in logical_id for f in r.fragments)]
        named = set(runbooks_in(description))
        # Then a row of the table matches it, and that row opens the runbook the alarm's
        # own description names (a row that links no runbook sends elsewhere on purpose)
        if not matching:
            problems.append(f"{stack}:{logical_id}: no row of the table matches")
        for row in matching:
            if row.runbooks and named and not named & row.runbooks:
                problems.append(f"{stack}:{logical_id}: names {named}, its row {row.runbooks}")
    assert problems == []


def runbook_findings() -> dict[str, str]:
    """Finding code -> the runbook whose finding table (code, severity, ...) has it."""
    found = {}
    for runbook in sorted(RUNBOOKS.glob("*.md")):
        for line in runbook.read_text().splitlines():
            match = re.match(r"\| `([A-Z_]+)` \| (page|notify) \|", line)
            if match:
                found[match.group(1)] = f"docs/runbooks/{runbook.name}"
    return found


def test_the_paged_table_sends_every_finding_to_its_runbook() -> None:
    findings = runbook_findings()
    assert len(findings) >= 15
    rows = paged_rows()
    wrong = {
        code: runbook
        for code, runbook in findings.items()
        if not any(code in r.findings and runbook in r.runbooks for r in rows)
    }
    assert wrong == {}
    linked = {r for row in rows for r in row.runbooks}
    assert linked == {f"docs/runbooks/{p.name}" for p in RUNBOOKS.glob("*.md")}


def test_the_paged_tables_commands_run_as_written() -> None:
    commands = [c for row in paged_rows() for c in row.commands]
    assert len(commands) >= 8
    assert [p for c in commands if (p := command_problem(c))] == []


def test_the_costs_page_counts_what_the_example_deploys(
    gate_synthesis: GateSynthesis,
) -> None:
    counts: Counter[str] = Counter()
    for stack in gate_synthesis.stacks("example"):
        counts.update(r["Type"] for r in stack.resources().values())
    table = section(COSTS.read_text(), "## The standing stack")
    stated = {
        match.group(1): int(row[2])
        for row in table_rows(table)
        if (match := re.fullmatch(r"`(AWS::[A-Za-z0-9:]+)`", row[1])) and row[2].isdigit()
    }
    assert len(stated) >= 8
    actual = {kind: counts[kind] for kind in stated}
    assert stated == actual, "update the counts in docs/costs.md (and the totals)"


def worded_subjects(stacks: list[StackTemplate]) -> set[tuple[str, str]]:
    """(state, subject with {} for each value) of the messages state machines word
    themselves (a literal Subject or States.Format); others come from a function."""
    found = set()
    for stack in stacks:
        for _, resource in stack.of_type("AWS::StepFunctions::StateMachine"):
            machine = json.loads(definition_text(resource))
            for name, state in machine["States"].items():
                parameters = state.get("Parameters") or {}
                subject = parameters.get("Subject") or parameters.get("Subject.$") or ""
                literal = re.match(r"States\.Format\('((?:[^'\\]|\\.)*)'", subject)
                if literal:
                    found.add((name, literal.group(1)))
                elif subject and not subject.startswith("$"):
                    found.add((name, subject))
    return found


def definition_text(resource: dict[str, Any]) -> str:
    raw = resource["Properties"]["DefinitionString"]
    if isinstance(raw, dict):
        return "".join(p if isinstance(p, str) else "ARN" for p in raw["Fn::Join"][1])
    return str(raw)


def test_the_paged_table_has_a_row_for_every_subject_a_state_machine_words(
    stacks: list[StackTemplate],
) -> None:
    subjects = worded_subjects(stacks)
    assert len(subjects) >= 6
    rows = paged_rows()
    assert sorted(f"{n}: {s}" for n, s in subjects if subject_row(s, rows) is None) == []
