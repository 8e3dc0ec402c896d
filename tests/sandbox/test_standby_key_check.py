"""The warm standby's daily key check in the sandbox (key_verification.regions): the DR
stack's schedule checks the warm standby the refresher keeps against the newest manifest
of its source (the deployment region's bucket), with the region's verifier and its
SoftHSM2 token; a missing key pages on the DR stack's topic. What is asserted is what
the run recorded and the emulator holds, never the wall clock."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from sandbox.key_store_setup import seed_manifest
from sandbox.restore_scenarios import KEY_VERIFICATION, MANIFEST_LEAD
from sandbox.scenarios import alerts, keep_standby, posture_config
from sandbox.session import SEEDED_BACKUP_AGES, Sandbox, synthesize
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow

SOURCE = "cluster-sandboxprimary"
WEST = "us-west-2"
WARM = "warm-standby"
REGIONAL = {
    "vpc_id": "vpc-0e0e0e0e0e0e0e0e0",
    "subnet_ids": ["subnet-0e0e0e0e0e0e0e0e0"],
    "hsm_security_group_id": "sg-0e0e0e0e0e0e0e0e0",
}


def config_path() -> Path:
    data: dict[str, Any] = yaml.safe_load(posture_config(WEST, WARM).read_text(encoding="utf-8"))
    data["key_verification"] = {**KEY_VERIFICATION, "regions": {WEST: REGIONAL}}
    path = Path(tempfile.gettempdir()) / "hsmdr-sandbox-standby-key-check.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@cache
def templates() -> dict[str, dict[str, Any]]:
    return synthesize(config_path())


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    require_softhsm()
    with Sandbox(config_path(), profile="test", templates=templates(), key_store=True) as sandbox:
        sandbox.seed_protected_clusters()
        captured = datetime.now(UTC) - max(SEEDED_BACKUP_AGES) - MANIFEST_LEAD
        seed_manifest(sandbox, SOURCE, captured)
        yield sandbox


def check(sandbox: Sandbox) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dr = sandbox.dr_deployment(WEST)
    seen = len(dr.messages())
    fired = dr.fire_schedule("StandbyKeyCheckJobSchedule")
    assert fired.invocation is not None
    return fired.invocation.payload, alerts(sandbox, seen, dr)


def verifier_rules(standby_id: str) -> list[dict[str, Any]]:
    """Rules on the standby's group from any group but its own (CloudHSM's group admits
    its members: that rule stays)."""
    ec2 = boto3.client("ec2", region_name=WEST)
    cloudhsm = boto3.client("cloudhsmv2", region_name=WEST)
    [cluster] = cloudhsm.describe_clusters(Filters={"clusterIds": [standby_id]})["Clusters"]
    [group] = ec2.describe_security_groups(GroupIds=[cluster["SecurityGroup"]])["SecurityGroups"]
    own = cluster["SecurityGroup"]
    return [
        pair
        for rule in group["IpPermissions"]
        if rule.get("FromPort") == 2223
        for pair in rule.get("UserIdGroupPairs", [])
        if pair["GroupId"] != own
    ]


def test_a_warm_standby_with_every_key_passes_quietly(sandbox: Sandbox) -> None:
    standby = keep_standby(sandbox, WEST, WARM)
    answer, sent = check(sandbox)
    [checked] = answer["checked"]
    assert checked["standby_id"] == standby["cluster_id"]
    assert checked["status"] == "SUCCEEDED"
    assert checked["keys_found"] == checked["keys_expected"] > 0
    assert checked["manifest_key"].startswith(f"manifests/{SOURCE}/")
    assert answer["findings"] == [] and sent == []
    # The verifier's way in was taken out again after the check.
    assert verifier_rules(standby["cluster_id"]) == []
    assert sandbox.permissions.denials == []


def test_a_warm_standby_missing_a_key_pages_on_the_dr_topic(sandbox: Sandbox) -> None:
    sandbox.apply_faults(["key-missing"])  # the standby is restored without one key
    standby = keep_standby(sandbox, WEST, WARM)
    answer, sent = check(sandbox)
    [finding] = answer["findings"]
    assert finding["code"] == "STANDBY_KEYS_MISMATCH"
    assert standby["cluster_id"] in finding["message"]
    assert "KEY_MISSING" in finding["message"]
    [page] = sent
    assert page["subject"] == f"hsmdr-sandbox: warm standby keys in {WEST}"
    assert page["topic"].startswith("AlertingTopic"), page["topic"]  # the page topic
    assert "STANDBY_KEYS_MISMATCH" in page["message"]
    assert "docs/runbooks/standby.md" in page["message"]
    assert verifier_rules(standby["cluster_id"]) == []
    assert sandbox.permissions.denials == []
