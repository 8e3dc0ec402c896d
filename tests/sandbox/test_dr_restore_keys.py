"""A restore in a DR region checks the keys (key_verification.regions): the DR stack's
own verify-keys function, in that region, reads the source's manifest from the
deployment region's bucket (cross-region, through the bucket's and key's policies) and
checks the restored cluster's SoftHSM2 token, as the main stack's restore does."""

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
from sandbox.restore_scenarios import (
    KEY_VERIFICATION,
    MANIFEST_LEAD,
    lose_cluster,
    seed_trust_anchor,
)
from sandbox.session import SEEDED_BACKUP_AGES, Sandbox, synthesize
from tests.conftest import SANDBOX_CONFIG
from tests.sandbox.restore_support import EAST, SOURCE, WEST, restore
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow

# Placeholders, as the main verifier's: the sandbox puts the function in its own subnets.
REGIONAL = {
    "vpc_id": "vpc-0e0e0e0e0e0e0e0e0",
    "subnet_ids": ["subnet-0e0e0e0e0e0e0e0e0"],
    "hsm_security_group_id": "sg-0e0e0e0e0e0e0e0e0",
}


def regional_config() -> Path:
    data: dict[str, Any] = yaml.safe_load(SANDBOX_CONFIG.read_text(encoding="utf-8"))
    data["key_verification"] = {**KEY_VERIFICATION, "regions": {WEST: REGIONAL}}
    path = Path(tempfile.gettempdir()) / "hsmdr-sandbox-dr-restore-keys.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@cache
def templates() -> dict[str, dict[str, Any]]:
    return synthesize(regional_config())


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The DR stack with its verifier; the source seeded (manifest older than every
    backup, in the deployment region's bucket), then lost."""
    require_softhsm()
    with Sandbox(
        regional_config(), profile="test", templates=templates(), key_store=True
    ) as sandbox:
        sandbox.seed_protected_clusters()
        captured = datetime.now(UTC) - max(SEEDED_BACKUP_AGES) - MANIFEST_LEAD
        seed_manifest(sandbox, SOURCE, captured)
        seed_trust_anchor(sandbox)
        lose_cluster(sandbox, SOURCE, EAST)
        yield sandbox


def verifier_pairs(group_id: str) -> list[dict[str, Any]]:
    """HSM-port rules on the restored cluster's group from any group but its own."""
    ec2 = boto3.client("ec2", region_name=WEST)
    [group] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return [
        pair
        for rule in group["IpPermissions"]
        if rule.get("FromPort") == 2223
        for pair in rule.get("UserIdGroupPairs", [])
        if pair["GroupId"] != group_id
    ]


def test_a_dr_restore_checks_every_key_with_the_regions_verifier(sandbox: Sandbox) -> None:
    report = restore(sandbox, region=WEST)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    result = report["result"]
    keys = result["key_verification_report"]
    assert keys["status"] == "SUCCEEDED"
    assert keys["keys_found"] == keys["keys_expected"] > 0
    assert keys["manifest_key"].startswith(f"manifests/{SOURCE}/")
    assert keys["cluster_id"] == report["cluster_id"]
    assert result["key_verification"].startswith("key verification: every key found (")
    seen = [s["state"] for s in report["timeline"]]
    assert seen.index("VerifyKeys") < seen.index("RecordKeys") < seen.index("AddNextHsm")
    final = report["alerts"][-1]
    assert final["subject"].startswith("Restore SUCCEEDED")
    assert result["key_verification"] in final["message"]
    assert sandbox.permissions.denials == []
    assert sandbox.permissions.network_refusals == []
    # The DR verifier was let in for the check only: its rules are gone again.
    assert result["security_group"] and verifier_pairs(result["security_group"]) == []


def test_a_dr_restore_with_a_missing_key_fails_and_pages_the_finding(sandbox: Sandbox) -> None:
    sandbox.apply_faults(["key-missing"])
    report = restore(sandbox, region=WEST)
    assert report["status"] == "FAILED"
    assert report["error"] == "KeyVerificationFailed"
    assert "KEY_MISSING" in (report["cause"] or "")
    [kept] = report["existing"]
    assert kept["state"] == "ACTIVE" and len(kept["hsms"]) == 1
    page = report["alerts"][-1]
    assert page["subject"] == f"Restore FAILED: {SOURCE}: KeyVerificationFailed"
    assert "KEY_MISSING" in page["message"]
    assert sandbox.faults_fired()["faults_not_fired"] == []
