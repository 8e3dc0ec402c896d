"""Planning and clean-up decisions of the on-demand backup, without AWS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lambdas.backups.on_demand import (
    OnDemandRequest,
    make_plan,
    missing_hsms,
    newest_backup_since,
    parse_request,
)
from lambdas.backups.on_demand_cleanup import plan_after_stop, plan_cleanup
from lambdas.shared.errors import InvalidInput, NoQuotaHeadroom
from lambdas.shared.models import GONE, hsm_status
from lambdas.shared.settings import BackupSettings
from tests.lambdas.factories import CLUSTER_ID, NOW, backup, cluster, hsm, spec

SETTINGS = BackupSettings(hsms_per_region_quota=6)


def request(**overrides: Any) -> OnDemandRequest:
    return parse_request({"cluster_id": CLUSTER_ID, **overrides}, SETTINGS)


def plan_for(req: OnDemandRequest, c: Any = None, hsms_in_region: int = 2) -> Any:
    return make_plan(
        request=req,
        spec=spec(),
        cluster=cluster() if c is None else c,
        hsms_in_region=hsms_in_region,
        settings=SETTINGS,
        now=NOW,
    )


def test_request_defaults_come_from_the_config() -> None:
    req = request()
    assert req.strategy == "add-temporary-hsm"
    assert (req.poll_seconds, req.hsm_timeout_minutes, req.backup_timeout_minutes) == (30, 45, 60)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({}, "cluster_id"),
        ({"cluster_id": "cluster-0"}, "cluster_id"),
        ({"cluster_id": CLUSTER_ID, "strategy": "copy"}, "strategy"),
        ({"cluster_id": CLUSTER_ID, "allow_downtime": "yes"}, "allow_downtime"),
        ({"cluster_id": CLUSTER_ID, "poll_seconds": 1.5}, "poll_seconds"),
        ({"cluster_id": CLUSTER_ID, "backup_timeout_minutes": 0}, "backup_timeout_minutes"),
        ({"cluster_id": CLUSTER_ID, "hsm_timeout_minutes": True}, "hsm_timeout_minutes"),
    ],
)
def test_bad_input_names_the_field(event: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_request(event, SETTINGS)
    assert raised.value.field == field


def test_temporary_hsm_goes_to_the_least_used_zone_first() -> None:
    c = cluster(hsm("us-east-1a", n=1), hsm("us-east-1a", n=2), hsm("us-east-1b", n=3))
    plan = plan_for(request(), c)
    assert plan.zones == ("us-east-1b", "us-east-1a")
    assert plan.hsms_per_az_before == {"us-east-1a": 2, "us-east-1b": 1}
    assert plan.cycled is None


def test_cycle_picks_an_hsm_from_the_most_crowded_zone_and_keeps_its_ip() -> None:
    c = cluster(hsm("us-east-1a", n=1), hsm("us-east-1b", n=2), hsm("us-east-1b", n=3))
    plan = plan_for(request(strategy="cycle-hsm"), c)
    assert plan.cycled is not None
    assert plan.cycled.availability_zone == "us-east-1b"
    assert plan.cycled.eni_ip in ("10.0.2.10", "10.0.3.10")
    assert plan.zones == ("us-east-1b",)


def test_refusals_create_nothing_and_say_why() -> None:
    with pytest.raises(NoQuotaHeadroom, match="cycle-hsm"):
        plan_for(request(), hsms_in_region=6)
    with pytest.raises(InvalidInput, match="allow_downtime"):
        plan_for(request(strategy="cycle-hsm"), cluster(hsm("us-east-1a", n=1)))
    one = plan_for(request(strategy="cycle-hsm", allow_downtime=True), cluster(hsm(n=1)))
    assert one.cycled is not None
    with pytest.raises(InvalidInput, match="is DEGRADED"):
        plan_for(request(), cluster(state="DEGRADED"))
    with pytest.raises(InvalidInput, match="being created or deleted"):
        plan_for(request(), cluster(hsm(n=1), hsm("us-east-1b", "CREATE_IN_PROGRESS", n=2)))
    with pytest.raises(InvalidInput, match="does not exist"):
        make_plan(
            request=request(), spec=spec(), cluster=None, hsms_in_region=0,
            settings=SETTINGS, now=NOW,
        )  # fmt: skip


def test_new_backup_is_the_newest_made_since_the_start() -> None:
    old = backup(timedelta(hours=3), backup_id="backup-oldxxxxxxxxx")
    fresh = backup(
        timedelta(minutes=-1), backup_id="backup-freshxxxxxxx", state="CREATE_IN_PROGRESS"
    )
    gone = backup(timedelta(minutes=-2), backup_id="backup-gonexxxxxxxx", state="DELETED")
    start = NOW - timedelta(minutes=5)
    assert newest_backup_since([old, fresh, gone], start) == fresh
    assert newest_backup_since([old], start) is None


def test_hsm_status_reports_gone_once_unlisted() -> None:
    c = cluster()
    assert hsm_status(c, "hsm-abcdefghij1") == "ACTIVE"
    assert hsm_status(c, "hsm-neverexisted") == GONE


PLAN = {
    "hsms_before": ["hsm-abcdefghij1", "hsm-abcdefghij2"],
    "hsms_per_az_before": {"us-east-1a": 1, "us-east-1b": 1},
    "cycled": None,
}


def run_with(created: list[str], removed: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"created_hsm_ids": created, "removed_hsm_ids": removed or [], **extra}


def test_cleanup_deletes_only_the_temporary_hsm() -> None:
    temp = hsm("us-east-1a", n=9)
    c = cluster(hsm("us-east-1a", n=1), hsm("us-east-1b", n=2), temp)
    decision = plan_cleanup(PLAN, run_with([temp.hsm_id]), c)
    assert decision.delete == (temp.hsm_id,) and not decision.done


def test_cleanup_never_deletes_an_hsm_it_did_not_create() -> None:
    # Given a surplus HSM the run did not create (someone added it meanwhile)
    stranger = hsm("us-east-1a", n=8)
    c = cluster(hsm("us-east-1a", n=1), hsm("us-east-1b", n=2), stranger)
    decision = plan_cleanup(PLAN, run_with([]), c)
    assert decision.delete == () and decision.done


def test_cleanup_deletes_a_degraded_attempt_and_waits_for_transit() -> None:
    bad = hsm("us-east-1a", state="DEGRADED", n=9)
    c = cluster(hsm("us-east-1a", n=1), hsm("us-east-1b", n=2), bad)
    assert plan_cleanup(PLAN, run_with([bad.hsm_id]), c).delete == (bad.hsm_id,)
    leaving = hsm("us-east-1a", state="DELETE_IN_PROGRESS", n=9)
    waiting = plan_cleanup(
        PLAN, run_with([leaving.hsm_id]), cluster(hsm(n=1), hsm("us-east-1b", n=2), leaving)
    )
    assert waiting.delete == () and not waiting.done
    assert "is DELETE_IN_PROGRESS" in waiting.remaining[0]


def test_cleanup_recreates_the_cycled_hsm_with_its_ip() -> None:
    plan = {
        **PLAN,
        "cycled": {
            "hsm_id": "hsm-abcdefghij1",
            "availability_zone": "us-east-1a",
            "eni_ip": "10.0.1.10",
        },
    }
    c = cluster(hsm("us-east-1b", n=2))
    decision = plan_cleanup(plan, run_with([], ["hsm-abcdefghij1"]), c)
    assert decision.create == (("us-east-1a", "10.0.1.10"),)
    exhausted = plan_cleanup(plan, run_with([], ["hsm-abcdefghij1"], cleanup={"attempts": 3}), c)
    # Then clean-up stops trying, and what is left is said (the alert pages with it)
    assert exhausted.create == () and exhausted.done
    assert "re-creations failed" in exhausted.remaining[0]
    assert missing_hsms(c, plan["hsms_per_az_before"]) == {"us-east-1a": 1}


# An execution that was stopped (ABORTED, TIMED_OUT) -----------------------------------

STOPPED = {**PLAN, "region": "us-east-1", "cluster_id": CLUSTER_ID}


def test_after_a_stop_the_temporary_hsm_is_deleted_even_while_being_created() -> None:
    # Given a stopped run whose temporary HSM is still CREATE_IN_PROGRESS
    temp = hsm("us-east-1a", state="CREATE_IN_PROGRESS", n=9)
    c = cluster(hsm("us-east-1a", n=1), hsm("us-east-1b", n=2), temp)
    decision = plan_after_stop(STOPPED, run_with([temp.hsm_id]), c)
    # Then it is deleted at once (nothing waits any more) and nothing else is left
    assert decision.delete == (temp.hsm_id,) and decision.left == ()


def test_after_a_stop_only_what_the_run_created_is_deleted_and_the_rest_is_named() -> None:
    # Given an HSM nobody recorded, and a zone short of its starting HSM (cycled away)
    stranger = hsm("us-east-1b", n=8)
    c = cluster(hsm("us-east-1b", n=2), stranger)
    plan = {
        **STOPPED,
        "cycled": {
            "hsm_id": "hsm-abcdefghij1",
            "availability_zone": "us-east-1a",
            "eni_ip": "10.0.1.10",
        },
    }
    decision = plan_after_stop(plan, run_with([], ["hsm-abcdefghij1"]), c)
    assert decision.delete == ()
    assert "us-east-1a has 0 HSM(s), 1 at the start" in decision.left[0]
    assert "--availability-zone us-east-1a --ip-address 10.0.1.10" in decision.left[0]
    assert f"HSM {stranger.hsm_id} in us-east-1b (ACTIVE) was not there" in decision.left[1]


def test_after_a_stop_a_cycled_hsm_already_back_is_kept() -> None:
    back = hsm("us-east-1a", n=7)
    c = cluster(back, hsm("us-east-1b", n=2))
    plan = {
        **STOPPED,
        "cycled": {
            "hsm_id": "hsm-abcdefghij1",
            "availability_zone": "us-east-1a",
            "eni_ip": "10.0.1.10",
        },
    }
    decision = plan_after_stop(plan, run_with([back.hsm_id], ["hsm-abcdefghij1"]), c)
    assert decision.delete == () and decision.left == ()
