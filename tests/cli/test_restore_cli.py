"""`hsmdr restore` (AWS, here the deployed sandbox), `hsmdr sandbox restore`, and the
seed's scripts/backup/restore_cluster.sh."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from hsmdr.cli import main
from sandbox.restore_scenarios import subnets
from sandbox.session import Sandbox
from tests.conftest import REPO_ROOT, SANDBOX_CONFIG, Synthesized
from tests.sandbox.restore_support import SOURCE, disaster
from tests.speedups import quick_follow

SCRIPT = REPO_ROOT / "scripts" / "backup" / "restore_cluster.sh"


@pytest.fixture
def reuse_synthesis(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sandbox.session.synthesize", lambda _path: synthesized.templates)


@pytest.fixture
def lost(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The stacks deployed where boto3's credential chain reaches them; the cluster lost."""
    quick_follow(monkeypatch)
    sandbox = disaster(synthesized)
    yield sandbox
    sandbox.__exit__(None, None, None)


def test_sandbox_restore_reports_rto_rpo_hsms_and_no_leaks(
    reuse_synthesis: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sandbox", "restore", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0, document
    assert document["status"] == "SUCCEEDED"
    assert document["execution_arn"].startswith("arn:aws:states:us-east-1:")
    assert len(document["hsms"]) == 2 and document["cluster_id"].startswith("cluster-")
    assert 0 < document["rto_seconds"] <= document["time_to_full_ha_seconds"]
    assert document["rpo_seconds"] is not None
    assert document["leaked_resources"] == {"clusters": [], "hsms": []}
    assert len(document["alerts"]) == 2
    assert {"state", "start", "end", "seconds"} <= set(document["timeline"][0])
    cluster_id = "/hsmdr/hsmdr-sandbox/restored/cluster-sandboxprimary/cluster-id"
    assert document["client_config"][cluster_id] == document["cluster_id"]


def test_sandbox_restore_failure_exits_one_and_lists_what_exists(
    reuse_synthesis: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sandbox", "restore", "--fault", "lambda-crash:restore-cluster@verify"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("Restore: FAILED")
    assert "Exists now (nothing was deleted): cluster-" in out
    assert "Alert sent: CloudHSM service restored" in out  # service was back before the crash
    assert "Alert sent: Restore FAILED: cluster-sandboxprimary: SandboxInjectedCrash" in out


@pytest.mark.slow
def test_sandbox_restore_with_a_key_fault_fails_with_the_finding_and_keeps_the_cluster(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.sandbox.restore_support import key_templates
    from tests.softhsm_support import require_softhsm

    require_softhsm()
    monkeypatch.setattr("sandbox.session.synthesize", lambda _path: key_templates())
    code = main(["sandbox", "restore", "--fault", "key-corrupt", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1, document
    assert document["status"] == "FAILED" and document["error"] == "KeyVerificationFailed"
    [kept] = document["existing"]
    page = document["alerts"][-1]
    assert f"The restored cluster {kept['cluster_id']} is KEPT" in page["message"]
    assert "KCV_MISMATCH" in page["message"]
    assert document["faults_fired"] == {"key-corrupt": 1}


def test_sandbox_restore_refuses_an_unknown_fault(
    reuse_synthesis: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sandbox", "restore", "--fault", "meteor"]) == 2
    assert "is not a fault" in capsys.readouterr().err


def test_restore_starts_and_follows_the_deployed_state_machine(
    lost: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "restore", "--config", str(SANDBOX_CONFIG), "--source-cluster", SOURCE,
            "--subnet-ids", ",".join(subnets(lost, "us-east-1")), "--restore-id", "cli-1",
            "--follow", "--json",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert code == 0, document
    assert document["execution_status"] == "SUCCEEDED"
    assert document["restore_id"] == "cli-1" and document["state_machine_region"] == "us-east-1"
    assert document["output"]["cluster_id"].startswith("cluster-")
    states = [s["state"] for s in document["timeline"]]
    assert states[:2] == ["Start", "IdentifyBackup"] and states[-1] == "Succeeded"
    # one live line per phase, not per state
    assert "] choosing the backup" in captured.err and "] reporting" in captured.err
    assert "IdentifyBackup" not in captured.err


def test_restore_in_a_dr_region_runs_that_regions_state_machine_and_reports_failure(
    lost: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "restore", "--config", str(SANDBOX_CONFIG), "--backup-id", "backup-unknownunkno",
            "--region", "us-west-2", "--subnet-ids", ",".join(subnets(lost, "us-west-2")),
            "--follow", "--json",
        ]
    )  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["state_machine_region"] == "us-west-2"
    assert ":us-west-2:" in document["execution_arn"]
    assert document["error"] == "BackupNotFound"
    assert document["failure"]["error"] == "BackupNotFound"
    assert document["failure"]["existing"] == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--backup-id", "backup-1"], "--backup-id: 'backup-1' does not match"),
        (["--source-cluster", SOURCE, "--subnet-ids", "sn-1"], "--subnet-ids"),
        (["--source-cluster", SOURCE, "--hsm-count", "0"], "--hsm-count: must be 1 or more"),
        (["--source-cluster", SOURCE, "--restore-id", "a b"], "--restore-id"),
    ],
)
def test_restore_refuses_bad_flags_before_calling_aws(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["restore", "--config", str(SANDBOX_CONFIG), *argv]) == 2
    assert message in capsys.readouterr().err


def test_restore_wants_exactly_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["restore", "--config", str(SANDBOX_CONFIG)]) == 2
    assert "one of the arguments --source-cluster --backup-id is required" in (
        capsys.readouterr().err
    )
    assert main(["restore", "--config", "c", "--source-cluster", SOURCE, "--backup-id", "b"]) == 2


def test_restore_script_has_help_and_refuses_no_arguments() -> None:
    shown = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and "Usage: scripts/backup/restore_cluster.sh" in shown.stdout
    bare = subprocess.run([SCRIPT], capture_output=True, text=True, check=False)
    assert bare.returncode == 2 and "Usage:" in bare.stderr


def test_restore_script_runs_the_cli() -> None:
    # The script execs the CLI in a new process: a missing config fails as the CLI does.
    result = subprocess.run(
        [SCRIPT, "--config", str(REPO_ROOT / "config" / "missing.yaml"), "--source-cluster",
         SOURCE, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"] == "config"
