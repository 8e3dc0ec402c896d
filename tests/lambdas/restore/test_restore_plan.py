"""Where the restore goes and which HSM it creates, waits for or discards next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from lambdas.restore.plan import (
    CREATE,
    DISCARD,
    DONE,
    WAIT,
    ClusterCreationFailed,
    ClusterTimeout,
    Subnet,
    choose_zone,
    cluster_status,
    next_hsm,
    quota_note,
    zones_of,
)
from lambdas.shared.errors import (
    HsmCreationFailed,
    InvalidInput,
    NoQuotaHeadroom,
)
from lambdas.shared.models import Cluster, Hsm
from tests.lambdas.factories import NOW, cluster, hsm

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def decide(
    *hsms: Hsm,
    target: int = 2,
    created: Sequence[str] = (),
    degraded_zones: Sequence[str] = (),
    failures: int = 0,
    max_attempts: int = 3,
) -> Any:
    return next_hsm(
        cluster(*hsms)
        if hsms
        else Cluster("cluster-abcdefghijk", "ACTIVE", "hsm2m.medium", "FIPS"),
        target=target,
        zones=ZONES,
        created=created,
        degraded_zones=degraded_zones,
        failures_in_a_row=failures,
        max_attempts=max_attempts,
    )


# Subnets ------------------------------------------------------------------------


def subnet(subnet_id: str, zone: str, vpc: str = "vpc-11111111") -> Subnet:
    return Subnet(subnet_id, zone, vpc)


def test_zones_keep_the_order_the_subnets_were_given_in() -> None:
    found = [subnet("subnet-000000aa", "us-east-1a"), subnet("subnet-000000bb", "us-east-1b")]
    zones = zones_of(["subnet-000000bb", "subnet-000000aa"], found, "us-east-1")
    assert list(zones.items()) == [
        ("us-east-1b", "subnet-000000bb"),
        ("us-east-1a", "subnet-000000aa"),
    ]


@pytest.mark.parametrize(
    ("given", "found", "message"),
    [
        (["subnet-000000aa"], [], "subnet-000000aa not found in us-east-1"),
        (
            ["subnet-000000aa", "subnet-000000bb"],
            [subnet("subnet-000000aa", "us-east-1a"), subnet("subnet-000000bb", "us-east-1a")],
            "subnet-000000aa and subnet-000000bb are both in us-east-1a",
        ),
        (
            ["subnet-000000aa", "subnet-000000bb"],
            [
                subnet("subnet-000000aa", "us-east-1a"),
                subnet("subnet-000000bb", "us-east-1b", "vpc-22222222"),
            ],
            "are in several VPCs",
        ),
    ],
)
def test_subnets_that_cloudhsm_would_refuse_are_refused_first(
    given: list[str], found: list[Subnet], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        zones_of(given, found, "us-east-1")


# HSMs -----------------------------------------------------------------------------


def test_first_hsm_goes_to_the_first_zone_then_round_robin() -> None:
    assert decide(target=1).zone == "us-east-1a"
    second = decide(hsm("us-east-1a", n=1))
    assert (second.action, second.zone) == (CREATE, "us-east-1b")
    third = decide(hsm("us-east-1a", n=1), hsm("us-east-1b", n=2), target=4)
    assert third.zone == "us-east-1c"
    fourth = decide(
        hsm("us-east-1a", n=1), hsm("us-east-1b", n=2), hsm("us-east-1c", n=3), target=4
    )
    assert fourth.zone == "us-east-1a"


def test_an_hsm_under_way_is_waited_for_before_anything_else() -> None:
    creating = hsm("us-east-1a", state="CREATE_IN_PROGRESS", n=1)
    deleting = hsm("us-east-1b", state="DELETE_IN_PROGRESS", n=2)
    assert decide(creating).action == WAIT
    decision = decide(deleting, hsm("us-east-1c", state="DEGRADED", n=3), created=[deleting.hsm_id])
    assert (decision.action, decision.hsm_id) == (WAIT, deleting.hsm_id)


def test_a_degraded_hsm_this_run_created_is_discarded() -> None:
    degraded = hsm("us-east-1a", state="DEGRADED", n=1)
    decision = decide(degraded, created=[degraded.hsm_id])
    assert (decision.action, decision.hsm_id, decision.zone) == (
        DISCARD,
        degraded.hsm_id,
        "us-east-1a",
    )


def test_a_degraded_hsm_this_run_did_not_create_is_left_and_said_so() -> None:
    foreign = hsm("us-east-1a", state="DEGRADED", n=1)
    decision = decide(foreign, target=1, created=[])
    assert decision.action == CREATE  # it does not count as serving
    assert (
        f"HSM {foreign.hsm_id} in us-east-1a is DEGRADED and was not created" in (decision.notes[0])
    )


def test_done_once_the_target_is_active() -> None:
    assert decide(hsm("us-east-1a", n=1), target=1).action == DONE
    assert decide(hsm("us-east-1a", n=1), hsm("us-east-1b", n=2)).action == DONE


def test_one_failure_retries_the_same_zone_two_swap_it_for_a_spare() -> None:
    assert decide(target=1, degraded_zones=["us-east-1a"], failures=1).zone == "us-east-1a"
    swapped = decide(target=1, degraded_zones=["us-east-1a"] * 2, failures=2)
    assert swapped.zone == "us-east-1b"
    # The second HSM then skips the failing zone too: the cluster stays in two zones.
    second = decide(hsm("us-east-1b", n=1), degraded_zones=["us-east-1a"] * 2)
    assert second.zone == "us-east-1c"


def test_when_every_zone_fails_all_zones_stay_candidates() -> None:
    assert choose_zone(ZONES, {}, list(ZONES) * 2) == "us-east-1a"


def test_a_swap_to_a_spare_zone_starts_that_zone_from_its_own_count() -> None:
    # Given one transient DEGRADED HSM and then an AZ that rejects CloudHSM, in us-east-1b
    # after two failures in us-east-1a (three in a row, max_attempts 3)
    decision = decide(
        target=1, degraded_zones=["us-east-1a", "us-east-1a", "us-east-1b"], failures=3
    )
    # Then us-east-1b still gets its attempts: one of three is used
    assert decision.action == CREATE and decision.zone == "us-east-1b"


def test_too_many_degraded_hsms_in_a_row_in_the_zone_left_stop_the_restore() -> None:
    # Every zone failing ends the restore, after at most max_attempts HSMs per zone.
    every_zone = [
        "us-east-1a",
        "us-east-1a",
        "us-east-1b",
        "us-east-1b",
        "us-east-1c",
        "us-east-1c",
    ]
    assert decide(target=1, degraded_zones=every_zone, failures=6).zone == "us-east-1a"
    with pytest.raises(HsmCreationFailed, match="3 HSMs in a row ended DEGRADED in us-east-1a"):
        decide(target=1, degraded_zones=[*every_zone, "us-east-1a"], failures=7)


def test_degraded_hsms_before_an_active_one_do_not_count() -> None:
    # Two failures in us-east-1a, then an ACTIVE HSM there reset the count (failures 0).
    decision = decide(
        hsm("us-east-1a", n=1), degraded_zones=["us-east-1a"] * 2, failures=0, max_attempts=2
    )
    assert decision.action == CREATE and decision.zone == "us-east-1b"


def test_no_zone_at_all_is_refused() -> None:
    with pytest.raises(InvalidInput):
        choose_zone((), {}, ())


# The cluster ------------------------------------------------------------------------


def test_cluster_status_while_creating_then_active() -> None:
    later = NOW + timedelta(minutes=5)
    assert cluster_status(cluster(state="CREATE_IN_PROGRESS"), "c", later, NOW) == (
        "CREATE_IN_PROGRESS"
    )
    assert cluster_status(cluster(state="ACTIVE"), "c", NOW, later) == "ACTIVE"


def test_a_degraded_cluster_fails_and_is_left_for_an_engineer() -> None:
    degraded = cluster(state="DEGRADED", state_message="Cluster creation failed")
    with pytest.raises(ClusterCreationFailed, match=r"ended DEGRADED .*Cluster creation failed"):
        cluster_status(degraded, "cluster-abcdefghijk", NOW, NOW)


def test_a_vanished_cluster_fails() -> None:
    with pytest.raises(ClusterCreationFailed, match="is gone"):
        cluster_status(None, "cluster-abcdefghijk", NOW, NOW)
    with pytest.raises(ClusterCreationFailed, match="DELETE_IN_PROGRESS"):
        cluster_status(cluster(state="DELETE_IN_PROGRESS"), "cluster-abcdefghijk", NOW, NOW)


def test_a_cluster_not_active_at_the_deadline_times_out() -> None:
    with pytest.raises(ClusterTimeout):
        cluster_status(cluster(state="CREATE_IN_PROGRESS"), "c", NOW, NOW + timedelta(seconds=1))


# Quotas ---------------------------------------------------------------------------


def test_no_cluster_quota_left_is_refused() -> None:
    full = [cluster(cluster_id=f"cluster-abcdefghij{i}", hsms=()) for i in range(4)]
    with pytest.raises(NoQuotaHeadroom, match="already has 4 clusters, the quota is 4"):
        quota_note(full, "us-east-1", 2, clusters_quota=4, hsms_quota=6)


def test_no_hsm_quota_left_is_refused_and_partial_room_is_a_note() -> None:
    busy = [cluster(*(hsm(n=i) for i in range(6)))]
    with pytest.raises(NoQuotaHeadroom, match="already has 6 HSMs"):
        quota_note(busy, "us-east-1", 2, clusters_quota=4, hsms_quota=6)
    partly = [cluster(*(hsm(n=i) for i in range(5)))]
    note = quota_note(partly, "us-east-1", 2, clusters_quota=4, hsms_quota=6)
    assert note is not None and "room for 1 of the 2 HSMs" in note
    assert quota_note([], "us-east-1", 2, clusters_quota=4, hsms_quota=6) is None


def test_deleted_clusters_and_hsms_being_deleted_do_not_count() -> None:
    gone = [cluster(state="DELETED", hsms=()) for _ in range(4)]
    going = [cluster(*(hsm(state="DELETE_IN_PROGRESS", n=i) for i in range(6)))]
    assert quota_note([*gone, *going], "us-east-1", 1, clusters_quota=5, hsms_quota=6) is None
