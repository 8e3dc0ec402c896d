"""The DR drill's pure decisions: input, backup choice, quotas, ownership, teardown,
the drill cluster's own backups, the network path to the verifier, and its settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from lambdas.drill.plan import (
    DR_COPY,
    DRILL_KEY,
    PRIMARY,
    BackupNotReady,
    DrillClusterFailed,
    DrillClusterTimeout,
    DrillRequest,
    NoQuotaHeadroom,
    ProductionClusterRefused,
    Subnet,
    check_quota,
    choose_backup,
    cluster_status,
    deadline,
    drill_subnets,
    drill_tags,
    network_plan,
    next_zone,
    ownership_problem,
    parse_request,
    plan_backup_cleanup,
    plan_teardown,
    zones_of,
)
from lambdas.drill.settings import DrillSettings
from lambdas.shared.errors import BackupNotFound, InvalidInput
from stacks.config import ConfigError, parse_config
from tests.conftest import SANDBOX_CONFIG
from tests.lambdas.factories import CLUSTER_ID, NOW, backup, cluster, hsm, spec

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:x-dr-drill:run-1"
SETTINGS = DrillSettings(
    deployment_name="prod",
    primary_region="us-east-1",
    dr_regions=("us-west-2",),
    default_cluster=CLUSTER_ID,
    subnets={"us-west-2": ("subnet-0a0a0a0a0a0a0a0a0",)},
)
PROTECTED = {CLUSTER_ID}


def request(**overrides: Any) -> DrillRequest:
    values: dict[str, Any] = {
        "cluster_id": CLUSTER_ID,
        "source": DR_COPY,
        "poll_seconds": 30,
        "trigger": "manual",
    }
    values.update(overrides)
    return DrillRequest(**values)


def copy(age: timedelta, backup_id: str, state: str = "READY") -> Any:
    return backup(
        age,
        state,
        backup_id=backup_id,
        cluster_id="",
        source_cluster=CLUSTER_ID,
        source_backup="backup-sourcesourcex",
        source_region="us-east-1",
    )


# Input ------------------------------------------------------------------------------------


def test_defaults_come_from_the_settings() -> None:
    parsed = parse_request({}, SETTINGS, PROTECTED)
    assert parsed == DrillRequest(CLUSTER_ID, DR_COPY, 30, "manual")


@pytest.mark.parametrize("field", ["drill_cluster_id", "target_cluster_id"])
def test_a_production_cluster_as_the_target_is_refused_by_name(field: str) -> None:
    with pytest.raises(ProductionClusterRefused, match="production cluster"):
        parse_request({field: CLUSTER_ID}, SETTINGS, PROTECTED)


def test_any_other_target_is_refused_too() -> None:
    with pytest.raises(InvalidInput, match="creates its own isolated cluster"):
        parse_request({"drill_cluster_id": "cluster-somethingelse"}, SETTINGS, PROTECTED)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"cluster": "cluster-notprotected"}, "cluster"),
        ({"cluster": "bad"}, "cluster"),
        ({"source": "tape"}, "source"),
        ({"backup_id": "backup-x"}, "backup_id"),
        ({"poll_seconds": 0}, "poll_seconds"),
        ({"poll_seconds": True}, "poll_seconds"),
        ({"subnet_ids": ["subnet-0a0a0a0a", "subnet-0a0a0a0a"]}, "subnet_ids"),
        ({"trigger": "x" * 100}, "trigger"),
        ({"surprise": 1}, "input"),
    ],
)
def test_bad_input_names_the_field(event: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_request(event, SETTINGS, PROTECTED)
    assert raised.value.field == field


# The backup ----------------------------------------------------------------------------------


def test_dr_copy_takes_the_newest_ready_copy_of_the_cluster() -> None:
    found = {
        "us-west-2": [
            copy(timedelta(hours=2), "backup-newestcopyxx"),
            copy(timedelta(hours=1), "backup-notreadyyetx", state="CREATE_IN_PROGRESS"),
            copy(timedelta(hours=26), "backup-oldercopyxxx"),
            backup(
                timedelta(hours=1), backup_id="backup-otherclusterx", cluster_id="cluster-other"
            ),
        ]
    }
    chosen = choose_backup(request(), spec(), found, ("us-west-2",))
    assert chosen.backup.backup_id == "backup-newestcopyxx"
    assert (chosen.region, chosen.source) == ("us-west-2", DR_COPY)
    assert (chosen.hsm_type, chosen.mode) == ("hsm2m.medium", "FIPS")


def test_dr_copy_without_a_ready_copy_is_refused_with_where_it_looked() -> None:
    found = {"us-west-2": [copy(timedelta(hours=1), "backup-stuckcopyxxx", "CREATE_IN_PROGRESS")]}
    with pytest.raises(BackupNotFound, match=r"no READY backup of .* in us-west-2"):
        choose_backup(request(), spec(), found, ("us-west-2",))


def test_dr_copy_without_dr_regions_says_to_use_primary() -> None:
    with pytest.raises(InvalidInput, match="source primary"):
        choose_backup(request(), spec(), {}, ())


def test_primary_takes_the_clusters_newest_ready_backup() -> None:
    found = {"us-east-1": [backup(timedelta(hours=3), backup_id="backup-primarybkupx")]}
    chosen = choose_backup(request(source=PRIMARY), spec(), found, ("us-west-2",))
    assert (chosen.backup.backup_id, chosen.region, chosen.source) == (
        "backup-primarybkupx",
        "us-east-1",
        PRIMARY,
    )


def test_a_given_backup_that_is_not_ready_is_refused() -> None:
    found = {"us-east-1": [backup(state="PENDING_DELETION", backup_id="backup-deletedbkupx")]}
    with pytest.raises(BackupNotReady, match="PENDING_DELETION"):
        choose_backup(request(backup_id="backup-deletedbkupx"), spec(), found, ())


def test_an_unknown_backup_is_refused() -> None:
    with pytest.raises(BackupNotFound, match="backup-unknownbkupx not found"):
        choose_backup(request(backup_id="backup-unknownbkupx"), spec(), {"us-east-1": []}, ())


def test_a_given_backup_of_another_cluster_is_refused() -> None:
    found = {"us-east-1": [backup(backup_id="backup-elsewherexxx", cluster_id="cluster-other")]}
    with pytest.raises(InvalidInput, match="holds the keys of cluster-other"):
        choose_backup(request(backup_id="backup-elsewherexxx"), spec(), found, ())


def test_a_backup_that_cannot_restore_is_refused() -> None:
    found = {"us-east-1": [backup(mode="NON_FIPS", hsm_type="hsm1.medium")]}
    with pytest.raises(BackupNotReady, match="cannot be restored"):
        choose_backup(request(source=PRIMARY), spec(), found, ())


# Where it goes ---------------------------------------------------------------------------------


def test_subnets_come_from_the_input_or_the_config_of_the_backups_region() -> None:
    assert drill_subnets(request(subnet_ids=("subnet-1",)), SETTINGS, "us-west-2") == ("subnet-1",)
    assert drill_subnets(request(), SETTINGS, "us-west-2") == ("subnet-0a0a0a0a0a0a0a0a0",)
    with pytest.raises(InvalidInput, match=r"drills\.subnets\.eu-west-1"):
        drill_subnets(request(), SETTINGS, "eu-west-1")


def test_zones_one_subnet_per_zone_in_one_vpc() -> None:
    found = [Subnet("subnet-a", "us-west-2a", "vpc-1"), Subnet("subnet-b", "us-west-2b", "vpc-1")]
    assert zones_of(["subnet-b", "subnet-a"], found, "us-west-2") == {
        "us-west-2b": "subnet-b",
        "us-west-2a": "subnet-a",
    }
    with pytest.raises(InvalidInput, match="not found"):
        zones_of(["subnet-c"], found, "us-west-2")
    twice = [*found, Subnet("subnet-c", "us-west-2a", "vpc-1")]
    with pytest.raises(InvalidInput, match="one per AZ"):
        zones_of(["subnet-a", "subnet-c"], twice, "us-west-2")


def test_quota_needs_room_for_one_cluster_and_one_hsm() -> None:
    check_quota([cluster()], "us-west-2", clusters_quota=2, hsms_quota=3)
    with pytest.raises(NoQuotaHeadroom, match="clusters"):
        check_quota([cluster(), cluster()], "us-west-2", clusters_quota=2, hsms_quota=10)
    with pytest.raises(NoQuotaHeadroom, match="HSMs"):
        check_quota([cluster()], "us-west-2", clusters_quota=4, hsms_quota=2)


def test_the_drill_cluster_is_tagged_with_the_execution() -> None:
    tags = drill_tags("prod", EXECUTION, "backup-abc", CLUSTER_ID)
    assert tags[DRILL_KEY] == EXECUTION
    assert tags["managed-by"] == "cloudhsm-dr" and tags["hsmdr:deployment"] == "prod"


# Waiting -------------------------------------------------------------------------------------


def test_cluster_status_waits_then_fails_or_times_out() -> None:
    later = deadline(NOW, 10)
    assert cluster_status(cluster(state="CREATE_IN_PROGRESS"), CLUSTER_ID, later, NOW) == (
        "WAITING"
    )
    assert cluster_status(cluster(), CLUSTER_ID, later, NOW) == "ACTIVE"
    with pytest.raises(DrillClusterTimeout):
        cluster_status(cluster(state="CREATE_IN_PROGRESS"), CLUSTER_ID, deadline(NOW, -1), NOW)
    with pytest.raises(DrillClusterFailed):
        cluster_status(cluster(state="DEGRADED"), CLUSTER_ID, later, NOW)
    with pytest.raises(DrillClusterFailed, match="gone"):
        cluster_status(None, CLUSTER_ID, later, NOW)


def test_a_zone_where_hsms_degraded_is_tried_last() -> None:
    zones = ["us-west-2a", "us-west-2b"]
    assert next_zone(zones, []) == "us-west-2a"
    assert next_zone(zones, ["us-west-2a"]) == "us-west-2b"
    assert next_zone(zones, ["us-west-2a", "us-west-2b"]) == "us-west-2a"


# Ownership and teardown ------------------------------------------------------------------------


def test_a_production_cluster_is_never_owned_whatever_its_tags() -> None:
    problem = ownership_problem(CLUSTER_ID, {DRILL_KEY: EXECUTION}, EXECUTION, PROTECTED)
    assert problem is not None and "production cluster" in problem


def test_only_this_executions_tag_makes_a_cluster_ours() -> None:
    other = "cluster-drillcluster"
    assert ownership_problem(other, {DRILL_KEY: EXECUTION}, EXECUTION, PROTECTED) is None
    assert "not this execution" in str(
        ownership_problem(other, {DRILL_KEY: "arn:other"}, EXECUTION, PROTECTED)
    )
    assert "no hsmdr:drill tag" in str(ownership_problem(other, {}, EXECUTION, PROTECTED))
    assert ownership_problem(other, None, EXECUTION, PROTECTED) is None  # gone: nothing to do


def test_teardown_deletes_hsms_first_then_the_cluster() -> None:
    busy = cluster(hsm(state="ACTIVE", n=1), hsm(state="DEGRADED", n=2))
    first = plan_teardown(busy)
    assert first.delete_hsms == ("hsm-abcdefghij1", "hsm-abcdefghij2")
    assert not first.delete_cluster and not first.gone
    deleting = plan_teardown(cluster(hsm(state="DELETE_IN_PROGRESS")))
    assert deleting.delete_hsms == () and not deleting.delete_cluster
    empty = plan_teardown(cluster(hsms=()))
    assert empty.delete_cluster and not empty.gone
    assert plan_teardown(cluster(hsms=(), state="DELETE_IN_PROGRESS")).delete_cluster is False
    assert plan_teardown(cluster(hsms=(), state="DELETED")).gone
    assert plan_teardown(None).gone


def test_a_cluster_still_being_created_is_waited_for_before_its_deletion() -> None:
    decision = plan_teardown(cluster(hsms=(), state="CREATE_IN_PROGRESS"))
    assert not decision.delete_cluster and "settles" in decision.waiting[0]


def test_drill_backups_ready_are_deleted_stuck_ones_waited_for_then_left() -> None:
    ready = backup(backup_id="backup-readyreadyxx")
    stuck = backup(state="CREATE_IN_PROGRESS", backup_id="backup-stuckstuckxx")
    gone = backup(state="PENDING_DELETION", backup_id="backup-pendingpendx")
    early = plan_backup_cleanup([ready, stuck, gone], waited_since=NOW, now=NOW, wait_minutes=5)
    assert early.delete == ("backup-readyreadyxx",) and len(early.waiting) == 1
    assert not early.done
    late = plan_backup_cleanup(
        [stuck], waited_since=NOW, now=NOW + timedelta(minutes=6), wait_minutes=5
    )
    assert late.done and "backup-stuckstuckxx" in late.left[0]


# The verifier's path to the drill cluster ------------------------------------------------------


def test_same_region_references_the_security_groups() -> None:
    plan = network_plan(
        drill_region="us-east-1",
        verifier_region="us-east-1",
        verifier_group="sg-verifier",
        drill_group="sg-drill",
        verifier_cidrs=[],
        drill_subnet_cidrs=["10.1.0.0/24"],
        execution_name="run-1",
    )
    assert plan.problem is None
    assert plan.ingress is not None and plan.egress is not None
    assert plan.ingress["UserIdGroupPairs"][0]["GroupId"] == "sg-verifier"
    assert plan.egress["UserIdGroupPairs"][0]["GroupId"] == "sg-drill"
    assert (plan.ingress["FromPort"], plan.ingress["ToPort"]) == (2223, 2225)


def test_another_region_uses_cidrs_or_says_why_it_cannot() -> None:
    common: dict[str, Any] = {
        "drill_region": "us-west-2",
        "verifier_region": "us-east-1",
        "verifier_group": "sg-verifier",
        "drill_group": "sg-drill",
        "drill_subnet_cidrs": ["10.1.0.0/24"],
        "execution_name": "run-1",
    }
    blocked = network_plan(verifier_cidrs=[], **common)
    assert blocked.ingress is None and "drills.verifier_cidrs" in str(blocked.problem)
    routed = network_plan(verifier_cidrs=["10.0.0.0/16"], **common)
    assert routed.ingress is not None and routed.egress is not None
    assert routed.ingress["IpRanges"][0]["CidrIp"] == "10.0.0.0/16"
    assert routed.egress["IpRanges"][0]["CidrIp"] == "10.1.0.0/24"


# Settings and config ---------------------------------------------------------------------------


def test_settings_survive_the_environment() -> None:
    env = {
        **SETTINGS.to_env(),
        "HSMDR_DRILL_REPORT_BUCKET": "reports",
        "HSMDR_DRILL_VERIFIER_SECURITY_GROUP": "sg-1",
        "HSMDR_DRILL_PAGE_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t",
    }
    back = DrillSettings.from_env(env)
    assert back.subnets == SETTINGS.subnets and back.dr_regions == SETTINGS.dr_regions
    assert (back.report_bucket, back.verifier_security_group) == ("reports", "sg-1")
    assert back.regions == ("us-east-1", "us-west-2")


def test_the_drills_config_section_defaults_and_checks() -> None:
    data = yaml.safe_load(SANDBOX_CONFIG.read_text())
    config = parse_config(data)
    drills = config.drills
    assert drills.schedule == "cron(0 9 1 1,4,7,10 ? *)"
    assert (drills.period_days, drills.rto_minutes, drills.source) == (92, 60, "dr-copy")
    # The sandbox config deploys no key_verification: key checks are not required
    assert drills.require_key_verification is False and drills.hsm_hour_usd == 1.85
    data["drills"] = {"cluster": "cluster-notprotected"}
    with pytest.raises(ConfigError, match=r"drills\.cluster: cluster-notprotected"):
        parse_config(data)
    data["drills"] = {"schedule": None, "subnets": {"us-west-2": ["subnet-0a0a0a0a"]}}
    assert parse_config(data).drills.schedule is None
