"""`hsmdr docs inventory`: the recovery document from live (sandbox) data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hsmdr.cli import main
from sandbox.session import Sandbox
from tests.conftest import SANDBOX_CONFIG, Synthesized


def test_inventory_lists_hsms_backups_copies_contacts_and_runbooks(
    synthesized: Synthesized, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = tmp_path / "recovery.md"
    with Sandbox(profile="test", template=synthesized.template) as sandbox:
        sandbox.seed_protected_clusters()
        hsms = {h["HsmId"]: h["EniIp"] for h in sandbox.world.hsms("cluster-sandboxprimary")}
        code = main(
            [
                "docs",
                "inventory",
                "--config",
                str(SANDBOX_CONFIG),
                "--output",
                str(output),
                "--json",
            ]
        )
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    [cluster] = document["clusters"]
    assert {h["hsm_id"]: h["eni_ip"] for h in cluster["hsms"]} == hsms
    assert len(cluster["newest_backups"]) == 3
    [newest, *_] = cluster["newest_backups"]
    assert 2 * 3600 - 60 <= newest["age_seconds"] <= 2 * 3600 + 60
    assert cluster["copies"]["us-west-2"][0]["source_backup"] == newest["backup_id"]
    page, notify = document["escalation"]["severities"]
    assert (page["severity"], page["contacts"], page["escalate_to"]) == (
        "page",
        ["oncall"],
        ["lead"],
    )
    assert page["escalate_after_minutes"] == 30
    assert (notify["severity"], notify["contacts"]) == ("notify", ["hsm-team"])
    assert {
        "name": "oncall",
        "email": "oncall@example.com",
        "sms": "+15555550100",
        "https": None,
    } in (document["escalation"]["contacts"])
    assert {"title": "Runbook: on-demand backup", "path": "docs/runbooks/on-demand-backup.md"} in (
        document["runbooks"]
    )
    text = output.read_text()
    for hsm_id, ip in hsms.items():
        assert hsm_id in text and ip in text
    assert f"`{newest['backup_id']}`" in text
    # The matrix is a table: the page row names who is reached first, when and whom next.
    [page_row] = [line for line in text.splitlines() if line.startswith("page ")]
    assert page_row.split() == ["page", "wakes", "someone", "oncall", "30", "min", "lead"]
    assert "oncall@example.com" in text and "+15555550100" in text
