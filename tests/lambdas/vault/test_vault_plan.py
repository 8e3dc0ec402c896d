"""The vault's pure decisions: what to pull, the HSM step, pruning, missing copies, and
the verification's findings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lambdas.shared.models import Cluster
from lambdas.shared.vault_tags import DRILL_KEY as DRILL
from lambdas.vault.checks import (
    PRODUCTION_SILENT,
    VAULT_EMPTY,
    VAULT_HOLDS_HSM,
    VAULT_REFRESH_FAILED,
    VAULT_STALE,
    Execution,
    check_vault,
)
from lambdas.vault.plan import (
    CREATE,
    DISCARD,
    DONE,
    REMOVE,
    WAIT,
    TooManyDegradedHsms,
    backup_tags,
    created_tag,
    data_time,
    missing_copies,
    next_hsm_action,
    plan_prune,
    plan_refreshes,
)
from lambdas.vault.settings import VaultSettings
from tests.lambdas.factories import CLUSTER_ID, NOW, backup, hsm

DEPLOYMENT = "hsmdr-test"
PROD = "arn:aws:cloudhsm:us-east-1:123456789012:backup/"


def shared(n: int, hours: float, **overrides: Any) -> Any:
    return backup(
        age=timedelta(hours=hours),
        backup_id=f"backup-sharedaaaa{n}",
        backup_arn=f"{PROD}backup-sharedaaaa{n}",
        **overrides,
    )


def vaulted(n: int, hours: float, source: str = "x", created: str = "", **overrides: Any) -> Any:
    return backup(
        age=timedelta(hours=hours),
        backup_id=f"backup-vaultaaaaa{n}",
        cluster_id="cluster-vaultcluster1",
        tags=backup_tags(DEPLOYMENT, CLUSTER_ID, source, created),
        **overrides,
    )


def plan(shared_: list[Any], owned: list[Any]) -> list[str]:
    found = plan_refreshes(shared_, owned, deployment=DEPLOYMENT, cluster_ids=[CLUSTER_ID])
    return [r.shared_id for r in found]


def test_pulls_the_newest_shared_backup_into_an_empty_vault() -> None:
    assert plan([shared(1, 30), shared(2, 2)], []) == ["backup-sharedaaaa2"]


def test_pulls_only_what_is_newer_than_the_newest_vault_backup() -> None:
    assert plan([shared(1, 30)], [vaulted(1, 20)]) == []
    assert plan([shared(2, 2)], [vaulted(1, 20)]) == ["backup-sharedaaaa2"]


def test_never_pulls_a_shared_backup_twice_nor_a_foreign_or_unready_one() -> None:
    made = vaulted(1, 3, source=f"{PROD}backup-sharedaaaa2")
    assert plan([shared(2, 2)], [made]) == []
    assert plan([shared(3, 1, cluster_id="cluster-someoneelse1")], []) == []
    assert plan([shared(4, 1, state="CREATE_IN_PROGRESS")], []) == []
    # a backup without the vault's tags does not count as the vault's
    assert plan([shared(2, 2)], [backup(age=timedelta(hours=1), tags={})]) == ["backup-sharedaaaa2"]


@pytest.mark.parametrize(
    ("hsm_id", "status", "was_active", "attempts", "expected"),
    [
        (None, None, False, 0, CREATE),
        ("hsm-a", "CREATE_IN_PROGRESS", False, 1, WAIT),
        ("hsm-a", "DEGRADED", False, 1, DISCARD),
        ("hsm-a", "GONE", False, 1, CREATE),
        ("hsm-a", "ACTIVE", True, 1, REMOVE),
        ("hsm-a", "DELETE_IN_PROGRESS", True, 1, WAIT),
        ("hsm-a", "GONE", True, 1, DONE),
    ],
)
def test_hsm_step(
    hsm_id: str | None, status: str | None, was_active: bool, attempts: int, expected: str
) -> None:
    assert (
        next_hsm_action(
            hsm_id=hsm_id, status=status, was_active=was_active, attempts=attempts, max_attempts=3
        )
        == expected
    )


def test_gives_up_after_max_degraded_hsms() -> None:
    with pytest.raises(TooManyDegradedHsms):
        next_hsm_action(hsm_id="hsm-a", status="GONE", was_active=False, attempts=3, max_attempts=3)


def test_prune_keeps_the_newest_and_young_ones_and_never_foreign_backups() -> None:
    old = [vaulted(n, 24 * (40 + n)) for n in range(1, 5)]
    foreign = backup(age=timedelta(days=400), backup_id="backup-foreignaaaa", tags={})
    pinned = vaulted(9, 24 * 90, never_expires=True)
    decisions = plan_prune(
        [*old, foreign, pinned], deployment=DEPLOYMENT, keep_newest=2, keep_days=35, now=NOW
    )
    deleted = sorted(d.backup.backup_id for d in decisions if d.delete)
    assert deleted == ["backup-vaultaaaaa3", "backup-vaultaaaaa4"]
    # the newest is kept whatever the rule says
    alone = plan_prune([old[3]], deployment=DEPLOYMENT, keep_newest=1, keep_days=0, now=NOW)
    assert [d.delete for d in alone] == [False]


def test_a_drill_backup_is_neither_pruned_nor_held_as_the_newest_vault_backup() -> None:
    # Given a drill backup (hsmdr:drill, its teardown's tag) newer than every vault
    # backup, even carrying the vault's tags
    drill = backup(
        age=timedelta(hours=1),
        backup_id="backup-vaultaaaaa8",
        cluster_id="cluster-drillcluster1",
        tags={**backup_tags(DEPLOYMENT, CLUSTER_ID, "x"), DRILL: "exec-1"},
    )
    old = [vaulted(n, 24 * (40 + n)) for n in range(1, 4)]
    decisions = plan_prune(
        [drill, *old], deployment=DEPLOYMENT, keep_newest=1, keep_days=35, now=NOW
    )
    by_id = {d.backup.backup_id: d for d in decisions}
    # Then the prune leaves it alone (not the vault's) and still keeps the newest vault
    # backup as the newest, pruning the older ones as without it
    assert "backup-vaultaaaaa8" not in by_id
    assert by_id["backup-vaultaaaaa1"].delete is False
    assert sorted(b for b, d in by_id.items() if d.delete) == [
        "backup-vaultaaaaa2",
        "backup-vaultaaaaa3",
    ]
    # and the refresh does not take it as the vault's newest copy of the cluster
    assert plan([shared(1, 2)], [drill, old[0]]) == ["backup-sharedaaaa1"]


def test_missing_copies_name_the_newest_vault_backup_per_region() -> None:
    newest, older = vaulted(1, 2), vaulted(2, 30)
    there = backup(backup_id="backup-copyaaaaaaa", source_backup=newest.backup_id)
    assert missing_copies([newest, older], {"us-west-2": [], "eu-west-1": [there]},
                          deployment=DEPLOYMENT) == [(newest, "us-west-2")]  # fmt: skip


def findings(**overrides: Any) -> list[str]:
    values: dict[str, Any] = {
        "deployment": DEPLOYMENT,
        "cluster_ids": [CLUSTER_ID],
        "owned": [vaulted(1, 2)],
        "shared": [shared(1, 3)],
        "clusters": [],
        "executions": [Execution("run-1", "SUCCEEDED", NOW - timedelta(hours=3))],
        "rpo": timedelta(hours=48),
        "silent_after": timedelta(hours=48),
        "now": NOW,
    }
    values.update(overrides)
    return [f.code for f in check_vault(**values)]


def test_a_healthy_vault_has_no_findings() -> None:
    assert findings() == []


def test_each_finding() -> None:
    assert findings(owned=[]) == [VAULT_EMPTY]
    assert findings(owned=[vaulted(1, 60)]) == [VAULT_STALE]
    failed = Execution("run-2", "FAILED", NOW - timedelta(hours=1))
    assert findings(executions=[failed]) == [VAULT_REFRESH_FAILED]
    assert findings(shared=[shared(1, 60)]) == [PRODUCTION_SILENT]
    assert findings(shared=[]) == [PRODUCTION_SILENT]
    holding = Cluster(
        cluster_id="cluster-vaultcluster1",
        state="ACTIVE",
        hsm_type="hsm2m.medium",
        mode="FIPS",
        hsms=(hsm(),),
        tags=backup_tags(DEPLOYMENT, CLUSTER_ID, "x"),
    )
    assert findings(clusters=[holding]) == [VAULT_HOLDS_HSM]
    running = Execution("run-3", "RUNNING", NOW)
    assert findings(clusters=[holding], executions=[running]) == []


def test_a_failure_before_the_last_success_is_history() -> None:
    old_failure = Execution("run-1", "FAILED", NOW - timedelta(hours=5))
    success = Execution("run-2", "SUCCEEDED", NOW - timedelta(hours=2))
    assert findings(executions=[old_failure, success]) == []


def test_settings_round_trip() -> None:
    settings = VaultSettings(DEPLOYMENT, "us-east-1", (CLUSTER_ID,), ("subnet-0a1b2c3d",),
                             dr_regions=("us-west-2",))  # fmt: skip
    assert VaultSettings.from_env(settings.to_env()) == settings


def test_the_vault_is_as_old_as_the_production_backup_it_holds() -> None:
    # A vault backup the refresh made an hour ago from a production backup 60 h old
    old_data = vaulted(1, 1, created=created_tag(NOW - timedelta(hours=60)))
    assert data_time(old_data) == NOW - timedelta(hours=60)
    assert findings(owned=[old_data]) == [VAULT_STALE]
    # Without the tag (made before it existed) its own CreateTimestamp is all there is
    assert data_time(vaulted(1, 1)) == NOW - timedelta(hours=1)
    assert findings(owned=[vaulted(1, 1)]) == []


def test_a_production_backup_made_during_the_last_refresh_is_pulled() -> None:
    # The vault backup (made 1 h ago) holds a production backup 5 h old; production's
    # newest (3 h old) is older than the vault backup itself, newer than its data
    made = vaulted(1, 1, created=created_tag(NOW - timedelta(hours=5)))
    [refresh] = plan_refreshes(
        [shared(2, 3)], [made], deployment=DEPLOYMENT, cluster_ids=[CLUSTER_ID]
    )
    assert refresh.shared_id == "backup-sharedaaaa2"
    assert refresh.to_dict()["shared_created"] == created_tag(NOW - timedelta(hours=3))
