"""`hsmdr drill start|status|report --vault`: the vault stack's drill, started and read
with recovery-account credentials; refused with production's, or without a vault."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hsmdr.cli import main
from sandbox.permissions import in_account
from sandbox.session import Sandbox
from sandbox.vault_scenarios import RECOVERY_ACCOUNT, REFRESH_WORKFLOW, share, vault_config
from stacks.names import vault_stack_name
from tests.conftest import SANDBOX_CONFIG
from tests.speedups import quick_follow

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def refreshed() -> Iterator[Sandbox]:
    """Production shared a backup and the vault refreshed: the vault holds one."""
    with Sandbox(vault_config(keys=False), profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        share(sandbox)
        vault = sandbox.deployments[vault_stack_name(sandbox.config.deployment_name)]
        assert vault.run_state_machine(REFRESH_WORKFLOW, {}, timeout=600).status == "SUCCEEDED"
        yield sandbox


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--config", str(vault_config(keys=False)), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_vault_drill_is_started_and_read_with_recovery_account_credentials(
    refreshed: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_follow(monkeypatch)
    with in_account(RECOVERY_ACCOUNT):
        code, started = run(capsys, "drill", "start", "--vault", "--poll-seconds", "1", "--follow")
        assert code == 0, started
        assert started["execution_status"] == "SUCCEEDED"
        # the vault stack's drill, in the recovery account
        assert started["execution_arn"].split(":")[4] == RECOVERY_ACCOUNT
        code, status = run(capsys, "drill", "status", "--vault")
        assert code == 0, status
        [latest] = status["drills"]
        assert latest["execution_arn"] == started["execution_arn"]
        assert latest["teardown"] == "COMPLETE" and latest["recovery_time_seconds"] > 0
        assert status["leftover_drill_clusters"] == []
        code, report = run(capsys, "drill", "report", "--vault")
        assert code == 0 and report["markdown_key"] == latest["report_key"]
        assert "(vault, us-east-1)" in report["markdown"]
    # Production never ran a drill: the vault's is not production's of the same name
    assert refreshed.world.api_calls["CreateCluster"] == 0


def test_vault_is_refused_with_production_credentials_or_without_a_vault(
    refreshed: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["drill", "status", "--vault", "--config", str(vault_config(keys=False))])
    assert code == 2
    assert "recovery-account credentials" in capsys.readouterr().err
    code = main(["drill", "start", "--vault", "--config", str(SANDBOX_CONFIG)])
    assert code == 2
    assert "no recovery_account" in capsys.readouterr().err
    with in_account(RECOVERY_ACCOUNT):
        code = main(
            [
                "drill",
                "start",
                "--vault",
                "--source",
                "primary",
                "--config",
                str(vault_config(keys=False)),
            ]
        )
    assert code == 2
    assert "vault backups only" in capsys.readouterr().err
