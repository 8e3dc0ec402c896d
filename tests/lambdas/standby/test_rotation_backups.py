"""A warm standby's rotation backup: the refresher tags the backup its own DeleteHsm
made while the old standby still exists, and deletes it once that standby is gone and
the new one serves; anything it cannot prove it made is refused, never deleted."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.shared.copies import DEPLOYMENT_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE
from lambdas.shared.models import Backup, Cluster
from lambdas.shared.standby import STANDBY_OF_KEY
from lambdas.standby.refresh import refresh_standbys
from lambdas.standby.rotation_backups import (
    DELETE,
    HSM_REMOVED_AT_KEY,
    REFUSE,
    ROTATION_OF_KEY,
    WAIT,
    deletion_decision,
    iso,
    made_by_removal,
    rotation_tags,
)
from tests.lambdas.factories import CLUSTER_ID, NOW, backup, cluster
from tests.lambdas.standby.test_standby import DEPLOYMENT, NEW, OLD
from tests.lambdas.standby.test_warm_standby import SETTINGS, warm, west_hsm

OLD_ID = "cluster-standbyoldaa"
NEW_ID = "cluster-standbynewaa"
REMOVED_AT = NOW - timedelta(hours=1)


def made(**overrides: Any) -> Backup:
    """The backup OLD_ID's HSM removal made, as CloudHSM lists it."""
    values: dict[str, Any] = {
        "backup_id": "backup-rotationaaaa",
        "cluster_id": OLD_ID,
        "create_timestamp": REMOVED_AT + timedelta(seconds=1),
    }
    return backup(**{**values, **overrides})


def tagged(standby_id: str = OLD_ID, removed_at: datetime = REMOVED_AT) -> dict[str, str]:
    return rotation_tags(warm(OLD, standby_id).tags, standby_id, removed_at)


def decide(
    found: Backup,
    tags: dict[str, str],
    clusters: Sequence[Cluster] = (),
    *,
    deleted_now: Sequence[str] = (),
    serving: bool = True,
) -> Any:
    return deletion_decision(
        found,
        tags,
        deployment=DEPLOYMENT,
        cluster_id=CLUSTER_ID,
        protected=(CLUSTER_ID,),
        clusters=clusters,
        deleted_now=deleted_now,
        new_standby_serving=serving,
    )


def test_rotation_tags_name_the_standby_the_cluster_and_when_its_hsm_was_removed() -> None:
    tags = tagged()
    assert tags == {
        MANAGED_BY_KEY: MANAGED_BY_VALUE,
        DEPLOYMENT_KEY: DEPLOYMENT,
        STANDBY_OF_KEY: CLUSTER_ID,
        ROTATION_OF_KEY: OLD_ID,
        HSM_REMOVED_AT_KEY: iso(REMOVED_AT),
    }


def test_only_the_new_untagged_backup_of_that_standby_counts_as_made_by_the_removal() -> None:
    mine = made()
    earlier = made(
        backup_id="backup-dailyaaaaaaa", create_timestamp=REMOVED_AT - timedelta(hours=3)
    )
    listed_before = made(backup_id="backup-beforeaaaaaa")
    other_cluster = made(backup_id="backup-otheraaaaaaa", cluster_id=NEW_ID)
    copy = made(backup_id="backup-copyaaaaaaaa", source_backup="backup-x")
    already_tagged = made(backup_id="backup-taggedaaaaaa", tags={"team": "x"})
    backups = [mine, earlier, listed_before, other_cluster, copy, already_tagged]
    assert made_by_removal(backups, OLD_ID, {listed_before.backup_id}, REMOVED_AT) == [mine]


def test_the_backup_is_deleted_once_its_standby_is_gone_and_the_new_one_serves() -> None:
    gone = warm(OLD, OLD_ID, state="DELETED")
    assert decide(made(), tagged(), [gone]).action == DELETE
    assert decide(made(), tagged(), []).action == DELETE  # no longer listed at all
    # Deleted in this very run: the listing still says ACTIVE.
    assert decide(made(), tagged(), [warm(OLD, OLD_ID)], deleted_now=[OLD_ID]).action == DELETE


@pytest.mark.parametrize(
    ("found", "clusters", "serving", "why"),
    [
        (made(), [warm(OLD, OLD_ID)], True, "is still ACTIVE"),
        (made(), [], False, "does not serve yet"),
        (made(state="CREATE_IN_PROGRESS"), [], True, "is CREATE_IN_PROGRESS"),
    ],
)
def test_it_waits_while_the_standby_lives_the_new_one_does_not_serve_or_it_is_not_ready(
    found: Backup, clusters: list[Cluster], serving: bool, why: str
) -> None:
    decision = decide(found, tagged(), clusters, serving=serving)
    assert (decision.action, why in decision.reason) == (WAIT, True)


def production() -> Cluster:
    return cluster(west_hsm(), cluster_id="cluster-productionaa", tags={"app": "pay"})


@pytest.mark.parametrize(
    ("found", "tags", "clusters", "why"),
    [
        # A protected cluster's backup, with the rotation tags forged onto it.
        (made(cluster_id=CLUSTER_ID), tagged(CLUSTER_ID), [], "is protected"),
        # Another cluster of the region (a restore's, say) that is not a standby.
        (
            made(cluster_id="cluster-productionaa"),
            tagged("cluster-productionaa"),
            [production()],
            "is not a standby",
        ),
        # A copy (the source of a standby, say): never.
        (
            made(cluster_id="", source_backup="backup-y"),
            tagged(),
            [],
            "is a copy",
        ),
        # Tags naming a standby, on a backup of another cluster.
        (made(cluster_id=NEW_ID), tagged(), [], "is not the standby its tags name"),
        # Made before the HSM removal its tags record (a daily backup, say).
        (
            made(create_timestamp=REMOVED_AT - timedelta(minutes=5)),
            tagged(),
            [],
            "was not created after the HSM removal",
        ),
        (made(), {**tagged(), DEPLOYMENT_KEY: "someone-else"}, [], "tags no longer say"),
        (made(), {k: v for k, v in tagged().items() if k != HSM_REMOVED_AT_KEY}, [], "removal"),
    ],
)
def test_a_backup_it_cannot_prove_it_made_is_refused(
    found: Backup, tags: dict[str, str], clusters: list[Cluster], why: str
) -> None:
    decision = decide(found, tags, clusters)
    assert decision.action == REFUSE
    assert why in decision.reason and found.backup_id in decision.reason


class World:
    """A region's clusters and backups, as the refresher's gateway sees them: DeleteHsm
    of an ACTIVE HSM backs the cluster up (CREATE_IN_PROGRESS)."""

    def __init__(self, clusters: Sequence[Cluster], backups: Sequence[Backup] = ()) -> None:
        self.clusters = {c.cluster_id: c for c in clusters}
        self.backups = {b.backup_id: b for b in (OLD, NEW, *backups)}
        self.calls: list[str] = []
        self.backup_on_removal = True

    def describe_clusters(self) -> list[Cluster]:
        return list(self.clusters.values())

    def iter_backups(self, cluster_ids: Sequence[str] | None = None, **_: Any) -> Iterator[Backup]:
        self.calls.append(f"iter_backups:{','.join(cluster_ids or [])}")
        yield from (
            b for b in self.backups.values() if not cluster_ids or b.cluster_id in cluster_ids
        )

    def get_backup(self, backup_id: str) -> Backup:
        return self.backups[backup_id]

    def list_tags(self, resource_id: str) -> dict[str, str]:
        if resource_id.startswith("backup-"):
            return dict(self.backups[resource_id].tags)
        return dict(self.clusters[resource_id].tags)

    def tag_resource(self, resource_id: str, tags: dict[str, str]) -> None:
        self.calls.append(f"tag_resource:{resource_id}")
        found = self.backups[resource_id]
        self.backups[resource_id] = replace(found, tags={**found.tags, **tags})

    def delete_hsm(self, cluster_id: str, hsm_id: str) -> str:
        self.calls.append(f"delete_hsm:{cluster_id}")
        if self.backup_on_removal:
            self.backups["backup-rotationaaaa"] = made(
                state="CREATE_IN_PROGRESS", create_timestamp=datetime.now(UTC)
            )
        return hsm_id

    def delete_cluster(self, cluster_id: str) -> None:
        self.calls.append(f"delete_cluster:{cluster_id}")

    def delete_backup(self, backup_id: str) -> None:
        self.calls.append(f"delete_backup:{backup_id}")


def test_the_rotation_tags_the_backup_its_hsm_removal_made_then_deletes_it_after_the_cluster() -> (
    None
):
    serving = warm(NEW, NEW_ID, west_hsm(n=8))
    world = World([warm(OLD, OLD_ID, west_hsm(n=7)), serving])
    result = refresh_standbys(SETTINGS, world)  # type: ignore[arg-type]
    calls = world.calls
    assert calls.index(f"iter_backups:{OLD_ID}") < calls.index(f"delete_hsm:{OLD_ID}")
    assert calls[-1] == "tag_resource:backup-rotationaaaa"
    assert result.backups_tagged == [
        {"cluster_id": CLUSTER_ID, "standby": OLD_ID, "backup": "backup-rotationaaaa"}
    ]
    assert world.backups["backup-rotationaaaa"].tags[ROTATION_OF_KEY] == OLD_ID
    assert not result.refused and not result.backups_deleted
    # Later: the HSM is gone and the backup READY; the run deleting the cluster deletes it.
    world.backups["backup-rotationaaaa"] = replace(
        world.backups["backup-rotationaaaa"], state="READY"
    )
    world.clusters[OLD_ID] = warm(OLD, OLD_ID)
    world.calls.clear()
    result = refresh_standbys(SETTINGS, world)  # type: ignore[arg-type]
    assert world.calls[-2:] == [f"delete_cluster:{OLD_ID}", "delete_backup:backup-rotationaaaa"]
    assert [b["backup"] for b in result.backups_deleted] == ["backup-rotationaaaa"]
    assert not result.refused


def test_a_forged_rotation_backup_is_refused_and_alerted_not_deleted() -> None:
    forged = made(backup_id="backup-forgedaaaaaa", cluster_id=CLUSTER_ID, tags=tagged(CLUSTER_ID))
    world = World([warm(NEW, NEW_ID, west_hsm(n=8))], [forged])
    result = refresh_standbys(SETTINGS, world)  # type: ignore[arg-type]
    assert not [c for c in world.calls if c.startswith("delete_backup")]
    assert "backup-forgedaaaaaa" in result.refused[0] and "not deleted" in result.refused[0]


def test_no_backup_found_after_the_hsm_removal_is_refused_so_a_person_deletes_it() -> None:
    world = World([warm(OLD, OLD_ID, west_hsm(n=7)), warm(NEW, NEW_ID, west_hsm(n=8))])
    world.backup_on_removal = False
    result = refresh_standbys(SETTINGS, world)  # type: ignore[arg-type]
    assert result.hsms_deleted and not result.backups_tagged
    assert "not found alone right after DeleteHsm" in result.refused[0]


def test_a_degraded_hsm_of_an_old_standby_makes_no_backup_and_none_is_looked_for() -> None:
    world = World([warm(OLD, OLD_ID, west_hsm("DEGRADED", n=7)), warm(NEW, NEW_ID, west_hsm(n=8))])
    world.backup_on_removal = False
    result = refresh_standbys(SETTINGS, world)  # type: ignore[arg-type]
    assert result.hsms_deleted and not result.refused
    assert f"iter_backups:{OLD_ID}" not in world.calls
