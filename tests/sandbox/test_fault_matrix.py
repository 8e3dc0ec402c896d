"""Every HSM-changing workflow under every fault that touches HSMs, run as an operator
runs it (`hsmdr sandbox WORKFLOW --fault F --json`): each ends SUCCEEDED or FAILED,
leaves nothing behind, has no call refused, and a failed run pages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hsmdr.cli import main

pytestmark = pytest.mark.slow

WORKFLOWS = ["create-backup", "replace-hsm", "restore", "drill"]
FAULTS = ["throttle", "internal-failure", "hsm-degraded", "az-unsupported"]


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, dict[str, Any]]:
    code = main(["sandbox", *arguments, "--json"])
    return code, json.loads(capsys.readouterr().out)


def nothing_left(leaked: Any) -> bool:
    if isinstance(leaked, dict):
        return all(not value for value in leaked.values())
    return not leaked


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_workflow_under_fault_ends_clean(
    workflow: str, fault: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run(capsys, workflow, "--fault", fault)
    assert code in (0, 1), report
    assert report["status"] in ("SUCCEEDED", "FAILED"), report.get("status")
    assert (code == 0) == (report["status"] == "SUCCEEDED")
    assert nothing_left(report["leaked_resources"]), report["leaked_resources"]
    assert report["denied_calls"] == []
    assert report["network_refusals"] == []
    assert report["faults_not_fired"] == [] or fault == "throttle", report["faults_fired"]
    if report["status"] == "FAILED":
        assert report["alerts"], "a failed run must page"


# The combined faults and crashes a chaos run found (issue: hardening).
COMBINATIONS = [
    ("restore", ["az-unsupported:us-east-1a", "hsm-degraded"]),
    ("replace-hsm", ["hsm-degraded", "hsm-degraded"]),
    ("create-backup", ["lambda-crash:on-demand-backup@validate"]),
    ("drill", ["hsm-degraded", "hsm-degraded"]),
    ("create-backup", ["hsm-failure"]),
    # A step's function crashing on every call, in the middle of each workflow
    ("create-backup", ["lambda-crash:on-demand-backup@check_hsm"]),
    ("replace-hsm", ["hsm-failure", "lambda-crash:replace-hsm@check_hsm"]),
    ("restore", ["lambda-crash:restore-cluster@check_hsm"]),
    ("drill", ["lambda-crash:dr-drill@check_hsm"]),
]
# A teardown that crashes on every try: tests/sandbox/test_drill_faults.py (it retries
# until its deadline, then names what is left).


@pytest.mark.parametrize(
    ("workflow", "faults"), COMBINATIONS, ids=[f"{w}:{'+'.join(f)}" for w, f in COMBINATIONS]
)
def test_workflow_under_combined_faults_ends_clean(
    workflow: str, faults: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = [a for fault in faults for a in ("--fault", fault)]
    code, report = run(capsys, workflow, *arguments)
    assert code in (0, 1), report
    assert nothing_left(report["leaked_resources"]), report["leaked_resources"]
    assert report["denied_calls"] == []
    assert report["faults_not_fired"] == [], report["faults_fired"]
    if report["status"] == "FAILED":
        assert report["alerts"], "a failed run must page"
        assert all("Traceback" not in a.get("message", "") for a in report["alerts"])
