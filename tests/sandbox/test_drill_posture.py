"""The quarterly drill exercises the posture that is configured: a pilot-light cluster
is drilled by adding an HSM to its standby, a warm standby by checking the keys on the
HSM it already has. The drill borrows the standby: it never deletes it, deletes only
the HSM it added, takes its network rule back, and reports which posture it used, why,
and what keeping it costs.

Judged by what the sandbox recorded (API calls, the clusters and security groups
afterwards, the drill's report), never by the wall clock."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from sandbox.drill_scenarios import drill_sandbox, run_drill
from sandbox.session import Sandbox
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow

WEST = "us-west-2"


def standby_in(sandbox: Sandbox) -> dict[str, Any]:
    [standby] = [
        c
        for c in sandbox.world.clusters(WEST)
        if c["State"] != "DELETED"
        and any(t["Key"] == "hsmdr:standby-of" for t in c.get("TagList", []))
    ]
    return standby


def live_hsms(cluster: dict[str, Any]) -> list[str]:
    return sorted(h["HsmId"] for h in cluster["Hsms"] if h["State"] != "DELETED")


def hsm_ingress(group_id: str) -> list[dict[str, Any]]:
    ec2 = boto3.client("ec2", region_name=WEST)
    [group] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return [r for r in group.get("IpPermissions", []) if r.get("FromPort") == 2223]


@pytest.mark.parametrize("posture", ["pilot-light", "warm-standby"])
def test_the_drill_borrows_the_standby_checks_its_keys_and_gives_it_back(posture: str) -> None:
    require_softhsm()
    with drill_sandbox(profile="test", posture=posture) as sandbox:
        before = standby_in(sandbox)
        rules_before = hsm_ingress(before["SecurityGroup"])
        sandbox.world.api_calls.clear()
        report = run_drill(sandbox)
        assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
        assert report["posture"] == posture
        assert before["ClusterId"] in report["posture_reason"]
        document = report["report"]
        assert document["posture"]["configured"] == posture
        assert document["drill_cluster"]["cluster_id"] == before["ClusterId"]
        assert document["key_verification"]["status"] == "SUCCEEDED"
        # The head start is what was drilled: no cluster was created.
        assert sandbox.world.api_calls["CreateCluster"] == 0
        expected_creates = 1 if posture == "pilot-light" else 0
        assert sandbox.world.api_calls["CreateHsm"] == expected_creates
        # Given back as it was: the cluster stays, with the HSMs it had before.
        after = standby_in(sandbox)
        assert after["ClusterId"] == before["ClusterId"] and after["State"] == "ACTIVE"
        assert live_hsms(after) == live_hsms(before)
        assert sandbox.world.api_calls["DeleteCluster"] == 0
        # The verifier's rule was opened on the standby's group, and taken back.
        assert any("revoked the verifier's ingress rule" in a
                   for a in document["teardown"]["actions"])  # fmt: skip
        assert hsm_ingress(after["SecurityGroup"]) == rules_before
        assert report["leaked_resources"] == {"clusters": [], "hsms": [], "rules": []}
        assert report["denied_calls"] == []
        assert report["primary_clusters_unchanged"]
        assert {"status", "rto_seconds", "rpo_seconds", "posture", "leaked_resources"} <= set(
            report
        )
        cost = document["posture"]["monthly_cost"]["usd_per_month"]
        assert (cost > 1000) if posture == "warm-standby" else cost == 0
        assert any("Posture: " + posture in a["message"] for a in report["alerts"])


def test_a_standby_that_cannot_be_used_is_drilled_cold_and_says_so() -> None:
    require_softhsm()
    with drill_sandbox(profile="test", posture="pilot-light") as sandbox:
        # The standby is gone (deleted by hand, say): the drill does what a restore would.
        standby = standby_in(sandbox)
        boto3.client("cloudhsmv2", region_name=WEST).delete_cluster(ClusterId=standby["ClusterId"])
        sandbox.world.settle()
        report = run_drill(sandbox)
        assert report["posture"] == "cold"
        assert "no standby found" in report["posture_reason"]
        codes = {f["code"]: f["severity"] for f in report["findings"]}
        assert codes.get("POSTURE_NOT_EXERCISED") == "warning"
        assert report["leaked_resources"] == {"clusters": [], "hsms": [], "rules": []}
        assert report["denied_calls"] == []
