"""`hsmdr report`: the post-incident analysis of real sandbox executions."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hsmdr.cli import main
from sandbox.backup_scenarios import create_backup
from sandbox.session import Sandbox
from tests.conftest import Synthesized


@pytest.fixture
def sandbox(synthesized: Synthesized) -> Iterator[Sandbox]:
    with Sandbox(profile="test", template=synthesized.template) as sandbox:
        sandbox.seed_protected_clusters()
        yield sandbox


def test_report_of_a_failed_run_names_the_step_cause_and_alert(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.apply_faults(["lambda-crash:on-demand-backup@check_backup"])
    run = create_backup(sandbox)
    code = main(["report", run["execution_arn"], "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["status"] == "SUCCEEDED"
    assert report["execution_succeeded"] is False
    assert report["failure"]["state"] == "CheckBackup"
    assert report["failure"]["error"] == "SandboxInjectedCrash"
    assert [a["subject"] for a in report["alerts"]] == [run["alerts"][0]["subject"]]
    assert report["state_machine"] == "hsmdr-sandbox-on-demand-backup"
    assert [s["state"] for s in report["timeline"]] == [s["state"] for s in run["timeline"]]


def test_markdown_report_has_timeline_gantt_and_analysis_template(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    run = create_backup(sandbox)
    assert main(["report", run["execution_arn"]]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Post-incident report: hsmdr-sandbox-on-demand-backup")
    assert "Result: **SUCCEEDED**" in text
    assert "```mermaid\ngantt" in text
    assert "    CreateHsm :s" in text
    assert "- Root cause:" in text and "- Action items (owner, due date):" in text
    assert "## Failure" not in text


def test_report_refuses_something_that_is_not_an_execution_arn(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["report", "arn:aws:states:us-east-1:1:stateMachine:x", "--json"])
    assert code == 2
    assert "is not a Step Functions execution ARN" in json.loads(capsys.readouterr().out)["message"]
