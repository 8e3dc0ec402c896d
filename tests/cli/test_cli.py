"""The operator CLI: exit codes, --json documents, readable output, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hsmdr.cli import main
from sandbox.emulator import PROFILES, CloudHsmWorld
from sandbox.network import create_network
from sandbox.session import emulated_account
from tests.conftest import SANDBOX_CONFIG, Synthesized


@pytest.fixture(autouse=True)
def reuse_synthesis(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> None:
    # The sandbox commands synthesize the app on every run; the suite does it once.
    monkeypatch.setattr("sandbox.session.synthesize", lambda _path: synthesized.templates)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out = run(capsys, *argv, "--json")
    document = json.loads(out)  # exactly one JSON document on stdout
    assert isinstance(document, dict)
    return code, document


def test_sandbox_verify_backups_healthy_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = run_json(capsys, "sandbox", "verify-backups")
    assert code == 0
    assert document["status"] == "SUCCEEDED"
    assert document["clusters"][0]["cluster_id"] == "cluster-sandboxprimary"


def test_sandbox_verify_backups_with_fault_exits_one_and_shows_alert(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "sandbox", "verify-backups", "--fault", "hsm-failure")
    assert code == 1
    assert ": FAILED" in out.splitlines()[0]
    assert "HSM              STATE     AZ          IP" in out
    assert "DEGRADED" in out
    assert "Alerts sent to the on-call engineer (1):" in out
    assert "Subject: [hsmdr-sandbox] CloudHSM backup verification FAILED" in out
    assert "{'" not in out  # tables and sentences, never raw dicts


def test_unknown_fault_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = run_json(capsys, "sandbox", "verify-backups", "--fault", "meteor")
    assert code == 2
    assert document["status"] == "FAILED"
    assert "'meteor' is not a fault" in document["message"]


def test_bad_config_is_reported_with_path_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = yaml.safe_load(SANDBOX_CONFIG.read_text())
    data["rpo_hours"] = -1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    code, document = run_json(capsys, "backup", "verify", "--config", str(bad))
    assert code == 2
    assert document == {
        "status": "FAILED",
        "error": "config",
        "message": f"{bad}: rpo_hours: Input should be greater than 0",
    }


def test_unknown_cluster_is_refused_before_any_call(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["backup", "verify", "--config", str(SANDBOX_CONFIG), "--cluster", "cluster-other"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""  # the error went to stderr
    assert "--cluster: ['cluster-other'] not in" in captured.err


@pytest.fixture
def account() -> Iterator[CloudHsmWorld]:
    """An AWS account as the normal credential chain would reach it (emulated)."""
    world = CloudHsmWorld(profile=PROFILES["test"])
    with emulated_account(world):
        yield world


def test_backup_verify_against_an_account_reads_and_reports(
    capsys: pytest.CaptureFixture[str], account: CloudHsmWorld
) -> None:
    from datetime import timedelta

    network = create_network("us-east-1", ["us-east-1a", "us-east-1b"])
    account.seed_cluster(
        "us-east-1",
        network.subnet_ids(["us-east-1a", "us-east-1b"]),
        cluster_id="cluster-sandboxprimary",
        backup_ages=[timedelta(hours=30)],
    )
    code, document = run_json(capsys, "backup", "verify", "--config", str(SANDBOX_CONFIG))
    assert code == 1
    # (the config's DR region us-west-2 holds no copy of it)
    assert [f["code"] for f in document["findings"]] == ["BACKUP_OLDER_THAN_RPO", "COPY_MISSING"]
    assert set(account.api_calls) == {"DescribeClusters", "DescribeBackups"}  # read-only


@pytest.mark.demo_pace  # what `make demo` prints, at the demo's own pace
def test_demo_tells_the_whole_story(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "sandbox", "demo")
    assert code == 0, out
    for heading in ("== 1. Deployed", "== 2. Seeded", "== 3.", "== 4.", "== 5."):
        assert heading in out
    assert "[BACKUP_OLDER_THAN_RPO]" in out and "[HSM_DEGRADED]" in out
    assert out.count("| Subject: [hsmdr-sandbox] CloudHSM backup verification FAILED") == 2
    # Both put a recovery at risk: they page, and say which runbook to open
    assert out.count("| Topic: page (wakes the on-call engineer)") == 2
    assert "Runbook: docs/runbooks/single-hsm-failure.md" in out
    assert out.rstrip().endswith("both incidents were caught and alerted.")


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["sandbox", "--help"], ["backup", "verify", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
    assert "--fault NAME" in run_help(capsys, "sandbox", "verify-backups")


def run_help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return capsys.readouterr().out
