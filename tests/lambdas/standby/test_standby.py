"""Pilot-light standbys: the refresher's plan and run against a fake gateway, the
restore's choice of posture, and what verification calls a problem."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from lambdas.shared.models import Backup, Cluster
from lambdas.shared.standby import (
    STANDBY_OF_KEY,
    choose_posture,
    plan_refresh,
    standby_problems,
    standby_tags,
)
from lambdas.standby.refresh import refresh_standbys
from lambdas.standby.settings import StandbySettings
from tests.lambdas.factories import CLUSTER_ID, NOW, backup, hsm

DEPLOYMENT = "hsmdr-test"
REGION = "us-west-2"
RPO = timedelta(hours=24)
OLD = backup(age=timedelta(hours=30), backup_id="backup-oldcopyaaaaa", source_backup="backup-x",
             source_cluster=CLUSTER_ID, cluster_id="")  # fmt: skip
NEW = backup(age=timedelta(hours=2), backup_id="backup-newcopyaaaaa", source_backup="backup-y",
             source_cluster=CLUSTER_ID, cluster_id="")  # fmt: skip


def standby(copy: Backup, cluster_id: str, state: str = "ACTIVE", **overrides: Any) -> Cluster:
    values: dict[str, Any] = {
        "cluster_id": cluster_id,
        "state": state,
        "hsm_type": "hsm2m.medium",
        "mode": "FIPS",
        "source_backup_id": copy.backup_id,
        "tags": standby_tags(DEPLOYMENT, CLUSTER_ID, copy),
    }
    values.update(overrides)
    return Cluster(**values)


def stranger(n: int) -> Cluster:
    return Cluster(cluster_id=f"cluster-strangeraaa{n}", state="ACTIVE", hsm_type="", mode="")


def plan(clusters: Sequence[Cluster], copies: Sequence[Backup] = (OLD, NEW), quota: int = 4):
    return plan_refresh(
        deployment=DEPLOYMENT,
        cluster_id=CLUSTER_ID,
        region=REGION,
        clusters=clusters,
        copies=copies,
        clusters_quota=quota,
    )


def test_no_standby_creates_one_from_the_newest_ready_copy() -> None:
    failed = backup(age=timedelta(hours=1), state="DELETED", backup_id="backup-failedcopyaa",
                    source_backup="backup-z", source_cluster=CLUSTER_ID)  # fmt: skip
    result = plan([], copies=(OLD, NEW, failed))
    assert result.create_from == NEW.backup_id
    assert result.delete == ()


def test_a_newer_copy_creates_a_new_standby_and_keeps_the_old_until_it_is_active() -> None:
    old = standby(OLD, "cluster-standbyoldaa")
    assert plan([old]).create_from == NEW.backup_id
    creating = standby(NEW, "cluster-standbynewaa", state="CREATE_IN_PROGRESS")
    waiting = plan([old, creating])
    assert (waiting.create_from, waiting.delete) == (None, ())
    ready = plan([old, replace(creating, state="ACTIVE")])
    assert ready.delete == ("cluster-standbyoldaa",)
    assert ready.current == "cluster-standbynewaa"


def test_the_quota_counts_every_cluster_in_the_region() -> None:
    full = [stranger(n) for n in range(4)]
    result = plan(full, quota=4)
    assert result.create_from is None
    assert "quota of 4" in result.refusals[0]
    gone = [*full[:3], replace(full[3], state="DELETED")]
    assert plan(gone, quota=4).create_from == NEW.backup_id


def test_only_its_own_standbys_are_deleted() -> None:
    other_deployment = standby(OLD, "cluster-otherdeplaa", tags={
        **standby_tags("someone-else", CLUSTER_ID, OLD)})  # fmt: skip
    untagged = replace(stranger(1), source_backup_id=OLD.backup_id)
    with_hsm = standby(OLD, "cluster-standbyhsmaa", hsms=(hsm(),))
    current = standby(NEW, "cluster-standbynewaa")
    result = plan([other_deployment, untagged, with_hsm, current])
    assert result.delete == ()
    assert "holds 1 HSM" in result.notes[0]


def test_no_ready_copy_creates_nothing() -> None:
    result = plan([], copies=())
    assert result.create_from is None
    assert "no READY copy" in result.notes[0]


class FakeGateway:
    def __init__(self, clusters: Sequence[Cluster], backups: Sequence[Backup]) -> None:
        self.clusters = list(clusters)
        self.backups = list(backups)
        self.tags_now: dict[str, dict[str, str]] = {}
        self.calls: list[str] = []

    def describe_clusters(self) -> list[Cluster]:
        self.calls.append("describe_clusters")
        return list(self.clusters)

    def iter_backups(self, **_: Any) -> Iterator[Backup]:
        self.calls.append("iter_backups")
        yield from self.backups

    def create_cluster(self, **kwargs: Any) -> Cluster:
        self.calls.append(f"create_cluster:{kwargs['source_backup_id']}")
        assert set(kwargs["tags"]) <= set(standby_tags(DEPLOYMENT, CLUSTER_ID, NEW))
        return Cluster(
            cluster_id="cluster-createdaaaaa",
            state="CREATE_IN_PROGRESS",
            hsm_type=kwargs["hsm_type"],
            mode=kwargs["mode"],
            source_backup_id=kwargs["source_backup_id"],
            tags=kwargs["tags"],
        )

    def list_tags(self, resource_id: str) -> dict[str, str]:
        self.calls.append(f"list_tags:{resource_id}")
        found = next(c for c in self.clusters if c.cluster_id == resource_id)
        return self.tags_now.get(resource_id, dict(found.tags))

    def delete_cluster(self, cluster_id: str) -> None:
        self.calls.append(f"delete_cluster:{cluster_id}")


SETTINGS = StandbySettings(DEPLOYMENT, REGION, (CLUSTER_ID,), ("subnet-0123456789abcdef0",))


def test_refresh_creates_with_no_hsm_and_counts_its_calls() -> None:
    gateway = FakeGateway([], [OLD, NEW])
    result = refresh_standbys(SETTINGS, gateway)  # type: ignore[arg-type]
    assert gateway.calls == ["describe_clusters", "iter_backups", f"create_cluster:{NEW.backup_id}"]
    assert result.created[0]["standby"] == "cluster-createdaaaaa"
    assert result.api_calls == 3
    assert not any(c.startswith("create_hsm") for c in gateway.calls)


def test_refresh_reads_the_tags_again_before_deleting() -> None:
    old = standby(OLD, "cluster-standbyoldaa")
    gateway = FakeGateway([old, standby(NEW, "cluster-standbynewaa")], [OLD, NEW])
    gateway.tags_now["cluster-standbyoldaa"] = {
        k: v for k, v in old.tags.items() if k != STANDBY_OF_KEY
    }
    result = refresh_standbys(SETTINGS, gateway)  # type: ignore[arg-type]
    assert "delete_cluster:cluster-standbyoldaa" not in gateway.calls
    assert "no longer say" in result.refused[0]
    del gateway.tags_now["cluster-standbyoldaa"]
    result = refresh_standbys(SETTINGS, gateway)  # type: ignore[arg-type]
    assert result.deleted == ["cluster-standbyoldaa"]


def test_settings_round_trip_through_the_environment() -> None:
    assert StandbySettings.from_env(SETTINGS.to_env()) == SETTINGS


@pytest.mark.parametrize(
    ("configured", "standbys", "posture", "words"),
    [
        ("cold", [standby(NEW, "cluster-standbynewaa")], "cold", "configured posture is cold"),
        ("pilot-light", [], "cold", "no standby found"),
        ("pilot-light", [standby(OLD, "cluster-standbyoldaa")], "cold", "older than the RPO"),
        ("pilot-light", [standby(NEW, "cluster-standbynewaa", hsms=(hsm(),))], "cold",
         "no ACTIVE standby without HSMs"),
        ("pilot-light", [standby(NEW, "cluster-standbynewaa", state="CREATE_IN_PROGRESS")],
         "cold", "no ACTIVE standby"),
        ("pilot-light", [standby(OLD, "cluster-standbyoldaa"),
                         standby(NEW, "cluster-standbynewaa")], "pilot-light",
         "adopted standby cluster-standbynewaa"),
    ],
)  # fmt: skip
def test_the_restore_adopts_a_standby_within_the_rpo_or_says_why_not(
    configured: str, standbys: list[Cluster], posture: str, words: str
) -> None:
    choice = choose_posture(configured=configured, standbys=standbys, now=NOW, rpo=RPO)
    assert choice.posture == posture
    assert words in choice.reason


def test_a_requested_backup_other_than_the_standbys_restores_cold() -> None:
    choice = choose_posture(
        configured="pilot-light",
        standbys=[standby(NEW, "cluster-standbynewaa")],
        now=NOW,
        rpo=RPO,
        requested_backup=OLD.backup_id,
    )
    assert choice.posture == "cold"
    assert OLD.backup_id in choice.reason


def problems(clusters: Sequence[Cluster]) -> list[str]:
    found = standby_problems(
        deployment=DEPLOYMENT, cluster_id=CLUSTER_ID, region=REGION, clusters=clusters,
        now=NOW, rpo=RPO,
    )  # fmt: skip
    return sorted(p.kind for p in found)


def test_verification_problems_missing_stale_and_holding_an_hsm() -> None:
    assert problems([]) == ["missing"]
    assert problems([standby(NEW, "cluster-standbynewaa", state="CREATE_IN_PROGRESS")]) == [
        "missing"
    ]
    assert problems([standby(OLD, "cluster-standbyoldaa")]) == ["stale"]
    assert problems([standby(NEW, "cluster-standbynewaa", hsms=(hsm(),))]) == ["holds-hsm"]
    assert problems([standby(NEW, "cluster-standbynewaa")]) == []


class RegionGateway:
    """run_verification's view of one region: the protected cluster's, or a DR one."""

    def __init__(self, clusters: Sequence[Cluster], backups: Sequence[Backup]) -> None:
        self.clusters, self.backups = list(clusters), list(backups)
        self.describes = 0

    def find_clusters(self, ids: Sequence[str]) -> dict[str, Cluster]:
        return {c.cluster_id: c for c in self.clusters if c.cluster_id in ids}

    def describe_clusters(self) -> list[Cluster]:
        self.describes += 1
        return list(self.clusters)

    def iter_backups(self, **_: Any) -> Iterator[Backup]:
        yield from self.backups

    def latest_backup(self, cluster_id: str, state: str) -> Backup | None:
        return backup(age=timedelta(hours=1))


@pytest.mark.parametrize(
    ("standbys", "codes"),
    [
        ([], ["STANDBY_MISSING"]),
        ([standby(OLD, "cluster-standbyoldaa")], ["STANDBY_STALE"]),
        ([standby(NEW, "cluster-standbynewaa", hsms=(hsm(),))], ["STANDBY_HOLDS_HSM"]),
        ([standby(NEW, "cluster-standbynewaa")], []),
    ],
)
def test_verification_reports_the_standby_of_a_pilot_light_cluster(
    standbys: list[Cluster], codes: list[str]
) -> None:
    from lambdas.shared.settings import BackupSettings, VerificationSettings
    from lambdas.verification.run import run_verification
    from tests.lambdas.factories import cluster, spec

    protected = spec(dr_posture={REGION: "pilot-light"})
    settings = VerificationSettings(DEPLOYMENT, (protected,), 24, 60)
    regions = {
        "us-east-1": RegionGateway([cluster()], []),
        REGION: RegionGateway(standbys, [OLD, NEW]),
    }
    report = run_verification(
        settings, regions.__getitem__, now=NOW, backups=BackupSettings(dr_regions=(REGION,))
    )  # type: ignore[arg-type]
    found = [f.code.value for f in report.findings if f.code.value.startswith("STANDBY")]
    assert found == codes
    assert regions[REGION].describes == 1
    cold = VerificationSettings(DEPLOYMENT, (spec(),), 24, 60)
    report = run_verification(
        cold, regions.__getitem__, now=NOW, backups=BackupSettings(dr_regions=(REGION,))
    )  # type: ignore[arg-type]
    assert not [f for f in report.findings if f.code.value.startswith("STANDBY")]
    assert regions[REGION].describes == 1  # a cold posture reads no clusters there


def test_the_restore_report_says_which_posture_and_why() -> None:
    from lambdas.restore.report import posture_fields, posture_line

    plan = {
        "posture": "pilot-light",
        "posture_reason": "adopted standby x",
        "standby_cluster_id": "x",
    }
    assert posture_fields(plan) == {
        "posture": "pilot-light",
        "posture_reason": "adopted standby x",
        "standby_cluster_id": "x",
    }
    assert posture_line(plan) == "Posture: pilot-light: adopted standby x."
    # A job planned before postures existed reads as cold.
    assert posture_fields({})["posture"] == "cold"


def test_the_restore_id_tag_is_what_makes_a_standby_adopted() -> None:
    from lambdas.restore.tags import RESTORE_ID_KEY, identity_tags
    from lambdas.shared.standby import is_standby_of

    tags = standby_tags(DEPLOYMENT, CLUSTER_ID, NEW)
    assert is_standby_of(tags, DEPLOYMENT, CLUSTER_ID)
    adopted = {**tags, **identity_tags(DEPLOYMENT, "incident-42")}
    assert RESTORE_ID_KEY in adopted and not is_standby_of(adopted, DEPLOYMENT, CLUSTER_ID)
