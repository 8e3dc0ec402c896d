"""`hsmdr backup copy`, `hsmdr backup list` and `hsmdr sandbox copy-backups`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from hsmdr.cli import main
from sandbox.emulator import PROFILES, CloudHsmWorld
from sandbox.network import create_network
from sandbox.session import emulated_account
from tests.conftest import SANDBOX_CONFIG, Synthesized

CONFIG = str(SANDBOX_CONFIG)
CLUSTER = "cluster-sandboxprimary"


@pytest.fixture(autouse=True)
def reuse_synthesis(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sandbox.session.synthesize", lambda _path: synthesized.templates)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out = run(capsys, *argv, "--json")
    document = json.loads(out)
    assert isinstance(document, dict)
    return code, document


@pytest.fixture
def account() -> Iterator[CloudHsmWorld]:
    """The account of config/sandbox.yaml, reached through the normal credential chain:
    the cluster in us-east-1 with three daily backups, nothing in us-west-2 yet."""
    world = CloudHsmWorld(profile=PROFILES["test"])
    with emulated_account(world):
        network = create_network("us-east-1", ["us-east-1a", "us-east-1b"])
        world.seed_cluster(
            "us-east-1",
            network.subnet_ids(["us-east-1a", "us-east-1b"]),
            cluster_id=CLUSTER,
            backup_ages=[timedelta(hours=h) for h in (2, 26, 50)],
        )
        yield world


def test_backup_copy_copies_the_newest_backup_with_your_credentials(
    capsys: pytest.CaptureFixture[str], account: CloudHsmWorld
) -> None:
    code, document = run_json(capsys, "backup", "copy", "--config", CONFIG)
    assert code == 0, document
    [created] = document["clusters"][0]["copies"]["us-west-2"]["created"]
    [copy] = account.backups("us-west-2")
    assert created["backup_id"] == copy["BackupId"]
    assert copy["SourceBackup"] == account.backups("us-east-1")[-1]["BackupId"]
    assert account.api_calls["CopyBackupToRegion"] == 1


def test_backup_copy_dry_run_calls_no_write_operation(
    capsys: pytest.CaptureFixture[str], account: CloudHsmWorld
) -> None:
    code, out = run(capsys, "backup", "copy", "--config", CONFIG, "--dry-run")
    assert code == 0
    assert "(dry run: nothing was changed)" in out.splitlines()[0]
    assert "DR REGION  DECISION" in out and "(dry run)" in out
    assert set(account.api_calls) <= {"DescribeClusters", "DescribeBackups"}
    assert account.backups("us-west-2") == []


def test_backup_list_shows_each_backup_with_its_copy(
    capsys: pytest.CaptureFixture[str], account: CloudHsmWorld
) -> None:
    run(capsys, "backup", "copy", "--config", CONFIG)
    account.settle()
    code, out = run(capsys, "backup", "list", "--config", CONFIG)
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("BACKUP"))
    assert header.split() == [
        "BACKUP",
        "STATE",
        "CREATED",
        "NEVER",
        "EXPIRES",
        "GOLDEN",
        "us-west-2",
    ]
    rows = lines[lines.index(header) + 2 :]
    newest, *older = [r for r in rows if r.startswith("backup-")]
    [copy] = account.backups("us-west-2")
    assert newest.startswith(copy["SourceBackup"]) and f"{copy['BackupId']} READY" in newest
    assert len(older) == 2 and all(r.rstrip().endswith("-") for r in older)  # not copied
    assert "{'" not in out


def test_backup_list_json_and_a_region_that_is_not_a_dr_region(
    capsys: pytest.CaptureFixture[str], account: CloudHsmWorld
) -> None:
    code, document = run_json(capsys, "backup", "list", "--config", CONFIG, "--region", "us-west-2")
    assert code == 0 and document["status"] == "SUCCEEDED"
    [cluster] = document["clusters"]
    assert cluster["dr_regions"] == ["us-west-2"] and len(cluster["backups"]) == 3
    code, document = run_json(capsys, "backup", "list", "--config", CONFIG, "--region", "eu-west-1")
    assert code == 2
    assert "--region: eu-west-1 is not one of the dr_regions" in document["message"]


def test_sandbox_copy_backups_reports_copies_timeline_and_no_leaks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document = run_json(capsys, "sandbox", "copy-backups")
    assert code == 0, document["findings"]
    assert document["status"] == "SUCCEEDED"
    [copy] = document["copies"]
    assert copy["state"] == "READY" and copy["tags"]["managed-by"] == "cloudhsm-dr"
    assert document["leaked_resources"] == []
    steps = [s["step"] for s in document["timeline"]]
    assert steps[0] == "deploy the synthesized stacks"
    assert "fire the copy schedule again (tracks the copies)" in steps
    assert all(s["started_at"] <= s["ended_at"] for s in document["timeline"])
    assert document["runs"][1]["clusters"][0]["copies"]["us-west-2"]["created"] == []


def test_sandbox_copy_backups_with_failing_copies_exits_one_with_the_alert(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "sandbox", "copy-backups", "--fault", "copy-fails")
    assert code == 1
    assert out.splitlines()[0] == "Sandbox copy job of hsmdr-sandbox: FAILED"
    assert "[COPY_FAILED]" in out
    assert "Subject: [hsmdr-sandbox] CloudHSM backup copies FAILED" in out
    assert "Leaked resources: none" in out


def test_new_commands_have_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["backup", "copy"], ["backup", "list"], ["sandbox", "copy-backups"]):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--help"])
        assert exited.value.code == 0
        assert "--json" in capsys.readouterr().out


def test_sandbox_verification_shows_the_newest_copy_per_dr_region(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "sandbox", "verify-backups")
    assert code == 0
    [line] = [x for x in out.splitlines() if x.startswith("Newest READY copy in us-west-2:")]
    assert "data age 2h 0m" in line


def test_negative_advance_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = run_json(capsys, "sandbox", "copy-backups", "--advance-hours", "-1")
    assert code == 2
    assert document["message"] == (
        "argument --advance-hours: '-1' is not a number of hours, 0 or more"
    )
