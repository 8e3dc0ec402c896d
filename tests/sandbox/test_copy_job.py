"""The copy job and the DR copy monitor end to end in the sandbox.

Every stack the app synthesizes for config/sandbox.yaml is deployed (the main stack in
us-east-1, the DR stack in us-west-2); the schedules fire as EventBridge Scheduler
would and the real handlers run against the CloudHSM emulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from lambdas.shared import runbooks
from lambdas.shared.trust_anchor import trust_anchor_copy_name
from sandbox.copy_scenarios import (
    AccountSnapshot,
    copies_in,
    fire_copy_job,
    fire_copy_monitor,
    leaked_resources,
)
from sandbox.scenarios import fire_verification
from sandbox.session import TRUST_ANCHOR, Sandbox, synthesize
from tests.alert_text import alert_problems
from tests.conftest import SANDBOX_CONFIG, Synthesized

CLUSTER = "cluster-sandboxprimary"
DR = "us-west-2"
OURS = {
    "managed-by": "cloudhsm-dr",
    "hsmdr:source-cluster": CLUSTER,
    "hsmdr:deployment": "hsmdr-sandbox",
}


@pytest.fixture
def sandbox(synthesized: Synthesized) -> Iterator[Sandbox]:
    with Sandbox(profile="test", templates=synthesized.templates) as sandbox:
        yield sandbox


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


def region_result(result: dict[str, Any]) -> dict[str, Any]:
    [cluster] = result["clusters"]
    return dict(cluster["copies"][DR])


def test_both_stacks_are_deployed_each_in_its_region(sandbox: Sandbox) -> None:
    assert sorted(sandbox.deployments) == ["hsmdr-sandbox", "hsmdr-sandbox-dr-us-west-2"]
    dr = sandbox.dr_deployment(DR)
    assert dr.environment.region == DR
    assert dr.function("copy-monitor").function_arn.split(":")[3] == DR
    assert sandbox.deployment.function("copy-backups").function_arn.split(":")[3] == "us-east-1"


def test_schedule_copies_the_newest_backup_tagged_then_copies_nothing_more(
    sandbox: Sandbox,
) -> None:
    # Given the cluster with a week of backups and no copy in the DR region yet
    sandbox.seed_protected_clusters(dr_copies=False)
    newest = sandbox.world.backups("us-east-1")[-1]["BackupId"]
    # When the daily copy schedule fires
    first = fire_copy_job(sandbox)
    # Then one copy of the newest backup is on its way to us-west-2, tagged as ours
    assert first["status"] == "SUCCEEDED", first["findings"]
    [created] = region_result(first)["created"]
    assert created["source_backup"] == newest
    [copy] = copies_in(sandbox, DR)
    assert copy["backup_id"] == created["backup_id"]
    assert copy["tags"] == {**OURS, "hsmdr:source-backup": newest}
    # (the job saw it in progress; the emulator may have finished it since: no race on
    # its state here, only on what the job recorded)
    assert copy["state"] in ("CREATE_IN_PROGRESS", "READY")
    assert region_result(first)["in_progress"] == [copy["backup_id"]]
    # When the copy finishes and the schedule fires again
    sandbox.world.settle()
    second = fire_copy_job(sandbox)
    # Then nothing new is copied: the READY copy of the newest backup is there
    assert second["status"] == "SUCCEEDED"
    assert region_result(second)["created"] == []
    assert region_result(second)["existing"] == [copy["backup_id"]]
    assert [c["state"] for c in copies_in(sandbox, DR)] == ["READY"]
    assert second["alerts"] == []


def test_failed_copy_is_a_finding_and_one_alert_naming_cluster_region_backup(
    sandbox: Sandbox,
) -> None:
    # Given copies to us-west-2 fail (they end DELETED)
    sandbox.seed_protected_clusters(dr_copies=False)
    sandbox.apply_faults(["copy-fails"])
    first = fire_copy_job(sandbox)
    sandbox.world.settle()
    # When the next run looks at the copy
    second = fire_copy_job(sandbox)
    # Then the failure is a finding, alerted once, and a new copy is started
    assert codes(second) == ["COPY_FAILED"]
    [failed] = region_result(second)["failed"]
    assert failed == region_result(first)["created"][0]["backup_id"]
    assert len(region_result(second)["created"]) == 1
    [alert] = second["alerts"]
    assert "CloudHSM backup copies FAILED: payments (cluster-sandboxprimary)" in alert["subject"]
    source = region_result(first)["created"][0]["source_backup"]
    for part in (failed, source, DR, "Next step:", "hsmdr backup copy --deployment hsmdr-sandbox"):
        assert part in alert["message"]
    assert "This run started a new copy" in alert["message"]


def test_pruning_keeps_exactly_what_the_rule_says_after_time_passes(sandbox: Sandbox) -> None:
    # Given 60 days of daily backups, each copied to us-west-2 as the job would have,
    # plus a hand-made copy without our tags and one marked NeverExpires by someone
    ages = [timedelta(days=d, hours=2) for d in range(60)]
    sandbox.seed_protected_clusters(ages)
    oldest = sandbox.world.backups("us-east-1")[:2]
    manual = sandbox.world.seed_copy(oldest[0]["BackupId"], DR, tags={})
    kept_forever = sandbox.world.seed_copy(oldest[1]["BackupId"], DR, tags={})
    sandbox.world._core.regions[DR].backups[kept_forever].never_expires = True
    # When ten days pass (ten more daily backups) and the schedule fires
    sandbox.world.time_travel(timedelta(days=10))
    ready = [c for c in copies_in(sandbox, DR) if c["state"] == "READY"]
    result = fire_copy_job(sandbox)
    # Then exactly the copies past 35 days and outside the newest 7 are pruned
    now = datetime.now(UTC)
    ours = [c for c in ready if c["tags"].get("managed-by") == "cloudhsm-dr"]
    expected = {
        c["backup_id"]
        for rank, c in enumerate(ours)
        if rank >= 7 and now - datetime.fromisoformat(c["create_timestamp"]) > timedelta(days=35)
    }
    pruned = {p["backup_id"] for p in result["clusters"][0]["pruned"]}
    assert pruned == expected
    assert len(pruned) == 35  # ages 35..69 days
    states = {c["backup_id"]: c["state"] for c in copies_in(sandbox, DR)}
    assert {states[b] for b in pruned} == {"PENDING_DELETION"}
    # and the copies nobody may delete are still READY
    assert states[manual] == states[kept_forever] == "READY"
    reasons = {k["backup_id"]: k["reason"] for k in result["clusters"][0]["kept"]}
    assert "not tagged managed-by=cloudhsm-dr" in reasons[manual]
    assert "NeverExpires is set" in reasons[kept_forever]
    # and the newest backup (made during the ten days) is being copied
    assert len(region_result(result)["created"]) == 1


# A dry run emits no metric (it changed nothing), which Powertools warns about.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_dry_run_reports_what_it_would_do_and_changes_nothing(sandbox: Sandbox) -> None:
    ages = [timedelta(days=d, hours=2) for d in range(45)]
    sandbox.seed_protected_clusters(ages)
    sandbox.world.time_travel(timedelta(days=1))  # a new backup, not copied yet
    before = AccountSnapshot.take(sandbox)
    # When on-call invokes the job with dry_run
    invocation = sandbox.deployment.invoke("copy-backups", {"dry_run": True})
    result = invocation.payload
    # Then the report has the copy and the prunes a real run would make
    assert result["dry_run"] is True
    [created] = region_result(result)["created"]
    assert created["backup_id"] is None
    assert len(result["clusters"][0]["pruned"]) == 11  # ages 35 to 45 days
    assert all(p["dry_run"] for p in result["clusters"][0]["pruned"])
    # and the account is exactly as it was, and nobody was paged
    after = AccountSnapshot.take(sandbox)
    assert after.backups == before.backups
    assert sandbox.messages() == []


def test_job_emits_copy_metrics_per_cluster_and_region(sandbox: Sandbox) -> None:
    sandbox.seed_protected_clusters()
    fire_copy_job(sandbox)
    documents = [json.loads(line) for line in sandbox.deployment.logs("copy-backups")]
    emf = [d for d in documents if "_aws" in d]
    [age] = [d for d in emf if "NewestCopyAgeSeconds" in d]
    assert (age["ClusterId"], age["Region"]) == (CLUSTER, DR)
    [seconds] = age["NewestCopyAgeSeconds"]
    assert 2 * 3600 - 60 < seconds < 2 * 3600 + 120
    shared = next(d for d in emf if "CopiesCreated" in d)
    counts = (shared["CopiesCreated"], shared["CopiesFailed"], shared["CopiesPruned"])
    assert counts == ([0.0], [0.0], [0.0])


def test_job_replicates_the_trust_anchor_to_each_dr_region(sandbox: Sandbox) -> None:
    # Given customerCA.crt stored in the primary region at initialization
    sandbox.seed_protected_clusters()
    # When the copy job runs
    result = fire_copy_job(sandbox)
    # Then the DR region holds the copy a restore there hands to clients
    assert result["status"] == "SUCCEEDED", result
    copy_name = trust_anchor_copy_name("hsmdr-sandbox")
    assert result["trust_anchor"][DR]["status"] == "COPIED"
    stored = boto3.client("ssm", region_name=DR).get_parameter(Name=copy_name)
    assert stored["Parameter"]["Value"] == TRUST_ANCHOR
    assert result["alerts"] == []


def test_a_trust_anchor_that_cannot_be_replicated_is_told_not_paged(sandbox: Sandbox) -> None:
    # Given no customerCA.crt where the config says, and no earlier copy in the DR region
    sandbox.seed_protected_clusters(trust_anchor=False)
    # When the copy job runs
    result = fire_copy_job(sandbox)
    # Then the copies are made, but the run fails on the trust anchor and tells why
    assert result["status"] == "FAILED" and result["findings"] == []
    assert result["trust_anchor"][DR]["status"] == "MISSING"
    [alert] = result["alerts"]
    assert alert["topic"].startswith("AlertingNotifyTopic")
    assert "Trust anchor (customerCA.crt) NOT replicated" in alert["message"]
    assert f"aws ssm put-parameter --region {DR}" in alert["message"]
    assert alert_problems(alert["message"], runbook=runbooks.COMPLETE_CLUSTER_FAILURE) == []


def test_sandbox_scenario_leaves_nothing_behind(sandbox: Sandbox) -> None:
    sandbox.seed_protected_clusters(dr_copies=False)
    before = AccountSnapshot.take(sandbox)
    fire_copy_job(sandbox)
    sandbox.world.settle()
    fire_copy_job(sandbox)
    assert leaked_resources(before, AccountSnapshot.take(sandbox)) == []


def test_leak_check_catches_a_stray_copy(sandbox: Sandbox) -> None:
    # Given a run that (wrongly) left an untagged copy and a duplicate behind
    sandbox.seed_protected_clusters(dr_copies=False)
    before = AccountSnapshot.take(sandbox)
    newest = sandbox.world.backups("us-east-1")[-1]["BackupId"]
    sandbox.world.seed_copy(newest, DR, tags={})
    sandbox.world.seed_copy(newest, DR, tags=OURS)
    # Then both problems are reported
    whys = [leak["why"] for leak in leaked_resources(before, AccountSnapshot.take(sandbox))]
    assert any("without managed-by=cloudhsm-dr" in why for why in whys)
    assert any("2 live copies of it in us-west-2" in why for why in whys)


# Verification and the DR copy monitor ------------------------------------------------


def test_hourly_verification_reports_copy_missing_and_copy_failed(sandbox: Sandbox) -> None:
    sandbox.seed_protected_clusters(dr_copies=False)
    missing = fire_verification(sandbox)
    assert codes(missing) == ["COPY_MISSING"]
    assert "us-west-2 holds no READY copy" in missing["alerts"][0]["message"]
    sandbox.apply_faults(["copy-fails"])
    fire_copy_job(sandbox)
    sandbox.world.settle()
    failed = fire_verification(sandbox)
    assert codes(failed) == ["COPY_FAILED", "COPY_MISSING"]
    [copies] = failed["clusters"][0]["copies"]
    assert copies["region"] == DR and len(copies["failed"]) == 1


def test_dr_copy_monitor_is_quiet_while_fresh_copies_are_there(sandbox: Sandbox) -> None:
    sandbox.seed_protected_clusters()
    result = fire_copy_monitor(sandbox, DR)
    assert result["status"] == "SUCCEEDED", result["findings"]
    [cluster] = result["clusters"]
    assert cluster["restore_command"].startswith("aws cloudhsmv2 create-cluster --region us-west-2")
    assert result["alerts"] == []


def test_dr_copy_monitor_pages_from_the_dr_region_when_copies_go_stale(sandbox: Sandbox) -> None:
    # Given the copy job stopped (the primary region is down, say) for three days
    sandbox.seed_protected_clusters()
    sandbox.world.time_travel(timedelta(days=3))
    # When the DR region's own monitor runs
    result = fire_copy_monitor(sandbox, DR)
    # Then it pages through the DR region's topic, naming the copy to restore from
    assert codes(result) == ["COPY_MISSING"]
    [alert] = result["alerts"]
    assert alert["topic"].startswith("Alerting")
    assert "CloudHSM copies in us-west-2 FAILED" in alert["subject"]
    assert "restore from the newest READY copy in us-west-2" in alert["message"]
    assert sandbox.messages() == []  # the main stack's topic was not used


def test_dr_copy_monitor_holds_its_message_while_the_primary_verification_reports(
    sandbox: Sandbox,
) -> None:
    # Given stale copies, and the primary region's hourly verification still running
    sandbox.seed_protected_clusters()
    sandbox.world.time_travel(timedelta(days=3))
    primary = fire_verification(sandbox)
    assert "COPY_MISSING" in codes(primary) and len(primary["alerts"]) == 1
    # When the DR region's monitor runs
    result = fire_copy_monitor(sandbox, DR)
    # Then it finds the same problem but leaves the message to the primary: one, not two
    assert codes(result) == ["COPY_MISSING"]
    assert result["alerts"] == [] and result["alert_held_back"] is True
    assert result["primary_verification_last_report"] is not None


# A deployment with golden backups and enforced retention --------------------------------


@pytest.fixture(scope="module")
def strict_config(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    data = yaml.safe_load(SANDBOX_CONFIG.read_text())
    data["protected_clusters"][0]["retention_days"] = 30
    data["backups"] = {
        "enforce_retention": True,
        "golden": {"enabled": True, "period": "monthly", "keep": 3},
    }
    path = tmp_path_factory.mktemp("strict") / "strict.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, synthesize(path)


@pytest.fixture
def strict(strict_config: tuple[Path, dict[str, Any]]) -> Iterator[Sandbox]:
    path, templates = strict_config
    with Sandbox(path, profile="test", templates=templates) as sandbox:
        yield sandbox


def test_enforced_retention_corrects_the_drift(strict: Sandbox) -> None:
    strict.seed_protected_clusters()  # the cluster keeps backups 90 days
    result = fire_copy_job(strict)
    retention = result["clusters"][0]["retention"]
    assert retention["status"] == "corrected"
    assert retention["reason"].endswith("set to 30 days with ModifyCluster")
    assert "RETENTION_DRIFT" not in codes(result)
    policy = strict.world.cluster(CLUSTER)["BackupRetentionPolicy"]
    assert policy == {"Type": "DAYS", "Value": "30"}


def test_golden_backups_survive_the_retention_policy(strict: Sandbox) -> None:
    # Given 80 days of daily backups (copied too), golden monthly, keep 3
    strict.seed_protected_clusters([timedelta(days=d, hours=2) for d in range(80)])
    result = fire_copy_job(strict)
    marked = result["clusters"][0]["golden"]["marked"]
    periods = {(m["region"], m["period"]) for m in marked}
    assert len({p for _, p in periods}) == 3
    assert {r for r, _ in periods} == {"us-east-1", DR}
    golden_ids = {m["backup_id"] for m in marked if m["region"] == "us-east-1"}
    # When the (now 30-day) retention policy sweeps
    strict.world.time_travel(timedelta(minutes=1))
    # Then the golden backups are NeverExpires, tagged, and still READY
    home = {b["BackupId"]: b for b in strict.world.backups("us-east-1")}
    for backup_id in golden_ids:
        assert home[backup_id]["NeverExpires"] is True
        tags = {t["Key"]: t["Value"] for t in home[backup_id]["TagList"]}
        assert tags["hsmdr:golden"] in {p for _, p in periods}
        assert home[backup_id]["BackupState"] == "READY"
    old = [
        b
        for b in home.values()
        if b["BackupId"] not in golden_ids
        and datetime.now(UTC) - b["CreateTimestamp"] > timedelta(days=31)
    ]
    assert old and {b["BackupState"] for b in old} <= {"PENDING_DELETION", "DELETED"}
    # and a second run marks nothing more
    again = fire_copy_job(strict)
    assert again["clusters"][0]["golden"] == {"marked": [], "unmarked": []}
