from __future__ import annotations

from lambdas.shared.topology import check_topology
from tests.lambdas.factories import cluster, hsm

DESIRED = {"us-east-1a": 1, "us-east-1b": 1}


def test_two_active_hsms_in_two_zones_is_healthy() -> None:
    check = check_topology(cluster(), DESIRED)
    assert check.healthy
    assert check.active_total == check.desired_total == 2


def test_degraded_and_missing_hsms_are_reported_per_zone() -> None:
    # Given one ACTIVE HSM in 1a and a DEGRADED one in 1b
    c = cluster(hsm("us-east-1a", n=1), hsm("us-east-1b", state="DEGRADED", n=2))
    # When checked, Then 1b is short of one HSM and the degraded HSM is named
    check = check_topology(c, DESIRED)
    assert not check.healthy
    assert [(g.availability_zone, g.missing) for g in check.gaps] == [("us-east-1b", 1)]
    assert [h.hsm_id for h in check.degraded] == ["hsm-abcdefghij2"]


def test_hsm_being_created_does_not_count_as_active_but_is_listed() -> None:
    c = cluster(hsm("us-east-1a", n=1), hsm("us-east-1b", state="CREATE_IN_PROGRESS", n=2))
    check = check_topology(c, DESIRED)
    assert [g.availability_zone for g in check.gaps] == ["us-east-1b"]
    assert [h.hsm_id for h in check.transitional] == ["hsm-abcdefghij2"]


def test_hsm_in_zone_outside_topology_is_flagged() -> None:
    c = cluster(hsm("us-east-1a", n=1), hsm("us-east-1b", n=2), hsm("us-east-1c", n=3))
    check = check_topology(c, DESIRED)
    assert check.healthy
    assert check.unexpected_zones == ("us-east-1c",)
