"""The copy job's orchestration against a fake gateway: what it calls, in which order,
and what it refuses to do when the account changed under it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from lambdas.backups.copy_job import run_copy_job
from lambdas.shared.copies import copy_tags
from lambdas.shared.errors import CloudHsmAccessDenied
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import Backup
from lambdas.shared.settings import BackupSettings, VerificationSettings
from tests.lambdas.factories import CLUSTER_ID, NOW, backup, cluster, spec

DEPLOYMENT = "hsmdr-test"
SETTINGS = VerificationSettings(
    DEPLOYMENT, (spec(),), rpo_hours=24, backup_in_progress_max_minutes=60
)
BACKUPS = BackupSettings(
    dr_regions=("us-west-2", "eu-west-1"), copy_keep_newest=1, copy_keep_days=0
)
WRITES = {"copy_backup_to_region", "delete_backup", "set_never_expires", "tag_resource",
          "untag_resource", "set_retention_days"}  # fmt: skip


class FakeGateway:
    """One region of a fake account: the backups it holds and every call made."""

    def __init__(
        self, region: str, backups: Sequence[Backup] = (), calls: list[str] | None = None
    ) -> None:
        self.region = region
        self.backups = list(backups)
        self.tags_now: dict[str, dict[str, str]] = {}  # ListTags answers, if they changed
        self.calls = [] if calls is None else calls
        self.fail: set[str] = set()

    def _call(self, name: str) -> None:
        self.calls.append(f"{self.region}:{name}")
        if name in self.fail:
            raise CloudHsmAccessDenied(f"{name} denied")

    def find_clusters(self, ids: Sequence[str]) -> dict[str, Any]:
        self._call("find_clusters")
        return {CLUSTER_ID: cluster(retention_days=90)} if self.region == "us-east-1" else {}

    def latest_backup(self, cluster_id: str, state: str) -> Backup | None:
        self._call("latest_backup")
        mine = [b for b in self.backups if b.cluster_id == cluster_id and b.state == state]
        return max(mine, key=lambda b: b.create_timestamp or NOW, default=None)

    def iter_backups(
        self, *, source_backup_ids: Sequence[str] | None = None, **_: Any
    ) -> Iterator[Backup]:
        self._call("iter_backups")
        for b in list(self.backups):
            if source_backup_ids is None or b.source_backup in source_backup_ids:
                yield b

    def list_tags(self, backup_id: str) -> dict[str, str]:
        self._call("list_tags")
        found = next(b for b in self.backups if b.backup_id == backup_id)
        return self.tags_now.get(backup_id, dict(found.tags))

    def delete_backup(self, backup_id: str) -> Backup:
        self._call("delete_backup")
        found = next(b for b in self.backups if b.backup_id == backup_id)
        return replace(found, state="PENDING_DELETION")

    def copy_backup_to_region(
        self, backup_id: str, region: str, tags: dict[str, str]
    ) -> dict[str, Any]:
        self._call("copy_backup_to_region")
        return {"SourceBackup": backup_id}

    def tag_resource(self, backup_id: str, tags: dict[str, str]) -> None:
        self._call("tag_resource")

    def untag_resource(self, backup_id: str, keys: Sequence[str]) -> None:
        self._call("untag_resource")

    def set_never_expires(self, backup_id: str, never_expires: bool) -> Backup:
        self._call(f"set_never_expires={never_expires}")
        found = next(b for b in self.backups if b.backup_id == backup_id)
        return replace(found, never_expires=never_expires)

    def set_retention_days(self, cluster_id: str, days: int) -> Any:
        self._call("set_retention_days")
        return cluster(retention_days=days)


def account(dr_copies: dict[str, list[Backup]]) -> tuple[dict[str, FakeGateway], list[str]]:
    calls: list[str] = []
    home = FakeGateway("us-east-1", [SOURCE], calls)
    gateways = {"us-east-1": home}
    for region in BACKUPS.dr_regions:
        gateways[region] = FakeGateway(region, dr_copies.get(region, []), calls)
    return gateways, calls


SOURCE = backup(timedelta(hours=2), backup_id="backup-newestsrc01")


def copy(age_days: int, n: int) -> Backup:
    src = backup(timedelta(days=age_days), backup_id=f"backup-oldsource{n:02d}")
    return Backup(
        backup_id=f"backup-copyofold{n:02d}",
        state="READY",
        create_timestamp=src.create_timestamp,
        source_backup=src.backup_id,
        source_cluster=CLUSTER_ID,
        source_region="us-east-1",
        tags=copy_tags(DEPLOYMENT, src),
    )


def newest_copy() -> Backup:
    return replace(
        copy(0, 99),
        source_backup=SOURCE.backup_id,
        create_timestamp=SOURCE.create_timestamp,
        tags=copy_tags(DEPLOYMENT, SOURCE),
    )


def run(
    gateways: dict[str, FakeGateway],
    settings: VerificationSettings = SETTINGS,
    backups: BackupSettings = BACKUPS,
    **kw: Any,
) -> Any:
    def gateway_for(region: str) -> CloudHsmGateway:
        return gateways[region]  # type: ignore[return-value]

    return run_copy_job(settings, backups, gateway_for, now=NOW, **kw)


def test_tags_are_read_again_right_before_each_delete_and_a_change_stops_it() -> None:
    # Given two old copies the rule prunes, one of which lost its tag since the listing
    old_a, old_b = copy(40, 1), copy(50, 2)
    gateways, calls = account(
        {"us-west-2": [newest_copy(), old_a, old_b], "eu-west-1": [newest_copy()]}
    )
    gateways["us-west-2"].tags_now[old_b.backup_id] = {}
    # When the job runs
    report = run(gateways)
    # Then each delete was preceded by ListTags, and only the still-tagged copy went
    [cluster_result] = report.clusters
    assert [p["backup_id"] for p in cluster_result.pruned] == [old_a.backup_id]
    assert cluster_result.pruned[0]["state"] == "PENDING_DELETION"
    kept = next(k for k in cluster_result.kept if k["backup_id"] == old_b.backup_id)
    assert kept["reason"].startswith("tags re-read before deleting: not tagged managed-by")
    deletes = [i for i, c in enumerate(calls) if c == "us-west-2:delete_backup"]
    assert deletes and all(calls[i - 1] == "us-west-2:list_tags" for i in deletes)


def test_a_dry_run_decides_everything_and_calls_no_write_operation() -> None:
    gateways, calls = account({"us-west-2": [newest_copy(), copy(40, 1)]})
    report = run(gateways, dry_run=True)
    assert {c.split(":")[1] for c in calls} & WRITES == set()
    [cluster_result] = report.clusters
    assert [p["backup_id"] for p in cluster_result.pruned] == ["backup-copyofold01"]
    assert cluster_result.pruned[0]["dry_run"] is True
    eu = next(r for r in cluster_result.regions if r.region == "eu-west-1")
    assert eu.created == [{"source_backup": SOURCE.backup_id, "backup_id": None}]


def test_a_failing_region_is_a_finding_and_the_other_region_still_runs() -> None:
    # Given CopyBackupToRegion is denied (say, an SCP on one region pair)
    gateways, calls = account({})
    gateways["us-east-1"].fail.add("copy_backup_to_region")
    report = run(gateways)
    codes = [f.code.value for f in report.findings]
    assert codes == ["COPY_JOB_ERROR", "COPY_JOB_ERROR"]
    assert "could not copy backup-newestsrc01 to us-west-2" in report.findings[0].message
    assert calls.count("us-east-1:copy_backup_to_region") == 2  # both regions were tried
    assert report.status == "FAILED"


def test_retention_drift_is_a_finding_unless_enforced_then_corrected() -> None:
    # Given the cluster keeps backups 90 days and the config wants 30
    wanting_30 = replace(SETTINGS, clusters=(spec(retention_days=30),))
    gateways, calls = account({"us-west-2": [newest_copy()], "eu-west-1": [newest_copy()]})
    drift = run(gateways, wanting_30)
    assert [f.code.value for f in drift.findings] == ["RETENTION_DRIFT"]
    assert "--backup-retention-policy Type=DAYS,Value=30" in drift.findings[0].next_step
    assert "us-east-1:set_retention_days" not in calls
    # When enforce_retention is on, Then it is corrected and no longer a finding
    enforced = run(gateways, wanting_30, replace(BACKUPS, enforce_retention=True))
    assert enforced.findings == ()
    assert enforced.clusters[0].retention.status.value == "corrected"
    assert "us-east-1:set_retention_days" in calls


def test_golden_marking_tags_before_setting_never_expires() -> None:
    # Given golden backups are on and the cluster's region holds one READY backup
    gateways, calls = account({"us-west-2": [newest_copy()], "eu-west-1": [newest_copy()]})
    report = run(gateways, backups=replace(BACKUPS, golden_enabled=True, golden_keep=1))
    marked = report.clusters[0].golden_marked
    assert {m["region"] for m in marked} == {"us-east-1", "us-west-2", "eu-west-1"}
    home = [c for c in calls if c.startswith("us-east-1:") and ("tag" in c or "never" in c)]
    # the tag says the flag is ours before the flag exists: a failure in between heals
    assert home == ["us-east-1:tag_resource", "us-east-1:set_never_expires=True"]


def test_golden_marking_that_fails_halfway_is_a_finding_and_not_reported_as_marked() -> None:
    gateways, _ = account({})
    gateways["us-east-1"].fail.add("set_never_expires=True")
    report = run(gateways, backups=replace(BACKUPS, golden_enabled=True, dr_regions=()))
    assert report.clusters[0].golden_marked == []
    [finding] = report.findings
    assert "could not set NeverExpires on golden backup" in finding.message
