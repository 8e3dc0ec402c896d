"""`hsmdr cluster health`, `hsmdr hsm replace` and `hsmdr sandbox replace-hsm`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hsmdr.cli import main
from sandbox.session import Sandbox
from tests.conftest import SANDBOX_CONFIG, Synthesized
from tests.speedups import quick_follow

CLUSTER = "cluster-sandboxprimary"


@pytest.fixture(autouse=True)
def reuse_synthesis(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sandbox.session.synthesize", lambda _path: synthesized.template)


@pytest.fixture
def deployed(synthesized: Synthesized) -> Iterator[Sandbox]:
    """The stack deployed in an account that boto3's credential chain reaches."""
    with Sandbox(profile="test", template=synthesized.template) as sandbox:
        sandbox.seed_protected_clusters()
        yield sandbox


def test_cluster_health_shows_the_hsm_table_and_zones(
    capsys: pytest.CaptureFixture[str], deployed: Sandbox
) -> None:
    code = main(["cluster", "health", "--config", str(SANDBOX_CONFIG)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Cluster payments (cluster-sandboxprimary)" in out and "ACTIVE 2 of 2 desired" in out
    assert "HSM" in out and "STATE" in out and "IP" in out
    assert "us-east-1a  1        1       0" in out


def test_cluster_health_exits_one_on_a_degraded_hsm(
    capsys: pytest.CaptureFixture[str], deployed: Sandbox
) -> None:
    deployed.apply_faults(["hsm-failure"])
    code = main(
        ["cluster", "health", "--config", str(SANDBOX_CONFIG), "--cluster", CLUSTER, "--json"]
    )
    document = json.loads(capsys.readouterr().out)
    assert code == 1 and document["status"] == "FAILED"
    [cluster] = document["clusters"]
    assert (cluster["desired_hsms"], cluster["healthy_hsms"], cluster["degraded_hsms"]) == (2, 1, 1)
    [short] = [z for z in cluster["zones"] if not z["ok"]]
    assert (short["desired"], short["active"], short["other"]) == (1, 0, 1)
    assert any("is DEGRADED" in p for p in cluster["problems"])


def test_hsm_replace_starts_and_follows_the_deployed_state_machine(
    capsys: pytest.CaptureFixture[str], deployed: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_follow(monkeypatch)
    deployed.apply_faults(["hsm-failure"])
    [failed] = [h["HsmId"] for h in deployed.world.hsms(CLUSTER) if h["State"] == "DEGRADED"]
    code = main(
        [
            "hsm", "replace", "--config", str(SANDBOX_CONFIG), "--cluster", CLUSTER,
            "--hsm", failed, "--follow", "--json", "--poll-seconds", "1",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert code == 0, document
    assert document["execution_status"] == "SUCCEEDED"
    assert document["output"]["deleted_hsm_ids"] == [failed]
    assert document["output"]["trigger"] == "operator"
    assert "] deleting the failed HSM" in captured.err  # one line per phase
    assert "] reporting and releasing the lock" in captured.err


def test_hsm_replace_of_an_active_hsm_fails_with_the_refusal(
    capsys: pytest.CaptureFixture[str], deployed: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_follow(monkeypatch)
    active = deployed.world.hsms(CLUSTER)[0]["HsmId"]
    code = main(
        ["hsm", "replace", "--config", str(SANDBOX_CONFIG), "--cluster", CLUSTER,
         "--hsm", active, "--follow"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("HSM replacement: FAILED")
    assert "Error: HsmNotFailed:" in out and "a working one never is" in out
    assert deployed.world.api_calls["DeleteHsm"] == 0


def test_hsm_replace_refuses_an_unprotected_cluster_before_any_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["hsm", "replace", "--config", str(SANDBOX_CONFIG), "--cluster", "cluster-otherxxxxxx"]
    )
    assert code == 2
    assert "--cluster: cluster-otherxxxxxx is not in" in capsys.readouterr().err


def test_sandbox_replace_hsm_reports_timeline_rto_and_no_leaks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["sandbox", "replace-hsm", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0, document.get("cause")
    assert document["status"] == "SUCCEEDED"
    assert document["faults"] == ["hsm-failure:cluster-sandboxprimary"]
    assert document["faults_fired"] == {"hsm-failure:cluster-sandboxprimary": 1}
    assert document["execution_arn"].startswith("arn:aws:states:us-east-1:")
    assert document["leaked_resources"] == {"hsms": [], "clusters": []}
    assert document["rto_seconds"] > 0 and document["cluster_id"] == CLUSTER
    assert all(h["state"] == "ACTIVE" for h in document["hsms"].values())
    assert {"state", "start", "end", "seconds"} <= set(document["timeline"][0])
    assert [a["subject"].split(":")[0] for a in document["alerts"]] == [
        "[hsmdr-sandbox] CloudHSM HSM failed, replacement started",
        "CloudHSM HSM replaced on payments (cluster-sandboxprimary)",
    ]


def test_sandbox_replace_hsm_in_an_unsupported_zone_exits_one_with_the_alert(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["sandbox", "replace-hsm", "--fault", "az-unsupported:us-east-1a"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("HSM replacement: FAILED")
    assert "ReplacementFailed" in out and "Leaked resources: none" in out
    assert "Alert sent: CloudHSM HSM replacement FAILED on payments" in out


def test_sandbox_replace_hsm_rejects_an_unknown_fault(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "replace-hsm", "--fault", "meteor"]) == 2
    assert "'meteor' is not a fault" in capsys.readouterr().err
