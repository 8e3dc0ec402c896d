"""Static gates over every synthesized template of the example and all-options configs:
IAM statements against the Service Authorization Reference, state machine definitions
with asl-validator, templates with checkov. Each finding fails the test unless a
reasoned entry in the repo accepts it (tests/infra/iam_gate_exceptions.yaml,
tests/infra/checkov_skips.yaml); an entry that no longer matches anything fails too.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.infra.conftest import GATE_CONFIGS, GateSynthesis
from tests.infra.static_gates import (
    iam_findings,
    iam_statements,
    load_exceptions,
    state_machine_definitions,
    unexcused,
    unused,
)

pytestmark = pytest.mark.slow

IAM_EXCEPTIONS = Path(__file__).with_name("iam_gate_exceptions.yaml")
CHECKOV_SKIPS = Path(__file__).with_name("checkov_skips.yaml")
ASL_VALIDATE = REPO_ROOT / "scripts" / "gates" / "asl_validate.cjs"
ASL_VALIDATOR = REPO_ROOT / "node_modules" / "asl-validator" / "package.json"
CHECKOV = REPO_ROOT / ".venv" / "tools-checkov" / "bin" / "checkov"
INSTALL_HINT = "install the gate tools with `make gate-tools`"


def require_tool(path: Path, name: str) -> None:
    """Locally a missing tool skips its gate with the command that installs it; in CI
    (CI=true) the gate fails, so CI can never pass by skipping it."""
    if path.exists() and shutil.which("node"):
        return
    message = f"{name} is missing ({path}): {INSTALL_HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the static gates: {message}")
    pytest.skip(message)


# -- IAM against the Service Authorization Reference -----------------------------------


@pytest.mark.parametrize("config", GATE_CONFIGS)
def test_every_iam_statement_is_supported_by_the_service_authorization_reference(
    gate_synthesis: GateSynthesis, config: str
) -> None:
    stacks = gate_synthesis.stacks(config)
    # The gate really reads the policies: dozens of statements in every config.
    assert sum(1 for stack in stacks for _ in iam_statements(stack)) > 100
    findings = unexcused(iam_findings(stacks), load_exceptions(IAM_EXCEPTIONS))
    assert [f.line() for f in findings] == []


def test_every_iam_exception_still_matches_a_finding(gate_synthesis: GateSynthesis) -> None:
    exceptions = load_exceptions(IAM_EXCEPTIONS)
    assert unused(exceptions, iam_findings(gate_synthesis.all_stacks())) == []


# -- state machines with asl-validator -------------------------------------------------


def validate_asl(definitions: dict[str, Any]) -> dict[str, list[str]]:
    """asl-validator's errors for each definition (an empty list: valid)."""
    require_tool(ASL_VALIDATOR, "asl-validator")
    result = subprocess.run(
        [str(shutil.which("node")), str(ASL_VALIDATE)],
        input=json.dumps(definitions),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    errors: dict[str, list[str]] = json.loads(result.stdout)
    return errors


@pytest.mark.parametrize("config", GATE_CONFIGS)
def test_every_state_machine_definition_passes_asl_validator(
    gate_synthesis: GateSynthesis, config: str
) -> None:
    definitions = {
        f"{stack.stack}/{logical_id}": definition
        for stack in gate_synthesis.stacks(config)
        for logical_id, definition in state_machine_definitions(stack)
    }
    assert len(definitions) >= 4  # on-demand backup, replacement, restore, drill at least
    assert {name: errors for name, errors in validate_asl(definitions).items() if errors} == {}


def test_asl_validator_rejects_a_transition_to_a_missing_state() -> None:
    broken = {
        "StartAt": "First",
        "States": {"First": {"Type": "Pass", "Next": "Nowhere"}},
    }
    valid = {"StartAt": "First", "States": {"First": {"Type": "Pass", "End": True}}}
    errors = validate_asl({"broken": broken, "valid": valid})
    assert errors["valid"] == []
    assert any("Nowhere" in error for error in errors["broken"]), errors


# -- checkov -------------------------------------------------------------------------


def checkov_failures(templates: dict[str, dict[str, Any]], folder: Path) -> list[dict[str, str]]:
    """Every failed checkov check over the templates: check id, resource, file."""
    require_tool(CHECKOV, "checkov")
    for name, template in templates.items():
        (folder / f"{name}.template.json").write_text(json.dumps(template))
    result = subprocess.run(
        [
            *(str(CHECKOV), "--directory", str(folder), "--framework", "cloudformation"),
            *("--output", "json", "--quiet", "--compact", "--skip-download"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # checkov exits 1 when a check fails; anything else (or no report) is a crash.
    assert result.returncode in (0, 1) and result.stdout.strip(), result.stderr[-3000:]
    reports = json.loads(result.stdout)
    failures = []
    for report in reports if isinstance(reports, list) else [reports]:
        if not isinstance(report, dict) or "results" not in report:
            continue  # a summary with nothing to report: every check passed
        for failed in report["results"]["failed_checks"]:
            failures.append(
                {
                    "check": failed["check_id"],
                    "name": failed["check_name"],
                    "resource": failed["resource"],
                    "file": Path(failed["file_path"]).name,
                }
            )
    return failures


def load_checkov_skips(path: Path) -> list[dict[str, Any]]:
    """The skip list: per check id a reason, and optionally the resources it covers
    (globs over `Type.LogicalId`); without `resources` it covers every resource."""
    entries = yaml.safe_load(path.read_text()) or []
    for index, entry in enumerate(entries):
        if len(str(entry.get("reason", "")).strip()) < 20 or "check" not in entry:
            raise ValueError(f"{path}: entry {index}: needs a check id and a reason")
    return list(entries)


def skipped(failure: dict[str, str], skip: dict[str, Any]) -> bool:
    patterns = skip.get("resources", ["*"])
    return failure["check"] == skip["check"] and any(
        fnmatch.fnmatchcase(failure["resource"], pattern) for pattern in patterns
    )


def test_checkov_finds_nothing_outside_the_reasoned_skip_list(
    gate_synthesis: GateSynthesis, tmp_path: Path
) -> None:
    templates = {f"{s.config}--{s.stack}": s.template for s in gate_synthesis.all_stacks()}
    failures = checkov_failures(templates, tmp_path)
    skips = load_checkov_skips(CHECKOV_SKIPS)
    unskipped = [f for f in failures if not any(skipped(f, s) for s in skips)]
    assert [f"{f['file']}: {f['resource']}: {f['check']} {f['name']}" for f in unskipped] == []
    stale = [s["check"] for s in skips if not any(skipped(f, s) for f in failures)]
    assert stale == [], "skip entries that no longer match a failure: delete them"


def test_checkov_fails_an_unencrypted_public_bucket(tmp_path: Path) -> None:
    template = {
        "Resources": {"Open": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "o"}}}
    }
    failures = checkov_failures({"careless": template}, tmp_path)
    assert {"CKV_AWS_18", "CKV_AWS_21"} <= {f["check"] for f in failures}
