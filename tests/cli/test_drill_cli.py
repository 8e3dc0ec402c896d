"""`hsmdr drill start|status|report` against the deployed stack (in the sandbox), and
`hsmdr sandbox drill`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hsmdr.cli import build_parser, main
from sandbox.drill_scenarios import drill_config, drill_sandbox, run_drill
from sandbox.session import Sandbox
from tests.sandbox.drill_support import NOTHING_LEAKED, drill_templates
from tests.softhsm_support import require_softhsm
from tests.speedups import quick_follow

pytestmark = pytest.mark.slow


@pytest.fixture
def deployed() -> Iterator[Sandbox]:
    """The drill stack deployed in an account boto3's credential chain reaches."""
    require_softhsm()
    with drill_sandbox(profile="test", templates=drill_templates()) as sandbox:
        yield sandbox


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_status_and_report_after_a_drill(
    deployed: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a drill that ran
    drill = run_drill(deployed)
    assert drill["status"] == "SUCCEEDED", (drill["error"], drill["cause"])
    config = str(drill_config())
    # When the operator asks for the status
    code, status = run(capsys, "drill", "status", "--config", config)
    # Then the latest drill, its result and no drill cluster left running
    assert code == 0, status
    [latest] = status["drills"]
    assert latest["execution_arn"] == drill["execution_arn"]
    assert latest["execution_status"] == "SUCCEEDED" and latest["teardown"] == "COMPLETE"
    assert latest["report_key"] == drill["report_markdown_key"]
    assert status["leftover_drill_clusters"] == []
    # And the report, the latest by default and by execution name, from S3
    code, report = run(capsys, "drill", "report", "--config", config)
    assert code == 0 and report["markdown_key"] == drill["report_markdown_key"]
    assert report["markdown"].startswith("# DR drill SUCCEEDED: cluster-sandboxprimary")
    name = drill["execution_arn"].rsplit(":", 1)[-1]
    assert main(["drill", "report", name, "--config", config]) == 0
    assert "## Measurements" in capsys.readouterr().out


def test_status_lists_a_drill_cluster_left_running(
    deployed: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a drill cluster left by an execution that no longer runs
    execution = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-sandbox-dr-drill:gone"
    network = deployed.networks["us-west-2"]
    left = deployed.world.seed_cluster(
        "us-west-2",
        network.subnet_ids(["us-west-2a"]),
        tags={"hsmdr:drill": execution, "hsmdr:deployment": "hsmdr-sandbox"},
    )
    code, status = run(capsys, "drill", "status", "--config", str(drill_config()))
    assert code == 1
    assert status["leftover_drill_clusters"] == [
        {"cluster_id": left, "region": "us-west-2", "state": "ACTIVE", "execution": execution}
    ]


def test_start_follows_the_drill_to_its_refusal(
    deployed: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_follow(monkeypatch)
    # Given a config with no drills.subnets, When a drill is started and followed
    code = main(["drill", "start", "--config", str(drill_config()), "--follow", "--json"])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    # Then it is refused before anything is created, and the CLI says so
    assert code == 1
    assert document["execution_status"] == "FAILED" and document["error"] == "InvalidInput"
    assert "drills.subnets" in document["cause"]
    assert "] planning" in captured.err and "creating the drill HSM" not in captured.err
    assert deployed.world.api_calls["CreateCluster"] == 0


def test_start_refuses_an_unprotected_cluster_before_calling_aws(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["drill", "start", "--config", str(drill_config()), "--cluster", "cluster-otherxxxxxx"]
    )
    assert code == 2
    assert "not in" in capsys.readouterr().err


def test_the_drill_commands_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["drill", "start", "--config", "c.yaml", "--backup-id", "backup-x", "--source", "primary"]
    )
    assert (args.backup_id, args.source, args.follow) == ("backup-x", "primary", False)
    assert parser.parse_args(["drill", "report", "--config", "c.yaml"]).execution is None
    args = parser.parse_args(["sandbox", "drill", "--fault", "key-missing", "--json"])
    assert args.fault == ["key-missing"] and args.json


def test_sandbox_drill_reports_a_clean_drill(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require_softhsm()
    monkeypatch.setattr("sandbox.session.synthesize", lambda _path: drill_templates())
    code, document = run(capsys, "sandbox", "drill")
    assert code == 0, (document.get("error"), document.get("cause"))
    assert document["status"] == "SUCCEEDED"
    assert document["leaked_resources"] == NOTHING_LEAKED
    assert document["report_key"].startswith("reports/drills/")
    assert document["report_markdown"].startswith("# DR drill SUCCEEDED")
    assert {m["DrillSucceeded"] for m in document["metrics"]} == {1.0}
    assert document["findings"] == [] and document["timeline"][0]["state"] == "Start"
