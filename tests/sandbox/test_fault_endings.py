"""Every fault, run as an operator runs it (`hsmdr sandbox COMMAND --fault F --json`,
demo profile), ends by itself: SUCCEEDED, or FAILED with the error and cause, never
cut off by the sandbox's own time limit. The HSM faults under every HSM-changing
workflow are in test_fault_matrix.py, the key faults in tests/cli/test_keys_cli.py;
this covers the rest, each through the command where it bites, and checks that no
fault is left without a CLI run.

Nothing here measures wall time: a run that waited on a deadline longer than the
sandbox's limit would come back stopped (error Sandbox.Timeout, or still RUNNING)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hsmdr.cli import main
from sandbox.emulator import FAULT_NAMES
from sandbox.emulator.faults import KEY_FAULTS
from tests.sandbox.test_fault_matrix import FAULTS as MATRIX_FAULTS

pytestmark = pytest.mark.slow

# (command and its arguments, the fault, the status it must end with, what its
# error or cause must name when it fails)
RUNS: list[tuple[list[str], str, str, str]] = [
    (["create-backup"], "backup-stuck", "FAILED", "BackupTimeout"),
    (
        ["create-backup"],
        "lambda-crash:on-demand-backup@check_backup",
        "FAILED",
        "SandboxInjectedCrash",
    ),
    (["copy-backups"], "copy-fails", "FAILED", "COPY_FAILED"),
    (["verify-backups", "--advance-hours", "30"], "backups-stopped", "FAILED", ""),
    (["replace-hsm"], "hsm-failure", "SUCCEEDED", ""),
]


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, dict[str, Any]]:
    code = main(["sandbox", *arguments, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_every_fault_has_a_cli_run() -> None:
    covered = {fault.partition(":")[0] for _, fault, _, _ in RUNS}
    assert set(FAULT_NAMES) <= covered | set(MATRIX_FAULTS) | KEY_FAULTS | {"lambda-crash"}
    assert "lambda-crash" in covered


@pytest.mark.parametrize(
    ("command", "fault", "status", "named"),
    RUNS,
    ids=[f"{c[0]}:{f}" for c, f, _, _ in RUNS],
)
def test_fault_ends_the_run_by_itself(
    command: list[str], fault: str, status: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run(capsys, *command, "--fault", fault)
    assert report["status"] == status, (report.get("error"), report.get("cause"))
    assert code == (0 if status == "SUCCEEDED" else 1)
    assert report.get("error") != "Sandbox.Timeout", report.get("cause")
    assert "still RUNNING" not in json.dumps(report)
    assert report["faults_not_fired"] == [], report["faults_fired"]
    if status == "FAILED":
        # the cause: the execution's error and cause, or the job's findings
        reason = json.dumps([report.get(k) for k in ("error", "cause", "findings")])
        assert named in reason, reason
        assert report["alerts"], "a failed run must page"
