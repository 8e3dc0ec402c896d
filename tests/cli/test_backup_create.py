"""`hsmdr backup create` and `hsmdr sandbox create-backup`, and the seed's scripts."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from hsmdr.cli import main
from sandbox.session import Sandbox
from tests.conftest import REPO_ROOT, SANDBOX_CONFIG, Synthesized
from tests.speedups import quick_follow


@pytest.fixture(autouse=True)
def reuse_synthesis(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sandbox.session.synthesize", lambda _path: synthesized.template)


def test_sandbox_create_backup_reports_backup_timeline_and_no_leaks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["sandbox", "create-backup", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["status"] == "SUCCEEDED"
    assert document["execution_arn"].startswith("arn:aws:states:us-east-1:")
    assert document["backup"]["state"] == "READY"
    assert document["leaked_resources"] == {"hsms": [], "clusters": []}
    assert {"state", "start", "end", "seconds"} <= set(document["timeline"][0])


def test_sandbox_create_backup_failure_exits_one_with_the_alert(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["sandbox", "create-backup", "--fault", "lambda-crash:on-demand-backup@check_backup"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("On-demand backup: FAILED")
    assert "CleanUp" in out and "Leaked resources: none" in out
    assert "Alert sent: On-demand backup FAILED on cluster-sandboxprimary" in out


@pytest.fixture
def deployed(synthesized: Synthesized) -> Iterator[Sandbox]:
    """The stack deployed in an account that boto3's credential chain reaches."""
    with Sandbox(profile="test", template=synthesized.template) as sandbox:
        sandbox.seed_protected_clusters()
        yield sandbox


def test_backup_create_starts_and_follows_the_deployed_state_machine(
    capsys: pytest.CaptureFixture[str], deployed: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sandbox's default poll interval is the config's 30 s: shorten it for the test.
    quick_follow(monkeypatch)
    code = main(
        [
            "backup", "create", "--config", str(SANDBOX_CONFIG),
            "--cluster", "cluster-sandboxprimary", "--strategy", "cycle-hsm",
            "--follow", "--json", "--poll-seconds", "1",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert code == 0, document
    assert document["execution_status"] == "SUCCEEDED"
    assert document["output"]["strategy"] == "cycle-hsm"
    assert "] validating and locking the cluster" in captured.err  # one line per phase
    assert "] releasing the lock" in captured.err and "ValidateAndLock" not in captured.err


def test_backup_create_refuses_an_unprotected_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["backup", "create", "--config", str(SANDBOX_CONFIG), "--cluster", "cluster-otherxxxxxx"]
    )
    assert code == 2
    assert "--cluster: cluster-otherxxxxxx is not in" in capsys.readouterr().err


@pytest.mark.parametrize("script", ["create_backup.sh", "verify_backup.sh"])
def test_seed_scripts_have_help_and_refuse_no_arguments(script: str) -> None:
    path = REPO_ROOT / "scripts" / "backup" / script
    shown = subprocess.run([path, "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and "Usage: scripts/backup/" in shown.stdout
    bare = subprocess.run([path], capture_output=True, text=True, check=False)
    assert bare.returncode == 2 and "Usage:" in bare.stderr


def test_verify_script_runs_the_cli(deployed: Sandbox) -> None:
    # The script execs the CLI in a new process, outside this test's sandbox: with no
    # AWS reachable it fails, but it must fail as the CLI does (one JSON document).
    path = REPO_ROOT / "scripts" / "backup" / "verify_backup.sh"
    result = subprocess.run(
        [path, "--config", str(REPO_ROOT / "config" / "missing.yaml"), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"] == "config"
