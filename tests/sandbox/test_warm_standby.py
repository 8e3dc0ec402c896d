"""Warm standby in the sandbox: the DR stack's standby refresher keeps the standby of
the newest copy with one ACTIVE HSM; a restore in that region adopts it, so the service
is back once the clients are re-pointed (no cluster and no HSM to wait for first), and
HSMs are added for HA; verification reports a warm standby without its HSM, which the
next refresh puts back.

Durations are the emulator's (the `test` profile); nothing here races the wall clock:
what is asserted is which states ran, which API calls were made, and what the
emulator holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from sandbox.restore_scenarios import restore_after_disaster
from sandbox.scenarios import fire_verification, keep_standby, posture_config
from sandbox.session import Sandbox

SOURCE = "cluster-sandboxprimary"
WEST = "us-west-2"
WARM = "warm-standby"
SERVICE_WAITS = {"CreateCluster", "WaitForCluster", "CreateFirstHsm", "WaitForFirstHsm"}


def states_until_service(report: dict[str, Any]) -> list[str]:
    names = [s["state"] for s in report["timeline"]]
    return names[: names.index("NotifyServiceRestored")]


def test_the_cli_scenario_adopts_the_warm_standby_and_only_re_points_and_adds_hsms() -> None:
    report = restore_after_disaster(profile="test", posture=WARM)
    assert report["status"] == "SUCCEEDED", report.get("cause")
    assert report["posture"] == WARM
    assert "adopted warm standby" in report["posture_reason"]
    standby = report["standby"]
    assert [h["state"] for h in standby["hsms_before_disaster"]] == ["ACTIVE"]
    assert report["cluster_id"] == standby["cluster_id"]
    # Nothing is created or waited for before the service is back: its HSM serves.
    before = states_until_service(report)
    assert SERVICE_WAITS.isdisjoint(before), before
    assert "PublishClientConfig" in before
    assert isinstance(report["rto_seconds"], float) and report["rto_seconds"] >= 0
    # HA: the standby's HSM plus the ones the restore added, in other zones.
    hsms = report["hsms"]
    assert len(hsms) == 2 and len({h["availability_zone"] for h in hsms}) == 2
    assert standby["hsms_before_disaster"][0]["hsm_id"] in {h["hsm_id"] for h in hsms}
    assert report["leaked_resources"] == {"clusters": [], "hsms": []}
    assert report["denied_calls"] == []
    assert len(report["alerts"]) == 2
    assert all("Posture: warm-standby: adopted warm standby" in a["message"]
               for a in report["alerts"])  # fmt: skip
    assert {"status", "rto_seconds", "rpo_seconds", "posture", "leaked_resources"} <= set(report)


def test_verification_reports_a_warm_standby_without_its_hsm_and_the_refresher_restores_it() -> (
    None
):
    with Sandbox(posture_config(WEST, WARM), profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        standby = keep_standby(sandbox, WEST, WARM)
        codes = {f["code"] for f in fire_verification(sandbox)["findings"]}
        assert not {c for c in codes if c.startswith("STANDBY")}, codes
        # Its HSM is lost (deleted by hand, say): a restore would only be a pilot light.
        [hsm] = standby["hsms_before_disaster"]
        boto3.client("cloudhsmv2", region_name=WEST).delete_hsm(
            ClusterId=standby["cluster_id"], HsmId=hsm["hsm_id"]
        )
        sandbox.world.settle()
        findings = fire_verification(sandbox)["findings"]
        no_hsm = [f for f in findings if f["code"] == "STANDBY_NO_HSM"]
        assert [f["cluster_id"] for f in no_hsm] == [SOURCE]
        assert standby["cluster_id"] in no_hsm[0]["message"]
        # The next refresh gives it an HSM again, and the finding is gone.
        again = keep_standby(sandbox, WEST, "pilot-light")  # one refresh run
        assert [h["standby"] for h in again["refresh"]["hsms_created"]] == [standby["cluster_id"]]
        codes = {f["code"] for f in fire_verification(sandbox)["findings"]}
        assert "STANDBY_NO_HSM" not in codes
        assert sandbox.permissions_report()["denied_calls"] == []


def test_a_new_copy_rotates_the_warm_standby_under_the_refreshers_own_permissions() -> None:
    from lambdas.shared.copies import copy_tags
    from lambdas.shared.models import Backup

    east = "us-east-1"
    with Sandbox(posture_config(WEST, WARM), profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        old = keep_standby(sandbox, WEST, WARM)
        [old_hsm] = old["hsms_before_disaster"]
        # A new backup of the protected cluster (removing an HSM makes one), copied west.
        primary_hsm = sandbox.world.hsms(SOURCE)[0]["HsmId"]
        boto3.client("cloudhsmv2", region_name=east).delete_hsm(ClusterId=SOURCE, HsmId=primary_hsm)
        sandbox.world.settle()
        newest = max(
            (b for b in sandbox.world.backups(east) if b.get("ClusterId") == SOURCE),
            key=lambda b: b["CreateTimestamp"],
        )
        tags = copy_tags(sandbox.config.deployment_name, Backup.from_api(newest))
        new_copy = sandbox.world.seed_copy(newest["BackupId"], WEST, tags=tags)
        # Run by run, as the schedule would: the new standby, its HSM, then the old
        # standby's HSM, then the old standby. The old one serves until the new one does.
        runs = [keep_standby(sandbox, WEST, "pilot-light")["refresh"] for _ in range(4)]
        [created] = runs[0]["created"]
        assert created["backup"] == new_copy and runs[0]["deleted"] == []
        assert [h["standby"] for h in runs[1]["hsms_created"]] == [created["standby"]]
        assert runs[1]["hsms_deleted"] == [] and runs[1]["deleted"] == []
        assert [(h["standby"], h["hsm"]) for h in runs[2]["hsms_deleted"]] == [
            (old["cluster_id"], old_hsm["hsm_id"])
        ]
        assert runs[3]["deleted"] == [old["cluster_id"]]
        live = [c for c in sandbox.world.clusters(WEST) if c["State"] != "DELETED"]
        assert [c["ClusterId"] for c in live] == [created["standby"]]
        assert [h["State"] for h in live[0]["Hsms"] if h["State"] != "DELETED"] == ["ACTIVE"]
        assert all(not r["refused"] and not r["errors"] for r in runs)
        assert sandbox.permissions_report()["denied_calls"] == []


def test_a_refresh_the_quota_refuses_is_alerted_from_the_dr_region() -> None:
    import tempfile
    from pathlib import Path

    import yaml

    from sandbox.scenarios import alerts, light_the_pilot

    data = yaml.safe_load(posture_config(WEST, WARM).read_text())
    data["quotas"] = {"clusters_per_region": 1, "hsms_per_region": 6}
    path = Path(tempfile.gettempdir()) / "hsmdr-sandbox-warm-quota.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with Sandbox(path, profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        # Another cluster already uses the region's one cluster of quota.
        network = sandbox.networks[WEST]
        boto3.client("cloudhsmv2", region_name=WEST).create_cluster(
            HsmType="hsm2m.medium", SubnetIds=[network.subnets[sorted(network.subnets)[0]]]
        )
        sandbox.world.settle()
        dr = sandbox.dr_deployment(WEST)
        seen = len(dr.messages())
        refresh = light_the_pilot(sandbox, WEST)["refresh"]
        assert refresh.get("created") == [], refresh
        assert "quota of 1 clusters" in refresh["refused"][0]
        [sent] = alerts(sandbox, seen, dr)
        assert "standby refresh refused in us-west-2" in sent["subject"]
        assert "quota of 1 clusters" in sent["message"]
        assert "standby.md" in sent["message"]
        assert refresh["alert_severity"] == "notify"
        assert sandbox.permissions_report()["denied_calls"] == []


def copy_a_new_backup_west(sandbox: Sandbox) -> str:
    """A new backup of the protected cluster (removing one of its HSMs makes one),
    copied west as the copy job would: the copy the next rotation moves onto."""
    from lambdas.shared.copies import copy_tags
    from lambdas.shared.models import Backup

    east = "us-east-1"
    active = [h for h in sandbox.world.hsms(SOURCE) if h["State"] == "ACTIVE"]
    boto3.client("cloudhsmv2", region_name=east).delete_hsm(
        ClusterId=SOURCE, HsmId=active[0]["HsmId"]
    )
    sandbox.world.settle()
    newest = max(
        (b for b in sandbox.world.backups(east) if b.get("ClusterId") == SOURCE),
        key=lambda b: b["CreateTimestamp"],
    )
    tags = copy_tags(sandbox.config.deployment_name, Backup.from_api(newest))
    return sandbox.world.seed_copy(newest["BackupId"], WEST, tags=tags)


def rotate(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Run by run, as the schedule would: the new standby, its HSM, the old standby's
    HSM (its removal makes a backup, tagged), then the old standby (and that backup)."""
    copy_a_new_backup_west(sandbox)
    return [keep_standby(sandbox, WEST, "pilot-light")["refresh"] for _ in range(4)]


def test_two_rotations_leave_no_backup_of_an_old_standby_under_the_refreshers_own_permissions() -> (
    None
):
    with Sandbox(posture_config(WEST, WARM), profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        first = keep_standby(sandbox, WEST, WARM)["cluster_id"]
        rotations = [rotate(sandbox), rotate(sandbox)]
        old_standbys = [first, rotations[0][0]["created"][0]["standby"]]
        for old, runs in zip(old_standbys, rotations, strict=True):
            [tagged] = runs[2]["backups_tagged"]
            assert tagged["standby"] == old
            assert runs[3]["deleted"] == [old]
            # The run that deleted the old standby deleted its rotation backup too.
            assert runs[3]["backups_deleted"] == [tagged]
            assert all(not r["refused"] and not r["errors"] for r in runs)
        by_cluster: dict[str, list[str]] = {}
        for b in sandbox.world.backups(WEST):
            by_cluster.setdefault(b.get("ClusterId", ""), []).append(b["BackupState"])
        # Each old standby's only backup is PENDING_DELETION (restorable for 7 days).
        assert [by_cluster[old] for old in old_standbys] == [["PENDING_DELETION"]] * 2
        # The copies the standbys came from are untouched.
        assert set(by_cluster[""]) == {"READY"}
        assert sandbox.permissions_report()["denied_calls"] == []


def test_a_production_backup_or_copy_with_forged_rotation_tags_is_refused_and_alerted() -> None:
    from lambdas.shared.copies import DEPLOYMENT_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE
    from lambdas.shared.standby import STANDBY_OF_KEY
    from lambdas.standby.rotation_backups import HSM_REMOVED_AT_KEY, ROTATION_OF_KEY
    from sandbox.scenarios import alerts

    with Sandbox(posture_config(WEST, WARM), profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        standby = keep_standby(sandbox, WEST, WARM)
        # A production cluster in the DR region (a restore's, say) and its backup.
        network = sandbox.networks[WEST]
        production = sandbox.world.seed_cluster(
            WEST,
            [network.subnets[sorted(network.subnets)[0]]],
            backup_ages=[timedelta(hours=1)],
        )
        [prod_backup] = [
            b["BackupId"] for b in sandbox.world.backups(WEST) if b.get("ClusterId") == production
        ]
        source_copy = next(
            b["BackupId"] for b in sandbox.world.backups(WEST) if b.get("SourceBackup")
        )
        client = boto3.client("cloudhsmv2", region_name=WEST)

        def forge(backup_id: str, standby_id: str) -> None:
            tags = {
                MANAGED_BY_KEY: MANAGED_BY_VALUE,
                DEPLOYMENT_KEY: sandbox.config.deployment_name,
                STANDBY_OF_KEY: SOURCE,
                ROTATION_OF_KEY: standby_id,
                HSM_REMOVED_AT_KEY: "2020-01-01T00:00:00.000000Z",
            }
            client.tag_resource(
                ResourceId=backup_id, TagList=[{"Key": k, "Value": v} for k, v in tags.items()]
            )

        forge(prod_backup, production)  # names its own cluster: not a standby
        forge(source_copy, standby["cluster_id"])  # a copy: never
        dr = sandbox.dr_deployment(WEST)
        seen = len(dr.messages())
        refresh = keep_standby(sandbox, WEST, "pilot-light")["refresh"]
        assert refresh["backups_deleted"] == []
        refused = "\n".join(refresh["refused"])
        assert f"backup {prod_backup}: its ClusterId {production} is not a standby" in refused
        assert f"backup {source_copy} is a copy" in refused
        states = {b["BackupId"]: b["BackupState"] for b in sandbox.world.backups(WEST)}
        assert (states[prod_backup], states[source_copy]) == ("READY", "READY")
        [sent] = alerts(sandbox, seen, dr)
        assert "standby refresh refused in us-west-2" in sent["subject"]
        assert prod_backup in sent["message"] and source_copy in sent["message"]
        assert sandbox.permissions_report()["denied_calls"] == []


@pytest.mark.denials_expected
def test_iam_lets_the_refresher_tag_only_untagged_backups_and_delete_only_rotation_backups() -> (
    None
):
    from lambdas.shared.copies import DEPLOYMENT_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE
    from lambdas.shared.standby import STANDBY_OF_KEY
    from lambdas.standby.rotation_backups import HSM_REMOVED_AT_KEY, ROTATION_OF_KEY
    from sandbox.permissions.policy import Principal

    with Sandbox(posture_config(WEST, WARM), profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        standby = keep_standby(sandbox, WEST, WARM)["cluster_id"]
        network = sandbox.networks[WEST]
        production = sandbox.world.seed_cluster(
            WEST, [network.subnets[sorted(network.subnets)[0]]], backup_ages=[timedelta(hours=1)]
        )
        [untagged] = [
            b["BackupId"] for b in sandbox.world.backups(WEST) if b.get("ClusterId") == production
        ]
        copy = next(b["BackupId"] for b in sandbox.world.backups(WEST) if b.get("SourceBackup"))
        [role] = [  # the function's role (the schedule's job role only invokes it)
            r["Arn"]
            for r in boto3.client("iam").list_roles()["Roles"]
            if "StandbyRefresherRefresh" in r["RoleName"] and WEST in r["RoleName"]
        ]
        enforcer = sandbox.permissions
        assert enforcer is not None
        rotation = {
            MANAGED_BY_KEY: MANAGED_BY_VALUE,
            DEPLOYMENT_KEY: sandbox.config.deployment_name,
            STANDBY_OF_KEY: SOURCE,
            ROTATION_OF_KEY: standby,
            HSM_REMOVED_AT_KEY: "2026-01-01T00:00:00.000000Z",
        }

        def allowed(operation: str, backup_id: str, tags: dict[str, str] | None = None) -> bool:
            params: dict[str, Any] = {"BackupId": backup_id}
            if tags is not None:
                params = {
                    "ResourceId": backup_id,
                    "TagList": [{"Key": k, "Value": v} for k, v in tags.items()],
                }
            found = enforcer.check(Principal.role(role), "cloudhsmv2", operation, params, WEST)
            return found is None

        # A copy carries managed-by already: the role cannot tag it into deletability,
        # nor delete it, nor delete an untagged backup.
        assert not allowed("TagResource", copy, rotation)
        assert not allowed("DeleteBackup", copy)
        assert not allowed("DeleteBackup", untagged)
        # Only the rotation keys with this deployment's values.
        assert not allowed("TagResource", untagged, {**rotation, "team": "x"})
        assert not allowed("TagResource", untagged, {**rotation, DEPLOYMENT_KEY: "other"})
        # What IAM cannot express: an untagged backup of another cluster can be tagged
        # (no condition key names a backup's cluster); the code's checks refuse it.
        assert allowed("TagResource", untagged, rotation)
