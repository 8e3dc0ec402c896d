"""Warm standby: the refresher keeps the standby of the newest copy with one ACTIVE
HSM, rotates the older ones (their HSMs first), alerts on what it could not do; the
restore adopts a warm standby within the RPO; verification reports DEGRADED and a warm
standby without its HSM."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest

from lambdas.shared.models import Backup, Cluster
from lambdas.shared.standby import (
    RefreshPlan,
    choose_posture,
    plan_refresh,
    standby_problems,
    standby_tags,
)
from lambdas.standby.alerts import refusal_alert
from lambdas.standby.refresh import refresh_standbys
from lambdas.standby.settings import StandbySettings
from tests.lambdas.factories import CLUSTER_ID, NOW, backup, hsm
from tests.lambdas.standby.test_standby import (
    DEPLOYMENT,
    NEW,
    OLD,
    REGION,
    RPO,
    standby,
    stranger,
)

WARM = "warm-standby"
ZONES = {"us-west-2a": "subnet-0a0a0a0a0a0a0a0a0", "us-west-2b": "subnet-0b0b0b0b0b0b0b0b0"}


def warm(copy: Backup, cluster_id: str, *hsms: Any, state: str = "ACTIVE") -> Cluster:
    return standby(copy, cluster_id, state=state, hsms=tuple(hsms), subnet_mapping=ZONES)


def west_hsm(state: str = "ACTIVE", n: int = 1, az: str = "us-west-2a") -> Any:
    return hsm(az=az, state=state, n=n)


def plan(
    clusters: Sequence[Cluster], *, hsms_quota: int = 6, clusters_quota: int = 4
) -> RefreshPlan:
    return plan_refresh(
        deployment=DEPLOYMENT,
        cluster_id=CLUSTER_ID,
        region=REGION,
        clusters=clusters,
        copies=(OLD, NEW),
        clusters_quota=clusters_quota,
        posture=WARM,
        hsms_quota=hsms_quota,
    )


def test_an_active_standby_without_its_hsm_gets_one_and_the_old_one_is_kept() -> None:
    old = warm(OLD, "cluster-standbyoldaa", west_hsm(n=7))
    result = plan([old, warm(NEW, "cluster-standbynewaa")])
    assert (result.create_hsm_in, result.hsm_zone) == ("cluster-standbynewaa", "us-west-2a")
    assert (result.delete, result.delete_hsms) == ((), ())  # the old one serves meanwhile


def test_while_its_hsm_is_created_nothing_is_deleted() -> None:
    old = warm(OLD, "cluster-standbyoldaa", west_hsm(n=7))
    result = plan([old, warm(NEW, "cluster-standbynewaa", west_hsm("CREATE_IN_PROGRESS"))])
    assert (result.create_hsm_in, result.delete, result.delete_hsms) == (None, (), ())
    assert "CREATE_IN_PROGRESS" in result.notes[0]


def test_a_degraded_hsm_is_deleted_then_another_is_created() -> None:
    broken = west_hsm("DEGRADED", n=3)
    result = plan([warm(NEW, "cluster-standbynewaa", broken)])
    assert result.delete_hsms == (("cluster-standbynewaa", broken.hsm_id),)
    assert result.create_hsm_in is None  # one change at a time: next run creates
    going = plan([warm(NEW, "cluster-standbynewaa", replace(broken, state="DELETE_IN_PROGRESS"))])
    assert (going.create_hsm_in, going.delete_hsms) == (None, ())
    assert "DELETE_IN_PROGRESS" in going.notes[0]
    # Once it is gone, the next run creates another.
    assert plan([warm(NEW, "cluster-standbynewaa")]).hsm_zone == "us-west-2a"


def test_once_the_new_one_serves_the_old_loses_its_hsm_then_goes() -> None:
    old_hsm = west_hsm(n=7)
    new = warm(NEW, "cluster-standbynewaa", west_hsm(n=8))
    first = plan([warm(OLD, "cluster-standbyoldaa", old_hsm), new])
    assert first.delete_hsms == (("cluster-standbyoldaa", old_hsm.hsm_id),)
    assert first.delete == ()
    going = plan(
        [warm(OLD, "cluster-standbyoldaa", replace(old_hsm, state="DELETE_IN_PROGRESS")), new]
    )
    assert (going.delete_hsms, going.delete) == ((), ())
    assert plan([warm(OLD, "cluster-standbyoldaa"), new]).delete == ("cluster-standbyoldaa",)


def test_the_hsm_quota_refuses_and_says_so() -> None:
    full = [replace(stranger(n), hsms=(west_hsm(n=n),)) for n in range(3)]
    result = plan([*full, warm(NEW, "cluster-standbynewaa")], hsms_quota=3)
    assert result.create_hsm_in is None
    assert "quota of 3 HSMs" in result.refusals[0]


def test_a_pilot_light_plan_never_touches_hsms() -> None:
    with_hsm = warm(OLD, "cluster-standbyoldaa", west_hsm(n=7))
    result = plan_refresh(
        deployment=DEPLOYMENT, cluster_id=CLUSTER_ID, region=REGION,
        clusters=[with_hsm, warm(NEW, "cluster-standbynewaa")], copies=(OLD, NEW),
        clusters_quota=4,
    )  # fmt: skip
    assert (result.create_hsm_in, result.delete_hsms, result.delete) == (None, (), ())


class Gateway:
    def __init__(self, clusters: Sequence[Cluster]) -> None:
        self.clusters = list(clusters)
        self.tags_now: dict[str, dict[str, str]] = {}
        self.calls: list[str] = []

    def describe_clusters(self) -> list[Cluster]:
        self.calls.append("describe_clusters")
        return list(self.clusters)

    def iter_backups(self, **_: Any) -> Iterator[Backup]:
        self.calls.append("iter_backups")
        yield from (OLD, NEW)

    def create_hsm(self, cluster_id: str, zone: str) -> Any:
        self.calls.append(f"create_hsm:{cluster_id}:{zone}")
        return west_hsm("CREATE_IN_PROGRESS", n=9)

    def list_tags(self, resource_id: str) -> dict[str, str]:
        self.calls.append(f"list_tags:{resource_id}")
        found = next(c for c in self.clusters if c.cluster_id == resource_id)
        return self.tags_now.get(resource_id, dict(found.tags))

    def delete_hsm(self, cluster_id: str, hsm_id: str) -> str:
        self.calls.append(f"delete_hsm:{cluster_id}:{hsm_id}")
        return hsm_id

    def delete_cluster(self, cluster_id: str) -> None:
        self.calls.append(f"delete_cluster:{cluster_id}")


SETTINGS = StandbySettings(
    DEPLOYMENT, REGION, (CLUSTER_ID,), ("subnet-0123456789abcdef0",), warm_cluster_ids=(CLUSTER_ID,)
)


def test_refresh_creates_the_hsm_on_the_standby_and_counts_the_call() -> None:
    gateway = Gateway([warm(NEW, "cluster-standbynewaa")])
    result = refresh_standbys(SETTINGS, gateway)  # type: ignore[arg-type]
    assert gateway.calls[-1] == "create_hsm:cluster-standbynewaa:us-west-2a"
    assert result.hsms_created[0]["standby"] == "cluster-standbynewaa"
    assert result.api_calls == 3


def test_refresh_deletes_an_old_standbys_hsm_only_after_reading_its_tags_again() -> None:
    old_hsm = west_hsm(n=7)
    old = warm(OLD, "cluster-standbyoldaa", old_hsm)
    gateway = Gateway([old, warm(NEW, "cluster-standbynewaa", west_hsm(n=8))])
    # A restore adopted it between the listing and the delete: its tags say so now.
    gateway.tags_now[old.cluster_id] = {**old.tags, "hsmdr:restore-id": "incident-7"}
    result = refresh_standbys(SETTINGS, gateway)  # type: ignore[arg-type]
    assert not [c for c in gateway.calls if c.startswith("delete_hsm")]
    assert "HSM" in result.refused[0] and "not deleted" in result.refused[0]
    del gateway.tags_now[old.cluster_id]
    result = refresh_standbys(SETTINGS, gateway)  # type: ignore[arg-type]
    assert gateway.calls.index(f"list_tags:{old.cluster_id}") < gateway.calls.index(
        f"delete_hsm:{old.cluster_id}:{old_hsm.hsm_id}"
    )
    assert result.hsms_deleted == [
        {"cluster_id": CLUSTER_ID, "standby": old.cluster_id, "hsm": old_hsm.hsm_id}
    ]


def test_refusals_are_alerted_and_no_subnets_refuses_before_any_call() -> None:
    gateway = Gateway([])
    result = refresh_standbys(replace(SETTINGS, subnet_ids=()), gateway)  # type: ignore[arg-type]
    assert gateway.calls == []
    assert "restore.subnets.us-west-2 is empty" in result.refused[0]
    alert = refusal_alert(result, DEPLOYMENT)
    assert alert.severity == "notify"
    assert "restore.subnets.us-west-2 is empty" in alert.body
    assert "docs/runbooks/standby.md" in alert.body
    quota = Gateway([stranger(n) for n in range(4)])
    refused = refresh_standbys(SETTINGS, quota)  # type: ignore[arg-type]
    assert "quota of 4 clusters" in refused.refused[0]


def test_settings_round_trip_with_warm_clusters() -> None:
    assert StandbySettings.from_env(SETTINGS.to_env()) == SETTINGS
    assert SETTINGS.posture(CLUSTER_ID) == WARM
    assert SETTINGS.posture("cluster-otherotherot") == "pilot-light"


@pytest.mark.parametrize(
    ("standbys", "posture", "words"),
    [
        ([warm(NEW, "cluster-standbynewaa", west_hsm())], WARM,
         "adopted warm standby cluster-standbynewaa"),
        # Its HSM is not ACTIVE yet: adopted as a pilot light, saying why.
        ([warm(NEW, "cluster-standbynewaa")], "pilot-light",
         "warm-standby, but no ACTIVE standby with an ACTIVE HSM; as pilot-light: adopted"),
        ([warm(OLD, "cluster-standbyoldaa", west_hsm())], "cold", "older than the RPO"),
        ([warm(NEW, "cluster-standbynewaa", west_hsm(), west_hsm("DEGRADED", n=2))], "cold",
         "no ACTIVE standby without HSMs"),
        ([], "cold", "warm-standby, but no ACTIVE standby with an ACTIVE HSM"),
    ],
)  # fmt: skip
def test_the_restore_adopts_a_warm_standby_or_says_why_not(
    standbys: list[Cluster], posture: str, words: str
) -> None:
    choice = choose_posture(configured=WARM, standbys=standbys, now=NOW, rpo=RPO)
    assert choice.posture == posture
    assert words in choice.reason


def kinds(clusters: Sequence[Cluster], posture: str = WARM) -> list[str]:
    found = standby_problems(
        deployment=DEPLOYMENT, cluster_id=CLUSTER_ID, region=REGION, clusters=clusters,
        now=NOW, rpo=RPO, posture=posture,
    )  # fmt: skip
    return sorted(p.kind for p in found)


def test_verification_problems_of_a_warm_standby() -> None:
    assert kinds([warm(NEW, "cluster-standbynewaa", west_hsm())]) == []
    assert kinds([warm(NEW, "cluster-standbynewaa")]) == ["no-hsm"]
    assert kinds([warm(NEW, "cluster-standbynewaa", west_hsm("DEGRADED"))]) == [
        "degraded",
        "no-hsm",
    ]
    assert kinds([warm(NEW, "cluster-standbynewaa", state="DEGRADED")]) == ["degraded", "missing"]
    assert kinds([warm(OLD, "cluster-standbyoldaa", west_hsm())]) == ["stale"]
    assert kinds([]) == ["missing"]
    # The same HSM under pilot light is money leaking.
    assert kinds([warm(NEW, "cluster-standbynewaa", west_hsm())], "pilot-light") == ["holds-hsm"]


def test_the_findings_name_the_posture_and_the_runbook() -> None:
    from lambdas.shared import runbooks
    from lambdas.shared.findings import standby_findings
    from tests.lambdas.factories import spec

    problems = standby_problems(
        deployment=DEPLOYMENT, cluster_id=CLUSTER_ID, region=REGION,
        clusters=[warm(NEW, "cluster-standbynewaa", west_hsm("DEGRADED"))],
        now=NOW, rpo=RPO, posture=WARM,
    )  # fmt: skip
    found = standby_findings(spec(dr_posture={REGION: WARM}), problems)
    assert sorted(f.code.value for f in found) == ["STANDBY_DEGRADED", "STANDBY_NO_HSM"]
    assert all(runbooks.for_finding(f.code) == runbooks.STANDBY for f in found)
    degraded = next(f for f in found if f.code.value == "STANDBY_DEGRADED")
    assert "warm-standby standby cluster-standbynewaa" in degraded.message


def test_standby_tags_are_unchanged_for_a_warm_standby() -> None:
    # The refresher, the restore and IAM all read the same tags whatever the posture.
    assert set(standby_tags(DEPLOYMENT, CLUSTER_ID, NEW)) == set(
        warm(NEW, "cluster-standbynewaa").tags
    )
    assert backup(backup_id="backup-abcdefghijk").backup_id == "backup-abcdefghijk"


def test_the_monthly_cost_of_each_posture() -> None:
    from lambdas.shared.standby import HOURS_PER_MONTH, posture_cost

    assert posture_cost("cold", 1.85).usd_per_month == 0
    assert posture_cost("pilot-light", 1.85).usd_per_month == 0
    warm_cost = posture_cost(WARM, 2.0, rotations_per_month=30, overlap_hours=1.0)
    assert warm_cost.hsm_hours_per_month == HOURS_PER_MONTH + 30
    assert warm_cost.usd_per_month == (HOURS_PER_MONTH + 30) * 2.0
    with pytest.raises(ValueError, match="posture"):
        posture_cost("hot", 1.85)
