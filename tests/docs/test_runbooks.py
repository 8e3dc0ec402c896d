"""Documentation that stays true: runbooks against the synthesized state machines,
every documented `hsmdr` command against the real CLI parser, and every documented
`aws` command against botocore's service models (the AWS CLI is generated from them)."""

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


DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]


def doc_lines(path: Path) -> Iterator[tuple[bool, str]]:
    """(in a code block, line) for each line of a Markdown file; a fence may be indented
    (a code block inside a list item). Lines continued with a backslash are joined."""
    in_code = False
    pending = ""
    for line in path.read_text().splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        if in_code and line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield in_code, pending + line if in_code else line
        pending = ""


def documented_commands() -> Iterator[tuple[str, str]]:
    for path in DOCS:
        where = str(path.relative_to(REPO_ROOT))
        for in_code, line in doc_lines(path):
            command = line.strip().removeprefix(".venv/bin/")
            if in_code and command.startswith("hsmdr "):
                yield where, command.split("#")[0].strip()
            if in_code:
                continue
            for inline in re.findall(r"`(hsmdr [^`]+)`", line):
                # Prose names a command without all its arguments: check the command
                # (`hsmdr sandbox ...` names the group).
                named = inline.split(" ...")[0].split()[1:]
                path_words = [w for w in named if not w.startswith("-")][:2]
                yield where, " ".join(["hsmdr", *path_words, "--help"])


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


# -- aws CLI commands ---------------------------------------------------------------

# Options every `aws` command takes, and those the CLI adds to paginated operations.
AWS_GLOBAL_OPTIONS = {
    "region", "profile", "output", "query", "endpoint-url", "no-paginate", "no-cli-pager",
    "debug", "cli-input-json", "cli-input-yaml", "no-verify-ssl", "color",
    "starting-token", "max-items", "page-size",
}  # fmt: skip
# `aws` commands that are CLI customizations, not botocore services.
AWS_CUSTOM_COMMANDS = {"configure", "s3", "sso", "deploy"}


def documented_aws_commands() -> Iterator[tuple[str, str, bool]]:
    """(where, command, complete): a code block's command is run as written (complete);
    prose may name one without its arguments."""
    for path in DOCS:
        where = str(path.relative_to(REPO_ROOT))
        for in_code, line in doc_lines(path):
            if in_code and line.strip().startswith("aws "):
                yield where, line.strip(), True
            elif not in_code:
                for inline in re.findall(r"`(aws [a-z0-9-]+ [a-z0-9-]+[^`]*)`", line):
                    yield where, inline, False


def aws_command_problem(command: str, *, complete: bool) -> str | None:
    """Why the AWS CLI would refuse `command` (None: its service, operation and options
    exist, and a complete command gives every required option)."""
    import botocore.session
    from botocore import xform_name

    words = shlex.split(command.split(" #", maxsplit=1)[0])
    service, operation = words[1], words[2]
    session = botocore.session.get_session()
    if service in AWS_CUSTOM_COMMANDS:
        return None
    if service not in session.get_available_services():
        return f"`aws {service}`: no such service"
    model = session.get_service_model(service)
    operations = {xform_name(name, "-"): name for name in model.operation_names}
    if operation not in operations:
        return f"`aws {service} {operation}`: no such operation"
    shape = model.operation_model(operations[operation]).input_shape
    members = {xform_name(name, "-"): name for name in (shape.members if shape else {})}
    given = {w[2:] for w in words[3:] if w.startswith("--")}
    problems = [
        f"--{option}"
        for option in sorted(given - AWS_GLOBAL_OPTIONS)
        if option not in members and option.removeprefix("no-") not in members
    ]
    if problems:
        return f"`{command}`: {operation} takes no {', '.join(problems)}"
    if complete and shape is not None:
        passed = {o.removeprefix("no-") for o in given}
        missing = [m for m in shape.required_members if xform_name(m, "-") not in passed]
        if missing:
            return f"`{command}`: {operation} needs {', '.join(missing)}"
    return None


@pytest.mark.parametrize(("where", "command", "complete"), sorted(set(documented_aws_commands())))
def test_documented_aws_command_exists(where: str, command: str, complete: bool) -> None:
    assert aws_command_problem(command, complete=complete) is None, where


@pytest.mark.parametrize(
    "command",
    [
        "aws cloudhsmv2 create-hsm --cluster-id c",  # no --availability-zone
        "aws cloudhsmv2 list-hsms --cluster-id c",
        "aws cloudhsmv2 describe-clusters --cluster-ids c",
        "aws cloudhsm2 describe-clusters",
    ],
)
def test_a_wrong_aws_command_would_fail(command: str) -> None:
    assert aws_command_problem(command, complete=True) is not None


# -- the seed's commands ------------------------------------------------------------

# The seed's 9.2.2 (single HSM failure), verbatim; its step 3 uses CloudHSM CLI, whose
# command for the HSMs a client sees is `cluster hsm-info` (docs/cloudhsm-facts.md).
SEED_DESCRIBE = (
    "aws cloudhsmv2 describe-clusters --filters clusterIds=[CLUSTER_ID] "
    "--query 'Clusters[0].Hsms[*].[HsmId,State,AvailabilityZone]' --output table"
)
SEED_CREATE_HSM = (
    "aws cloudhsmv2 create-hsm --cluster-id [CLUSTER_ID] --availability-zone [FAILED_HSM_AZ]"
)
BREAK_GLASS = "## Break-glass"
PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_]*\]")


def code_lines(runbook: str, heading: str = "") -> list[str]:
    """Code lines of a runbook, only those under `heading` (to the next ## heading)."""
    path = RUNBOOKS / runbook
    lines, inside = [], not heading
    for in_code, line in doc_lines(path):
        if not in_code and line.startswith("## "):
            inside = not heading or line.startswith(heading)
        if in_code and inside:
            lines.append(line.strip())
    return lines


def shape(command: str) -> str:
    """A command with its placeholders' names blanked: `[CLUSTER_ID]` and `[NEW_ID]` match."""
    return PLACEHOLDER.sub("[ID]", command)


def test_the_single_hsm_break_glass_is_the_seeds_commands_verbatim() -> None:
    commands = code_lines("single-hsm-failure.md", BREAK_GLASS)
    assert SEED_DESCRIBE in commands
    assert SEED_CREATE_HSM in commands


def test_the_complete_failure_break_glass_restores_with_the_seeds_commands() -> None:
    # Given the raw CLI sequence for when the stack is unusable
    commands = [c for c in code_lines("complete-cluster-failure.md", BREAK_GLASS) if c]
    operations = [c.split()[2] for c in commands if c.startswith("aws cloudhsmv2 ")]
    # Then it looks at the lost cluster with the seed's command, finds a backup, creates
    # a cluster from it and adds HSMs as the seed does, watching them the seed's way
    assert SEED_DESCRIBE in commands
    assert shape(SEED_DESCRIBE) in {shape(c) for c in commands[1:]}  # the new cluster's
    assert shape(SEED_CREATE_HSM) in {shape(c) for c in commands}
    assert operations.index("describe-backups") < operations.index("create-cluster")
    assert operations.index("create-cluster") < operations.index("create-hsm")
    create = next(c for c in commands if " create-cluster " in c)
    assert "--source-backup-id" in create
    # and never initializes the restored cluster (it comes up ACTIVE from its backup)
    assert "initialize-cluster" not in operations


def test_clients_check_the_hsms_with_cluster_hsm_info() -> None:
    for runbook in ("single-hsm-failure.md", "complete-cluster-failure.md"):
        text = (RUNBOOKS / runbook).read_text()
        assert "cluster hsm-info" in text, runbook
    for path in DOCS:
        assert not [line for code, line in doc_lines(path) if code and "list-hsms" in line]
