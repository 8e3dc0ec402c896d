"""Copy decisions: missing copies, copy states, the pruning rule and what it must never
delete, golden backups, retention drift. Pure functions, no AWS."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from lambdas.shared.copies import (
    GOLDEN_KEY,
    CopyAction,
    CopyState,
    PruneRule,
    RetentionStatus,
    check_retention,
    classify_copy,
    copy_freshness_limit,
    copy_is_missing,
    copy_tags,
    decide_copy,
    deletion_blocker,
    region_copy_status,
)
from lambdas.shared.golden import GoldenAction, decide_golden, period_key
from lambdas.shared.models import Backup
from tests.lambdas.factories import CLUSTER_ID, NOW, backup

OTHER_CLUSTER = "cluster-otherclustr2"
DEPLOYMENT = "hsmdr-test"
STUCK_AFTER = timedelta(hours=4)
_counter = iter(range(10_000))


def source(age: timedelta = timedelta(hours=2), cluster: str = CLUSTER_ID, **kw: Any) -> Backup:
    n = next(_counter)
    return backup(age, backup_id=f"backup-src{n:08d}", cluster_id=cluster, **kw)


def copy_of(
    src: Backup,
    state: str = "READY",
    *,
    copied_ago: timedelta | None = None,
    tags: dict[str, str] | None = None,
    **kw: Any,
) -> Backup:
    """A copy in us-west-2, tagged as the copy job tags it unless `tags` says otherwise."""
    n = next(_counter)
    assert src.create_timestamp is not None
    copied = NOW - copied_ago if copied_ago is not None else src.create_timestamp
    return Backup(
        backup_id=f"backup-cpy{n:08d}",
        state=state,
        create_timestamp=src.create_timestamp,
        copy_timestamp=copied,
        source_region="us-east-1",
        source_backup=src.backup_id,
        source_cluster=src.cluster_id,
        tags=copy_tags(DEPLOYMENT, src) if tags is None else tags,
        **kw,
    )


def daily_copies(days: int, cluster: str = CLUSTER_ID) -> list[Backup]:
    """One READY copy per day, the newest 1 hour old."""
    return [copy_of(source(timedelta(days=d, hours=1), cluster)) for d in range(days)]


def rule(
    keep_newest: int = 7, keep_days: int = 35, clusters: tuple[str, ...] = (CLUSTER_ID,)
) -> PruneRule:
    return PruneRule(keep_newest, keep_days, frozenset(clusters), DEPLOYMENT)


def deleted_ids(decisions: list[Any]) -> set[str]:
    return {d.backup.backup_id for d in decisions if d.delete}


# Missing copies ------------------------------------------------------------------------


def test_newest_backup_without_any_copy_is_copied() -> None:
    latest = source()
    older_copy = copy_of(source(timedelta(days=1)))
    decision = decide_copy("us-west-2", latest, [older_copy])
    assert decision.action is CopyAction.COPY
    assert latest.backup_id in decision.reason and "us-west-2" in decision.reason


def test_a_ready_or_in_progress_copy_of_the_newest_backup_means_no_new_copy() -> None:
    latest = source()
    ready = decide_copy("us-west-2", latest, [copy_of(latest)])
    making = decide_copy("us-west-2", latest, [copy_of(latest, "CREATE_IN_PROGRESS")])
    assert ready.action is CopyAction.EXISTS
    assert making.action is CopyAction.IN_PROGRESS


def test_a_failed_copy_does_not_count_and_is_made_again() -> None:
    latest = source()
    failed = copy_of(latest, "DELETED")
    decision = decide_copy("us-west-2", latest, [failed])
    assert decision.action is CopyAction.COPY
    assert f"earlier copy {failed.backup_id} ended DELETED" in decision.reason


def test_no_ready_backup_means_nothing_to_copy() -> None:
    decision = decide_copy("us-west-2", None, [])
    assert decision.action is CopyAction.NO_SOURCE
    assert decision.reason == "the cluster has no READY backup to copy"


# Copy states ---------------------------------------------------------------------------


def test_stuck_is_measured_from_the_copy_start_not_the_source_creation() -> None:
    # Given a copy of a 3-day-old backup that started 10 minutes ago
    old = source(timedelta(days=3))
    fresh_copy = copy_of(old, "CREATE_IN_PROGRESS", copied_ago=timedelta(minutes=10))
    long_copy = copy_of(old, "CREATE_IN_PROGRESS", copied_ago=timedelta(hours=5))
    # Then only the one running for 5 hours is stuck
    assert classify_copy(fresh_copy, NOW, STUCK_AFTER) is CopyState.IN_PROGRESS
    assert classify_copy(long_copy, NOW, STUCK_AFTER) is CopyState.STUCK
    assert classify_copy(copy_of(old, "DELETED"), NOW, STUCK_AFTER) is CopyState.FAILED
    assert classify_copy(copy_of(old), NOW, STUCK_AFTER) is CopyState.READY


def test_a_failed_copy_stops_counting_once_a_newer_copy_is_ready() -> None:
    yesterday, today = source(timedelta(days=1)), source(timedelta(hours=1))
    failed = copy_of(yesterday, "DELETED")
    alone = region_copy_status(CLUSTER_ID, "us-west-2", [failed], NOW, STUCK_AFTER)
    superseded = region_copy_status(
        CLUSTER_ID, "us-west-2", [failed, copy_of(today)], NOW, STUCK_AFTER
    )
    assert alone.failed == (failed,)
    assert superseded.failed == ()


def test_copies_of_other_clusters_are_not_counted() -> None:
    mine, theirs = copy_of(source(timedelta(days=2))), copy_of(source(cluster=OTHER_CLUSTER))
    status = region_copy_status(CLUSTER_ID, "us-west-2", [mine, theirs], NOW, STUCK_AFTER)
    assert status.newest_ready == mine


def test_a_copy_is_missing_when_the_newest_ready_one_is_older_than_rpo_plus_interval() -> None:
    limit = copy_freshness_limit(timedelta(hours=24), timedelta(hours=24), STUCK_AFTER)
    assert limit == timedelta(hours=52)
    fresh = region_copy_status(
        CLUSTER_ID, "us-west-2", [copy_of(source(timedelta(hours=51)))], NOW, STUCK_AFTER
    )
    stale = region_copy_status(
        CLUSTER_ID, "us-west-2", [copy_of(source(timedelta(hours=53)))], NOW, STUCK_AFTER
    )
    none = region_copy_status(CLUSTER_ID, "us-west-2", [], NOW, STUCK_AFTER)
    assert not copy_is_missing(fresh, NOW, limit)
    assert copy_is_missing(stale, NOW, limit)
    assert copy_is_missing(none, NOW, limit)


# Pruning: what the rule deletes --------------------------------------------------------


def test_pruning_keeps_every_copy_younger_than_keep_days_and_deletes_the_rest() -> None:
    # Given 20 daily copies, newest 1 hour old; keep 3 newest and 7 days
    copies = daily_copies(20)
    decisions = rule(keep_newest=3, keep_days=7).decide(copies, NOW)
    # Then the 7 younger than 7 days stay and the 13 older go, each with a reason
    assert deleted_ids(decisions) == {c.backup_id for c in copies[7:]}
    assert all(d.reason for d in decisions)
    deleted = next(d for d in decisions if d.delete)
    assert "older than 7 days and not among the newest 3 READY copies" in deleted.reason


def test_pruning_keeps_the_newest_n_even_when_they_are_old() -> None:
    copies = daily_copies(20)
    decisions = rule(keep_newest=10, keep_days=3).decide(copies, NOW)
    assert deleted_ids(decisions) == {c.backup_id for c in copies[10:]}


def test_each_source_cluster_is_pruned_on_its_own() -> None:
    mine, theirs = daily_copies(5), daily_copies(5, OTHER_CLUSTER)
    decisions = rule(keep_newest=2, keep_days=0, clusters=(CLUSTER_ID, OTHER_CLUSTER)).decide(
        mine + theirs, NOW
    )
    assert deleted_ids(decisions) == {c.backup_id for c in mine[2:] + theirs[2:]}


# Pruning: what it must never delete ----------------------------------------------------


def old_copy(**changes: Any) -> list[Backup]:
    """Three copies; the oldest (60 days) is past the rule, then changed by `changes`."""
    copies = [copy_of(source(timedelta(days=d))) for d in (1, 2, 60)]
    copies[2] = replace(copies[2], **changes)
    return copies


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"tags": {}}, "not tagged managed-by=cloudhsm-dr"),
        ({"never_expires": True}, "NeverExpires is set"),
        ({"state": "CREATE_IN_PROGRESS"}, "not READY (CREATE_IN_PROGRESS)"),
        ({"state": "PENDING_DELETION"}, "not READY (PENDING_DELETION)"),
        ({"tags": {"managed-by": "cloudhsm-dr"}}, "hsmdr:source-cluster is missing"),
    ],
)
def test_pruning_never_deletes_a_protected_copy(changes: dict[str, Any], reason: str) -> None:
    # Given a copy the rule would prune, but protected
    copies = old_copy(**changes)
    # When the rule runs with the tightest settings
    decisions = rule(keep_newest=1, keep_days=0).decide(copies, NOW)
    # Then it is kept, and the reason says why
    verdict = next(d for d in decisions if d.backup.backup_id == copies[2].backup_id)
    assert not verdict.delete
    assert reason in verdict.reason
    # while an unprotected copy past the rule is deleted, so the rule did apply
    assert deleted_ids(decisions) == {copies[1].backup_id}


def test_pruning_never_deletes_copies_of_a_cluster_missing_from_the_config() -> None:
    copies = daily_copies(10, OTHER_CLUSTER)
    decisions = rule(keep_newest=1, keep_days=0, clusters=(CLUSTER_ID,)).decide(copies, NOW)
    assert deleted_ids(decisions) == set()
    assert "not in this deployment's config" in decisions[-1].reason


def test_pruning_never_deletes_a_copy_whose_tags_disagree_with_it() -> None:
    copies = daily_copies(3)
    lying = dict(copies[2].tags, **{"hsmdr:source-backup": "backup-someotherone"})
    copies[2] = replace(copies[2], tags=lying)
    decisions = rule(keep_newest=1, keep_days=0).decide(copies, NOW)
    assert copies[2].backup_id not in deleted_ids(decisions)


def test_pruning_never_deletes_another_deployments_copy() -> None:
    copies = daily_copies(3)
    copies[2] = replace(copies[2], tags=dict(copies[2].tags, **{"hsmdr:deployment": "other"}))
    decisions = rule(keep_newest=1, keep_days=0).decide(copies, NOW)
    verdict = next(d for d in decisions if d.backup.backup_id == copies[2].backup_id)
    assert not verdict.delete and "made by another deployment (other)" in verdict.reason


def test_pruning_never_deletes_the_newest_ready_copy_whatever_the_numbers() -> None:
    # Given one old READY copy and a newer copy still in progress, and a rule keeping none
    ready = copy_of(source(timedelta(days=90)))
    making = copy_of(source(timedelta(hours=1)), "CREATE_IN_PROGRESS")
    decisions = rule(keep_newest=0, keep_days=0).decide([ready, making], NOW)
    # Then neither is deleted: the only READY copy is what a regional restore needs
    assert deleted_ids(decisions) == set()
    verdict = next(d for d in decisions if d.backup == ready)
    assert verdict.reason == f"the newest READY copy of {CLUSTER_ID} in this region"


def test_a_clusters_own_backup_is_never_a_deletion_candidate() -> None:
    own = source(timedelta(days=400))
    assert deletion_blocker(own, {}, {CLUSTER_ID}, DEPLOYMENT) is not None
    assert rule(keep_newest=0, keep_days=0).decide([own], NOW) == []


def test_a_tagged_ready_copy_of_a_protected_cluster_may_be_deleted() -> None:
    copy = copy_of(source(timedelta(days=90)))
    assert deletion_blocker(copy, copy.tags, {CLUSTER_ID}, DEPLOYMENT) is None


# Golden backups ------------------------------------------------------------------------


def test_period_keys_are_utc() -> None:
    late = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2)))  # 2027 in UTC
    assert period_key(late, "monthly") == "2027-01"
    assert period_key(late, "quarterly") == "2027-Q1"
    assert period_key(datetime(2026, 11, 26, tzinfo=UTC), "weekly") == "2026-W48"
    with pytest.raises(ValueError, match="period must be one of"):
        period_key(NOW, "yearly")


def monthly_backups(months: int) -> list[Backup]:
    """Three READY backups in each month, going back from NOW (2026-11-26)."""
    found = []
    for month in range(months):
        for day in (2, 12, 22):
            when = datetime(2026, 11 - month, day, 6, tzinfo=UTC)
            found.append(source(NOW - when))
    return found


def test_golden_marks_the_oldest_backup_of_each_of_the_newest_periods() -> None:
    backups = monthly_backups(5)
    decisions = decide_golden(backups, period="monthly", keep=3)
    marked = {d.period: d.backup for d in decisions if d.action is GoldenAction.MARK}
    assert sorted(marked) == ["2026-09", "2026-10", "2026-11"]
    assert all(b.create_timestamp and b.create_timestamp.day == 2 for b in marked.values())
    assert all("the oldest READY backup of" in d.reason for d in decisions)


def test_golden_keeps_what_it_marked_and_unmarks_only_its_own_older_ones() -> None:
    backups = monthly_backups(5)
    by_month = {
        b.create_timestamp.month: b
        for b in backups
        if b.create_timestamp and b.create_timestamp.day == 2
    }
    ours = {GOLDEN_KEY: "x"}
    backups = [
        replace(b, never_expires=True, tags=ours) if b in (by_month[11], by_month[7]) else b
        for b in backups
    ]
    # and someone else's NeverExpires in July, without our tag
    foreign = next(
        b
        for b in backups
        if b.create_timestamp and b.create_timestamp.month == 7 and b.create_timestamp.day == 12
    )
    backups = [replace(b, never_expires=True) if b == foreign else b for b in backups]
    decisions = decide_golden(backups, period="monthly", keep=3)
    actions = {(d.backup.backup_id, d.action) for d in decisions}
    assert (by_month[11].backup_id, GoldenAction.KEEP) in actions
    assert (by_month[7].backup_id, GoldenAction.UNMARK) in actions
    assert all(d.backup.backup_id != foreign.backup_id for d in decisions)  # never touched
    assert {d.period for d in decisions if d.action is GoldenAction.MARK} == {"2026-09", "2026-10"}


def test_a_period_protected_by_someone_elses_never_expires_gets_no_second_golden() -> None:
    backups = [
        replace(b, never_expires=True) if i == 1 else b for i, b in enumerate(monthly_backups(1))
    ]
    assert decide_golden(backups, period="monthly", keep=1) == []


def test_a_golden_backup_whose_never_expires_was_cleared_is_marked_again() -> None:
    [first, *rest] = sorted(monthly_backups(1), key=lambda b: b.create_timestamp or NOW)
    backups = [replace(first, tags={GOLDEN_KEY: "2026-11"}), *rest]
    [decision] = decide_golden(backups, period="monthly", keep=1)
    assert decision.action is GoldenAction.MARK and decision.backup.backup_id == first.backup_id
    assert "NeverExpires was cleared" in decision.reason


def test_golden_ignores_backups_that_are_not_ready() -> None:
    backups = [replace(b, state="PENDING_DELETION") for b in monthly_backups(2)]
    assert decide_golden(backups, period="monthly", keep=12) == []


# Retention policy ----------------------------------------------------------------------


def test_retention_drift_is_found_only_against_a_configured_value() -> None:
    assert check_retention(90, None, True).status is RetentionStatus.NOT_CONFIGURED
    assert check_retention(90, 90, True).status is RetentionStatus.OK
    assert check_retention(None, 30, False).status is RetentionStatus.UNKNOWN
    drift = check_retention(90, 30, True)
    assert drift.status is RetentionStatus.DRIFT
    assert drift.reason == "BackupRetentionPolicy is 90 days, the config wants 30 days"
