"""Documentation that stays true: runbooks against the synthesized state machines,
and every documented `hsmdr` command against the real CLI parser."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmdr.cli import CommandLineError, build_parser
from tests.conftest import REPO_ROOT, Synthesized

RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
# State machine name suffix -> its runbook.
RUNBOOK_OF = {
    "on-demand-backup": "on-demand-backup.md",
    "restore-cluster": "complete-cluster-failure.md",
    "replace-hsm": "single-hsm-failure.md",
    "dr-drill": "dr-drill.md",
}


def definition(resource: dict[str, Any]) -> dict[str, Any]:
    raw = resource["Properties"]["DefinitionString"]
    if isinstance(raw, dict):
        raw = "".join(p if isinstance(p, str) else "ARN" for p in raw["Fn::Join"][1])
    parsed: dict[str, Any] = json.loads(raw)
    return parsed


def state_names(machine: dict[str, Any]) -> set[str]:
    names = set()
    for name, state in machine["States"].items():
        names.add(name)
        for branch in state.get("Branches", []):
            names |= state_names(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                names |= state_names(state[key])
    return names


def state_machines(synthesized: Synthesized) -> Iterator[tuple[str, set[str]]]:
    for template in synthesized.templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                name = resource["Properties"]["StateMachineName"]
                yield name, state_names(definition(resource))


STEPS_HEADING = "## What each step does"
# A row that says this holds states the synthesized machine has only with that config.
CONDITIONAL = "(only when configured)"


def documented_states(runbook: str, *, conditional: bool = True) -> set[str]:
    """States named in the step table under STEPS_HEADING (first column, in backticks);
    without `conditional`, rows marked CONDITIONAL are left out."""
    names: set[str] = set()
    section = runbook.partition(STEPS_HEADING)[2].split("\n## ")[0]
    for line in section.splitlines():
        if not conditional and CONDITIONAL in line:
            continue
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names |= set(re.findall(r"`([^`]+)`", first_cell))
    return names


def test_every_state_machine_has_a_runbook_that_names_every_state(
    synthesized: Synthesized,
) -> None:
    seen = 0
    for name, states in state_machines(synthesized):
        suffix = next((s for s in RUNBOOK_OF if name.endswith(s)), None)
        assert suffix is not None, f"state machine {name} has no runbook in RUNBOOK_OF"
        runbook = (RUNBOOKS / RUNBOOK_OF[suffix]).read_text()
        documented = documented_states(runbook)
        assert states - documented == set(), f"{RUNBOOK_OF[suffix]} does not mention them"
        required = documented_states(runbook, conditional=False)
        assert required - states == set(), f"{RUNBOOK_OF[suffix]} names states {name} lacks"
        seen += 1
    assert seen >= 1


def documented_commands() -> Iterator[tuple[str, str]]:
    files = [REPO_ROOT / "README.md", *sorted(RUNBOOKS.glob("*.md"))]
    for path in files:
        in_code = False
        for line in path.read_text().splitlines():
            if line.startswith("```"):
                in_code = not in_code
                continue
            command = line.strip().removeprefix(".venv/bin/")
            if in_code and command.startswith("hsmdr "):
                yield str(path.relative_to(REPO_ROOT)), command.split("#")[0].strip()
            for inline in re.findall(r"`(hsmdr [^`]+)`", line):
                # Prose names a command without all its arguments: check the command.
                path_words = [w for w in inline.split()[1:] if not w.startswith("-")][:2]
                yield str(path.relative_to(REPO_ROOT)), " ".join(["hsmdr", *path_words, "--help"])


@pytest.mark.parametrize(("where", "command"), sorted(set(documented_commands())))
def test_documented_command_exists(where: str, command: str) -> None:
    words = [w.replace("<", "").replace(">", "") for w in shlex.split(command)[1:]]
    try:
        build_parser().parse_args(words)
    except SystemExit as exited:
        if exited.code != 0 or "--help" not in words:
            pytest.fail(f"{where}: `{command}` is not a valid hsmdr command (exit {exited.code})")
    except CommandLineError as refused:
        pytest.fail(f"{where}: `{command}` is not a valid hsmdr command ({refused})")


def test_the_step_table_parser_reads_the_first_column_only() -> None:
    table = "| `A`, `B` | runs `C` |\n| not a row |\n| `D` | - |\n## Errors\n| `E` | x |"
    assert documented_states(f"intro\n| `Z` | x |\n{STEPS_HEADING}\n{table}") == {"A", "B", "D"}


def test_a_bad_documented_command_would_fail(tmp_path: Path) -> None:
    with pytest.raises(CommandLineError):
        build_parser().parse_args(["backup", "explode"])
