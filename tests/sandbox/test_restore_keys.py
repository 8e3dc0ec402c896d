"""The restore verifies the keys: with `key_verification` configured, the synthesized
restore state machine lets the verifier in and invokes the verify-keys function against
the restored cluster's SoftHSM2 token (the source's manifest at or before the backup's
time), once its first HSM is ACTIVE. A finding fails the restore; the restored cluster
is kept and named in the page with the findings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sandbox.restore_scenarios import key_verification_sandbox, lose_cluster, seed_trust_anchor
from sandbox.session import Sandbox
from tests.sandbox.restore_support import EAST, SOURCE, key_templates, restore
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """Key verification deployed, the protected cluster seeded (with its key manifest,
    older than every backup), then lost."""
    require_softhsm()
    with key_verification_sandbox(profile="test", templates=key_templates()) as sandbox:
        seed_trust_anchor(sandbox)
        lose_cluster(sandbox, SOURCE, EAST)
        yield sandbox


def states(report: dict[str, Any]) -> list[str]:
    return [s["state"] for s in report["timeline"]]


def verifier_ingress(sandbox: Sandbox, group_id: str) -> list[dict[str, Any]]:
    [group] = boto3.client("ec2", region_name=EAST).describe_security_groups(GroupIds=[group_id])[
        "SecurityGroups"
    ]
    return [
        rule
        for rule in group["IpPermissions"]
        if (rule.get("FromPort"), rule.get("ToPort")) == (2223, 2225)
    ]


def test_a_clean_restore_finds_every_key_and_says_so(sandbox: Sandbox) -> None:
    report = restore(sandbox)
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    result = report["result"]
    keys = result["key_verification_report"]
    assert keys["status"] == "SUCCEEDED"
    assert keys["keys_found"] == keys["keys_expected"] > 0
    assert keys["manifest_key"].startswith(f"manifests/{SOURCE}/")
    assert keys["cluster_id"] == report["cluster_id"]
    assert result["key_verification"].startswith("key verification: every key found (")
    # Checked once the first HSM was ACTIVE, before the remaining HSMs and the report
    seen = states(report)
    assert seen.index("NotifyServiceRestored") < seen.index("OpenKeyNetwork")
    assert seen.index("VerifyKeys") < seen.index("RecordKeys") < seen.index("AddNextHsm")
    assert seen[-1] == "Succeeded"
    # The final message says so
    final = report["alerts"][-1]
    assert final["subject"].startswith("Restore SUCCEEDED")
    assert result["key_verification"] in final["message"]
    # The verifier's way in stays: from its group only, on the HSM ports
    [rule] = verifier_ingress(sandbox, result["security_group"])
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] != []
    assert rule.get("IpRanges", []) == []
    assert sandbox.permissions.denials == []


@pytest.mark.parametrize(
    ("fault", "code"),
    [("key-missing", "KEY_MISSING"), ("key-corrupt", "KCV_MISMATCH"), ("bad-pin", "LOGIN_FAILED")],
)
def test_a_restore_whose_keys_do_not_match_fails_and_keeps_the_cluster(
    sandbox: Sandbox, fault: str, code: str
) -> None:
    sandbox.apply_faults([fault])
    report = restore(sandbox)
    assert report["status"] == "FAILED"
    assert report["error"] == "KeyVerificationFailed"
    assert code in (report["cause"] or "")
    # Failed before any more HSMs were added; nothing deleted
    seen = states(report)
    assert "KeysFailed" in seen and "AddNextHsm" not in seen
    assert seen[-3:] == ["ReportFailure", "NotifyFailure", "Failed"]
    [kept] = report["existing"]
    assert kept["state"] == "ACTIVE" and len(kept["hsms"]) == 1
    # The page names the kept cluster and the finding
    page = report["alerts"][-1]
    assert page["subject"] == f"Restore FAILED: {SOURCE}: KeyVerificationFailed"
    assert f"The restored cluster {kept['cluster_id']} is KEPT" in page["message"]
    assert f"cluster {kept['cluster_id']} ACTIVE" in page["message"]
    assert code in page["message"]
    assert sandbox.faults_fired()["faults_not_fired"] == []
