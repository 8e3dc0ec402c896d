"""What the restore workflow tests share: a sandbox whose protected cluster was lost,
and a restore run with the sandbox's subnets."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sandbox.restore_scenarios import (
    key_verification_config,
    lose_cluster,
    run_restore,
    seed_trust_anchor,
    subnets,
)
from sandbox.session import Sandbox, synthesize
from tests.conftest import Synthesized

SOURCE = "cluster-sandboxprimary"
EAST, WEST = "us-east-1", "us-west-2"
RESTORED = "/hsmdr/hsmdr-sandbox/restored/cluster-sandboxprimary/"

Setup = Callable[[Sandbox], object]


@cache
def key_templates() -> dict[str, dict[str, Any]]:
    """The stacks of the sandbox config plus key_verification, synthesized once a test
    process."""
    return synthesize(key_verification_config())


def disaster(synthesized: Synthesized, before_loss: Setup | None = None) -> Sandbox:
    """An open sandbox (main and DR stacks) whose protected cluster is lost: its HSMs
    and the cluster deleted, its backups (and their copies in us-west-2) kept."""
    sandbox = Sandbox(profile="test", templates=synthesized.templates).__enter__()
    try:
        sandbox.seed_protected_clusters()
        seed_trust_anchor(sandbox)
        if before_loss:
            before_loss(sandbox)
        lose_cluster(sandbox, SOURCE, EAST)
    except BaseException:
        sandbox.__exit__(None, None, None)
        raise
    return sandbox


def restore(sandbox: Sandbox, region: str = EAST, **fields: Any) -> dict[str, Any]:
    """Run the restore of the lost cluster; a field given as None is left out."""
    execution_input: dict[str, Any] = {
        "source_cluster_id": SOURCE,
        "region": region,
        "subnet_ids": subnets(sandbox, region),
        "poll_seconds": 1,
    }
    execution_input.update(fields)
    return run_restore(sandbox, {k: v for k, v in execution_input.items() if v is not None})


def live_clusters(sandbox: Sandbox, region: str = EAST) -> list[dict[str, Any]]:
    return [c for c in sandbox.world.clusters(region) if c["State"] != "DELETED"]


def newest_original(sandbox: Sandbox) -> str:
    """The lost cluster's newest backup in its own region (made as its HSMs went)."""
    mine = [b for b in sandbox.world.backups(EAST) if b.get("ClusterId") == SOURCE]
    return str(max(mine, key=lambda b: b["CreateTimestamp"])["BackupId"])


def assert_refused(sandbox: Sandbox, report: dict[str, Any], error: str, *parts: str) -> None:
    """Refused at identification: named error and message, one alert, nothing created."""
    assert report["status"] == "FAILED" and report["error"] == error, report["cause"]
    for part in parts:
        assert part in (report["cause"] or ""), (part, report["cause"])
    states = [s["state"] for s in report["timeline"]]
    assert states[-3:] == ["ReportFailure", "NotifyFailure", "Failed"]
    assert "CreateCluster" not in states
    assert sandbox.world.api_calls["CreateCluster"] == 0
    assert "Nothing was created by this execution." in report["alerts"][-1]["message"]
