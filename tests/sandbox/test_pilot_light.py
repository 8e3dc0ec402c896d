"""Pilot light in the sandbox: the DR stack's standby refresher keeps a standby (no
HSM) on the newest copy, a restore in that region adopts it and only creates HSMs,
and the refresher then leaves the adopted cluster alone.

Durations are the emulator's (the `test` profile); nothing here races the wall clock:
what is asserted is which states ran and which API calls were made."""

from __future__ import annotations

from typing import Any

import boto3

from sandbox.emulator import PROFILES
from sandbox.restore_scenarios import (
    lose_cluster,
    restore_after_disaster,
    run_restore,
    seed_trust_anchor,
    subnets,
)
from sandbox.scenarios import light_the_pilot, pilot_light_config
from sandbox.session import Sandbox

SOURCE = "cluster-sandboxprimary"
EAST, WEST = "us-east-1", "us-west-2"
CLUSTER_CREATION = {"CreateCluster", "WaitForCluster"}


def states_until_service(report: dict[str, Any]) -> list[str]:
    """The states the restore ran until the service was restored (first HSM ACTIVE)."""
    names = [s["state"] for s in report["timeline"]]
    return names[: names.index("NotifyServiceRestored")]


def test_the_cli_scenario_adopts_the_standby_and_reports_its_posture() -> None:
    report = restore_after_disaster(profile="test", posture="pilot-light")
    assert report["status"] == "SUCCEEDED", report.get("cause")
    assert report["posture"] == "pilot-light"
    assert "adopted standby" in report["posture_reason"]
    assert report["standby"]["state_before_disaster"] == "ACTIVE"
    assert report["cluster_id"] == report["standby"]["cluster_id"]
    # The RTO is the HSM-create time: no cluster is created or waited for first, and
    # the service cannot come back sooner than one emulated HSM creation.
    assert CLUSTER_CREATION.isdisjoint(states_until_service(report))
    assert report["rto_seconds"] >= PROFILES["test"].hsm_create.total_seconds()
    assert report["leaked_resources"] == {"clusters": [], "hsms": []}
    assert report["denied_calls"] == []
    # Both messages (service restored, restore succeeded) say which posture and why.
    assert len(report["alerts"]) == 2
    assert all("Posture: pilot-light: adopted standby" in a["message"] for a in report["alerts"])
    assert {"status", "rto_seconds", "rpo_seconds", "leaked_resources"} <= set(report)


def test_the_refresher_replaces_an_adopted_standby_and_never_touches_the_restored_cluster() -> None:
    with Sandbox(pilot_light_config(WEST), profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        seed_trust_anchor(sandbox)
        standby = light_the_pilot(sandbox, WEST)
        assert standby["state_before_disaster"] == "ACTIVE"
        [created] = [c for c in sandbox.world.clusters(WEST) if c["State"] != "DELETED"]
        assert [h for h in created["Hsms"] if h["State"] != "DELETED"] == []  # no HSM charge
        # A second refresh with nothing new changes nothing.
        again = light_the_pilot(sandbox, WEST)
        assert again["refresh"]["created"] == [] and again["refresh"]["deleted"] == []
        lose_cluster(sandbox, SOURCE, EAST)
        sandbox.world.api_calls.clear()
        report = run_restore(
            sandbox,
            {"source_cluster_id": SOURCE, "region": WEST, "subnet_ids": subnets(sandbox, WEST),
             "poll_seconds": 1},
        )  # fmt: skip
        assert report["status"] == "SUCCEEDED", report.get("cause")
        assert report["cluster_id"] == standby["cluster_id"]
        assert sandbox.world.api_calls["CreateCluster"] == 0
        assert sandbox.world.api_calls["CreateHsm"] >= 1
        assert report["result"]["posture"] == "pilot-light"
        assert report["leaked_resources"] == {"clusters": [], "hsms": []}
        # The same restore id again resumes on that cluster: nothing new, same posture.
        again_report = run_restore(
            sandbox,
            {"source_cluster_id": SOURCE, "region": WEST, "subnet_ids": subnets(sandbox, WEST),
             "poll_seconds": 1, "restore_id": report["result"]["restore_id"]},
        )  # fmt: skip
        assert again_report["status"] == "SUCCEEDED", again_report.get("cause")
        assert again_report["cluster_id"] == standby["cluster_id"]
        assert again_report["result"]["posture"] == "pilot-light"
        assert "resumed" in again_report["result"]["posture_reason"]
        assert sandbox.world.api_calls["CreateCluster"] == 0
        # The adopted cluster is the restore's now: the next refresh makes a new
        # standby and deletes nothing.
        after = light_the_pilot(sandbox, WEST)
        assert after["refresh"]["deleted"] == []
        assert after["state_before_disaster"] == "ACTIVE"
        live = {c["ClusterId"]: c for c in sandbox.world.clusters(WEST) if c["State"] != "DELETED"}
        assert set(live) == {standby["cluster_id"], after["cluster_id"]}
        assert len([h for h in live[standby["cluster_id"]]["Hsms"] if h["State"] == "ACTIVE"]) == 2
        assert sandbox.permissions_report()["denied_calls"] == []


def test_without_a_standby_verification_reports_it_and_the_restore_is_cold_saying_why() -> None:
    from sandbox.scenarios import fire_verification

    with Sandbox(pilot_light_config(WEST), profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        seed_trust_anchor(sandbox)
        # The refresher never ran: the hourly verification says the standby is missing.
        verification = fire_verification(sandbox)
        missing = [f for f in verification["findings"] if f["code"] == "STANDBY_MISSING"]
        assert [f["cluster_id"] for f in missing] == [SOURCE]
        assert "us-west-2" in missing[0]["message"]
        light_the_pilot(sandbox, WEST)
        assert "STANDBY_MISSING" not in {f["code"] for f in fire_verification(sandbox)["findings"]}
        lose_cluster(sandbox, SOURCE, EAST)
        # The standby is gone too (deleted by hand, say): the restore falls back to cold.
        [standby] = [c for c in sandbox.world.clusters(WEST) if c["State"] != "DELETED"]
        boto3.client("cloudhsmv2", region_name=WEST).delete_cluster(ClusterId=standby["ClusterId"])
        sandbox.world.settle()
        report = run_restore(
            sandbox,
            {"source_cluster_id": SOURCE, "region": WEST, "subnet_ids": subnets(sandbox, WEST),
             "poll_seconds": 1},
        )  # fmt: skip
        assert report["status"] == "SUCCEEDED", report.get("cause")
        assert report["result"]["posture"] == "cold"
        assert "no standby found" in report["result"]["posture_reason"]
        assert all("Posture: cold: pilot-light, but no standby" in a["message"]
                   for a in report["alerts"])  # fmt: skip
        assert "CreateCluster" in [s["state"] for s in report["timeline"]]
        assert report["leaked_resources"] == {"clusters": [], "hsms": []}
        assert sandbox.permissions_report()["denied_calls"] == []


def test_a_pilot_light_rotation_leaves_no_backup_of_the_old_standby() -> None:
    # A standby without HSMs is never backed up: rotating it leaves nothing to delete.
    from tests.sandbox.test_warm_standby import copy_a_new_backup_west

    with Sandbox(pilot_light_config(WEST), profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        old = light_the_pilot(sandbox, WEST)["cluster_id"]
        copy_a_new_backup_west(sandbox)
        runs = [light_the_pilot(sandbox, WEST)["refresh"] for _ in range(2)]
        assert runs[0]["created"] and runs[1]["deleted"] == [old]
        assert [r["backups_tagged"] + r["backups_deleted"] for r in runs] == [[], []]
        standbys = {old, runs[0]["created"][0]["standby"]}
        assert [b for b in sandbox.world.backups(WEST) if b.get("ClusterId") in standbys] == []
        assert all(not r["refused"] and not r["errors"] for r in runs)
        assert sandbox.permissions_report()["denied_calls"] == []
