"""`hsmdr sandbox vault`: the JSON a run prints and the exit codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hsmdr.cli import main
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow

FIELDS = ("status", "vault_backups", "rpo_seconds", "rto_seconds", "hsm_seconds")


def test_sandbox_vault_prints_the_recovery_and_exits_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    require_softhsm()
    code = main(["sandbox", "vault", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0, document
    assert document["status"] == "SUCCEEDED"
    assert all(document[field] is not None for field in FIELDS)
    assert document["vault_backups"] == [document["restore"]["backup_id"]]
    assert document["leaked_resources"] == {"clusters": [], "hsms": []}
    assert document["keys_verified"]["status"] == "SUCCEEDED"
    # The restore checked the keys itself, against the vault's own manifest
    assert document["restore"]["key_verification_report"]["status"] == "SUCCEEDED"
    assert document["refresh"]["keys"]["status"] == "CAPTURED"


def test_sandbox_vault_without_keys_says_so_and_a_failed_run_exits_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox import vault_scenarios

    recorded: dict[str, Any] = {}
    real = vault_scenarios.recover_from_vault

    def leaking(**kwargs: Any) -> dict[str, Any]:
        # A real run without keys; then a vault cluster still holding an HSM, as a
        # broken refresh would leave it, marks it FAILED
        report = real(**kwargs)
        recorded.update(report)
        return {
            **report,
            "status": "FAILED",
            "leaked_resources": {"clusters": [], "hsms": ["hsm-x"]},
        }

    monkeypatch.setattr(vault_scenarios, "recover_from_vault", leaking)
    code = main(["sandbox", "vault", "--no-keys"])
    out = capsys.readouterr().out
    assert recorded["status"] == "SUCCEEDED"
    assert recorded["keys_verified"] is None
    assert code == 1
    assert "Keys: not checked (key verification: not run" in out
    assert "recovery_account.key_verification" in out
    assert "Leaked: clusters [], HSMs ['hsm-x']" in out


def test_sandbox_vault_drill_prints_the_drill_and_exits_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["sandbox", "vault-drill", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0, document
    assert document["status"] == "SUCCEEDED"
    assert document["drill"]["status"] == "SUCCEEDED" and document["drill"]["source"] == "vault"
    assert document["rto_seconds"] > 0
    assert document["vault_untouched"] is True
    assert document["vault_before"]["backups"]
    assert document["leaked_resources"] == {"clusters": [], "hsms": [], "backups": []}
