"""What the HSM replacement replaces, with which IP, and what it refuses. No AWS."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.replacement.replace import (
    ALREADY_DELETING,
    ALREADY_GONE,
    DELETE,
    ClusterChanging,
    HsmNotFailed,
    NoQuotaHeadroom,
    NothingToReplace,
    RefusedToDelete,
    ReplacementPlan,
    choose_ip,
    deletion_verdict,
    make_plan,
    parse_request,
    sync_waits,
)
from lambdas.replacement.settings import ReplacementSettings
from lambdas.shared.errors import InvalidInput
from lambdas.shared.models import Cluster
from tests.lambdas.factories import CLUSTER_ID, NOW, cluster, hsm, spec

SETTINGS = ReplacementSettings(max_attempts=3, hsms_per_region_quota=6)
A, B = "us-east-1a", "us-east-1b"


def plan_for(c: Cluster | None, hsms_in_region: int = 2, **event: Any) -> ReplacementPlan:
    return make_plan(
        request=parse_request({"cluster_id": CLUSTER_ID, **event}, SETTINGS),
        spec=spec(),
        cluster=c,
        hsms_in_region=hsms_in_region,
        settings=SETTINGS,
        now=NOW,
    )


def degraded_in_a() -> Cluster:
    return cluster(hsm(A, state="DEGRADED", n=1), hsm(B, n=2))


# What to replace -----------------------------------------------------------------


def test_degraded_hsm_is_replaced_in_its_zone_with_a_new_ip_then_deleted() -> None:
    plan = plan_for(degraded_in_a())
    assert plan.failed_hsm is not None and plan.failed_hsm["hsm_id"] == "hsm-abcdefghij1"
    assert (plan.create, plan.zone, plan.delete_failed) == (True, A, True)
    # The DEGRADED HSM still holds its IP: the replacement is created first, elsewhere.
    assert plan.ip_address is None
    assert "still holds 10.0.1.10" in plan.ip_reason
    assert plan.hsms_before["hsm-abcdefghij1"]["state"] == "DEGRADED"


def test_a_missing_hsm_is_replaced_in_the_short_zone_and_nothing_is_deleted() -> None:
    plan = plan_for(cluster(hsm(B, n=2)))
    assert (plan.create, plan.zone, plan.delete_failed, plan.failed_hsm) == (True, A, False, None)


def test_the_zone_short_of_the_most_hsms_is_filled_first() -> None:
    two_in_b = spec(hsms_per_az={A: 1, B: 3})
    plan = make_plan(
        request=parse_request({"cluster_id": CLUSTER_ID}, SETTINGS),
        spec=two_in_b,
        cluster=cluster(hsm(B, n=2)),
        hsms_in_region=1,
        settings=SETTINGS,
        now=NOW,
    )
    assert plan.zone == B


def test_a_degraded_hsm_in_a_zone_at_its_desired_count_is_only_deleted() -> None:
    # Given AWS already put an ACTIVE HSM next to the DEGRADED one
    c = cluster(hsm(A, state="DEGRADED", n=1), hsm(A, n=3), hsm(B, n=2))
    plan = plan_for(c)
    assert (plan.create, plan.delete_failed, plan.zone) == (False, True, A)


def test_a_named_degraded_hsm_is_the_one_replaced() -> None:
    c = cluster(hsm(A, state="DEGRADED", n=1), hsm(B, state="DEGRADED", n=2))
    plan = plan_for(c, hsm_id="hsm-abcdefghij2")
    assert plan.failed_hsm is not None and plan.failed_hsm["hsm_id"] == "hsm-abcdefghij2"
    assert plan.zone == B


# IP reuse --------------------------------------------------------------------------


def test_the_old_ip_of_a_gone_hsm_is_reused_when_free() -> None:
    plan = plan_for(cluster(hsm(B, n=2)), ip_address="10.0.1.10")
    assert plan.ip_address == "10.0.1.10"
    assert "reusing 10.0.1.10" in plan.ip_reason


def test_an_ip_held_by_another_hsm_is_not_reused() -> None:
    ip, reason = choose_ip("10.0.2.10", None, cluster(hsm(B, n=2)))
    assert ip is None and "held by hsm-abcdefghij2" in reason


def test_the_ip_of_a_degraded_hsm_that_still_exists_is_never_requested() -> None:
    failed = hsm(A, state="DEGRADED", n=1)
    ip, reason = choose_ip("10.0.1.10", failed, cluster(failed, hsm(B, n=2)))
    assert ip is None and "still holds" in reason


def test_without_a_known_ip_a_new_one_is_used() -> None:
    ip, reason = choose_ip(None, None, cluster(hsm(B, n=2)))
    assert ip is None and "no IP" in reason


# Refusals ----------------------------------------------------------------------------


def test_an_active_hsm_named_for_replacement_is_refused() -> None:
    with pytest.raises(HsmNotFailed, match="is ACTIVE"):
        plan_for(degraded_in_a(), hsm_id="hsm-abcdefghij2")


def test_an_hsm_not_in_the_cluster_is_refused_naming_the_gaps() -> None:
    with pytest.raises(InvalidInput, match=r"hsm_id: hsm-abcdefghijz is not an HSM.*us-east-1a"):
        plan_for(cluster(hsm(B, n=2)), hsm_id="hsm-abcdefghijz")


def test_a_healthy_cluster_has_nothing_to_replace() -> None:
    with pytest.raises(NothingToReplace):
        plan_for(cluster())


@pytest.mark.parametrize("state", ["CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS"])
def test_hsms_in_transit_make_the_plan_wait(state: str) -> None:
    # AWS may be replacing the HSM itself: adding another would make one too many.
    with pytest.raises(ClusterChanging, match=state):
        plan_for(cluster(hsm(A, state=state, n=1), hsm(B, n=2)))


@pytest.mark.parametrize("state", ["UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "UNINITIALIZED"])
def test_a_cluster_that_cannot_take_hsms_is_refused(state: str) -> None:
    with pytest.raises(InvalidInput, match=state):
        plan_for(cluster(hsm(B, n=2), state=state))


def test_a_degraded_cluster_is_repairable() -> None:
    assert plan_for(cluster(hsm(B, n=2), state="DEGRADED")).create


def test_a_missing_cluster_is_refused() -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        plan_for(None)


def test_no_quota_headroom_refuses_and_explains() -> None:
    with pytest.raises(NoQuotaHeadroom, match="DEGRADED HSM hsm-abcdefghij1 holds one"):
        plan_for(degraded_in_a(), hsms_in_region=6)


def test_deleting_only_needs_no_quota() -> None:
    c = cluster(hsm(A, state="DEGRADED", n=1), hsm(A, n=3), hsm(B, n=2))
    assert not plan_for(c, hsms_in_region=6).create


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({}, "cluster_id"),
        ({"cluster_id": "cluster-0"}, "cluster_id"),
        ({"cluster_id": CLUSTER_ID, "hsm_id": "hsm-1"}, "hsm_id"),
        ({"cluster_id": CLUSTER_ID, "ip_address": "10.0.0.256"}, "ip_address"),
        ({"cluster_id": CLUSTER_ID, "poll_seconds": 0}, "poll_seconds"),
        ({"cluster_id": CLUSTER_ID, "hsm_timeout_minutes": True}, "hsm_timeout_minutes"),
        ({"cluster_id": CLUSTER_ID, "trigger": "Rm -rf"}, "trigger"),
    ],
)
def test_bad_input_names_the_field(event: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_request(event, SETTINGS)
    assert raised.value.field == field


# The delete guard --------------------------------------------------------------------


def test_a_degraded_hsm_of_the_plan_may_be_deleted_once_its_replacement_is_active() -> None:
    c = cluster(hsm(A, state="DEGRADED", n=1), hsm(A, n=3), hsm(B, n=2))
    verdict, _ = deletion_verdict(c, "hsm-abcdefghij1", ["hsm-abcdefghij1"], "hsm-abcdefghij3")
    assert verdict == DELETE


def test_an_active_hsm_is_never_deleted_even_when_named() -> None:
    with pytest.raises(RefusedToDelete, match="it is ACTIVE"):
        deletion_verdict(cluster(), "hsm-abcdefghij1", ["hsm-abcdefghij1"])


@pytest.mark.parametrize("state", ["CREATE_IN_PROGRESS", "ACTIVE"])
def test_only_degraded_hsms_are_deleted(state: str) -> None:
    c = cluster(hsm(A, state=state, n=1), hsm(B, n=2))
    with pytest.raises(RefusedToDelete, match=f"it is {state}"):
        deletion_verdict(c, "hsm-abcdefghij1", ["hsm-abcdefghij1"])


def test_an_hsm_the_plan_does_not_name_is_never_deleted() -> None:
    with pytest.raises(RefusedToDelete, match="does not name it"):
        deletion_verdict(degraded_in_a(), "hsm-abcdefghij1", ["hsm-abcdefghij9"])


def test_the_failed_hsm_is_kept_while_its_replacement_is_not_active() -> None:
    c = cluster(hsm(A, state="DEGRADED", n=1), hsm(A, state="CREATE_IN_PROGRESS", n=3), hsm(B, n=2))
    with pytest.raises(RefusedToDelete, match="replacement hsm-abcdefghij3 is CREATE_IN_PROGRESS"):
        deletion_verdict(c, "hsm-abcdefghij1", ["hsm-abcdefghij1"], "hsm-abcdefghij3")


def test_a_gone_or_going_hsm_needs_no_delete() -> None:
    going = cluster(hsm(A, state="DELETE_IN_PROGRESS", n=1), hsm(B, n=2))
    assert deletion_verdict(going, "hsm-abcdefghij1", ["hsm-abcdefghij1"])[0] == ALREADY_DELETING
    gone = cluster(hsm(B, n=2))
    assert deletion_verdict(gone, "hsm-abcdefghij1", ["hsm-abcdefghij1"])[0] == ALREADY_GONE


# Done when ----------------------------------------------------------------------------


def test_sync_waits_for_the_zone_and_for_the_failed_hsm_to_go() -> None:
    plan = plan_for(degraded_in_a()).to_dict()
    creating = cluster(
        hsm(A, state="DEGRADED", n=1), hsm(A, state="CREATE_IN_PROGRESS", n=3), hsm(B, n=2)
    )
    assert sync_waits(creating, plan) == [
        "us-east-1a has 0 ACTIVE HSM(s) of 1",
        "hsm-abcdefghij3 is CREATE_IN_PROGRESS",
        "the failed HSM hsm-abcdefghij1 is not gone yet",
    ]
    deleting = cluster(hsm(A, state="DELETE_IN_PROGRESS", n=1), hsm(A, n=3), hsm(B, n=2))
    assert sync_waits(deleting, plan) == [
        "hsm-abcdefghij1 is DELETE_IN_PROGRESS",
        "the failed HSM hsm-abcdefghij1 is not gone yet",
    ]
    assert sync_waits(cluster(hsm(A, n=3), hsm(B, n=2)), plan) == []
