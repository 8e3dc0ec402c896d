"""The drill's posture decisions: which posture is drilled and why, what it may touch
in a standby it borrows, and what giving the standby back deletes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from lambdas.drill.plan import (
    NoQuotaHeadroom,
    borrowed_problem,
    check_quota,
    drill_posture,
    plan_borrowed_teardown,
)
from lambdas.shared.models import Cluster
from lambdas.shared.standby import standby_tags
from tests.lambdas.factories import CLUSTER_ID, NOW, backup, hsm, spec

DEPLOYMENT = "hsmdr-test"
WEST = "us-west-2"
COPY = backup(age=timedelta(hours=2), backup_id="backup-newcopyaaaaa", source_backup="backup-y",
              source_cluster=CLUSTER_ID, cluster_id="")  # fmt: skip
TAGS = standby_tags(DEPLOYMENT, CLUSTER_ID, COPY)


def standby(*hsms: object, cluster_id: str = "cluster-standbynewaa") -> Cluster:
    return Cluster(cluster_id=cluster_id, state="ACTIVE", hsm_type="hsm2m.medium", mode="FIPS",
                   source_backup_id=COPY.backup_id, tags=TAGS, hsms=tuple(hsms))  # type: ignore[arg-type]  # fmt: skip


def posture(configured: str, clusters: list[Cluster], backup_id_given: bool = False):  # type: ignore[no-untyped-def]
    return drill_posture(
        spec=spec(dr_posture={WEST: configured}), region=WEST, backup_id_given=backup_id_given,
        clusters=clusters, deployment=DEPLOYMENT, now=NOW, rpo=timedelta(hours=24),
    )  # fmt: skip


def test_the_configured_posture_is_drilled_from_the_standby() -> None:
    assert posture("pilot-light", [standby()]).standby_id == "cluster-standbynewaa"
    warm = posture("warm-standby", [standby(hsm(az="us-west-2a"))])
    assert (warm.posture, warm.standby_id) == ("warm-standby", "cluster-standbynewaa")
    assert posture("cold", [standby()]).posture == "cold"


def test_a_given_backup_or_a_missing_standby_is_drilled_cold_saying_why() -> None:
    given = posture("pilot-light", [standby()], backup_id_given=True)
    assert given.posture == "cold" and "backup_id was given" in given.reason
    missing = posture("pilot-light", [])
    assert missing.posture == "cold" and "no standby found" in missing.reason


def test_a_borrowed_standby_is_touched_only_while_its_tags_say_it_is_ours() -> None:
    def problem(
        tags: dict[str, str] | None, cluster_id: str = "cluster-standbynewaa"
    ) -> str | None:
        return borrowed_problem(cluster_id, tags, deployment=DEPLOYMENT,
                                source_cluster=CLUSTER_ID, protected={CLUSTER_ID})  # fmt: skip

    assert problem(TAGS) is None
    assert "adopted" in (problem({**TAGS, "hsmdr:restore-id": "incident-1"}) or "")
    assert "gone" in (problem(None) or "")
    assert "production" in (problem(TAGS, cluster_id=CLUSTER_ID) or "")


def test_giving_the_standby_back_deletes_only_the_drills_hsms() -> None:
    own, added = hsm(az="us-west-2a", n=1), hsm(az="us-west-2b", n=2)
    first = plan_borrowed_teardown(standby(own, added), {added.hsm_id})
    assert (first.delete_hsms, first.delete_cluster, first.gone) == ((added.hsm_id,), False, False)
    going = standby(own, replace(added, state="DELETE_IN_PROGRESS"))
    assert plan_borrowed_teardown(going, {added.hsm_id}).delete_hsms == ()
    done = plan_borrowed_teardown(standby(own), {added.hsm_id})
    assert (done.gone, done.delete_cluster, done.delete_hsms) == (True, False, ())


def test_the_quota_asks_only_for_what_the_posture_adds() -> None:
    full = [standby(hsm(n=n), cluster_id=f"cluster-fullaaaaaa{n}") for n in range(2, 6)]
    with pytest.raises(NoQuotaHeadroom, match="clusters"):
        check_quota(full, WEST, 4, 6)
    check_quota(full, WEST, 4, 6, new_clusters=0)  # pilot light: an HSM only
    with pytest.raises(NoQuotaHeadroom, match="HSMs"):
        check_quota(full, WEST, 4, 4, new_clusters=0)
    check_quota(full, WEST, 4, 4, new_clusters=0, new_hsms=0)  # warm: nothing more
