"""Scheduled backup verification end to end in the sandbox.

The stack is the one `app.synth()` produces for config/sandbox.yaml; the schedule
fires as EventBridge Scheduler would, the real handler runs against the CloudHSM
emulator, and the SNS message the on-call engineer would get is captured.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from sandbox.scenarios import fire_verification
from sandbox.session import Sandbox
from tests.conftest import Synthesized

CLUSTER = "cluster-sandboxprimary"


@pytest.fixture
def sandbox(synthesized: Synthesized) -> Iterator[Sandbox]:
    with Sandbox(profile="test", template=synthesized.template) as sandbox:
        yield sandbox


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


def test_schedule_fires_and_healthy_cluster_passes_without_alert(sandbox: Sandbox) -> None:
    # Given the protected cluster as production has it (2 HSMs, 2 AZs, daily backups)
    sandbox.seed_protected_clusters()
    # When the hourly schedule fires
    result = fire_verification(sandbox)
    # Then the report is healthy and nobody is paged
    assert result["status"] == "SUCCEEDED", result["findings"]
    [cluster] = result["clusters"]
    assert cluster["cluster_id"] == CLUSTER and cluster["state"] == "ACTIVE"
    assert sorted(h["availability_zone"] for h in cluster["hsms"]) == ["us-east-1a", "us-east-1b"]
    assert all(h["eni_ip"].startswith("10.0.") for h in cluster["hsms"])
    assert 2 * 3600 - 60 < cluster["backup_age_seconds"] < 2 * 3600 + 120
    assert result["alerts"] == []


def test_hsm_failure_pages_with_the_hsm_and_the_command_to_run(sandbox: Sandbox) -> None:
    sandbox.seed_protected_clusters()
    sandbox.apply_faults(["hsm-failure"])
    result = fire_verification(sandbox)
    assert result["status"] == "FAILED"
    assert codes(result) == ["HSM_DEGRADED", "HSM_COUNT_BELOW_DESIRED"]
    [alert] = result["alerts"]
    assert "payments (cluster-sandboxprimary)" in alert["subject"]
    assert "verification FAILED" in alert["subject"]
    degraded = next(h for h in result["clusters"][0]["hsms"] if h["state"] == "DEGRADED")
    assert degraded["hsm_id"] in alert["message"]
    assert (
        "hsmdr hsm replace --deployment hsmdr-sandbox --cluster cluster-sandboxprimary "
        f"--hsm {degraded['hsm_id']} --follow"
    ) in alert["message"]


def test_stopped_backups_break_the_rpo_after_a_day_and_a_half(sandbox: Sandbox) -> None:
    sandbox.seed_protected_clusters()
    sandbox.apply_faults(["backups-stopped"])
    sandbox.world.time_travel(timedelta(hours=36))
    result = fire_verification(sandbox)
    assert codes(result) == ["BACKUP_OLDER_THAN_RPO"]
    age = result["clusters"][0]["backup_age_seconds"]
    assert 38 * 3600 - 60 < age < 38 * 3600 + 120
    [alert] = result["alerts"]
    assert "[BACKUP_OLDER_THAN_RPO]" in alert["message"] and "1d 14h old" in alert["message"]


def test_the_same_findings_are_not_sent_again_every_hour(sandbox: Sandbox) -> None:
    # Given a stale backup that the scheduled verification already reported
    sandbox.seed_protected_clusters()
    sandbox.apply_faults(["backups-stopped"])
    sandbox.world.time_travel(timedelta(hours=36))
    [first] = fire_verification(sandbox)["alerts"]
    # When the next scheduled runs find the same problem (an hour older)
    sandbox.world.time_travel(timedelta(hours=1))
    again = fire_verification(sandbox)
    # Then they report it in their answer and metrics, but send nothing
    assert codes(again) == ["BACKUP_OLDER_THAN_RPO"]
    assert again["alerts"] == [] and again["alert_held_back"] is True
    # And a person running it by hand gets the message at once
    by_hand = sandbox.deployment.invoke("verify-backups", {})
    assert by_hand is not None and by_hand.payload["alert_severity"] == "page"
    assert len(sandbox.messages()) == 2 and first["subject"] == sandbox.messages()[1].subject
    # And a new problem is news: it is sent on the next scheduled run
    sandbox.apply_faults(["hsm-failure"])
    changed = fire_verification(sandbox)
    assert "HSM_DEGRADED" in codes(changed) and len(changed["alerts"]) == 1


def test_without_the_fault_a_day_passing_brings_a_new_daily_backup(sandbox: Sandbox) -> None:
    sandbox.seed_protected_clusters()
    sandbox.world.time_travel(timedelta(hours=36))
    result = fire_verification(sandbox)
    assert result["status"] == "SUCCEEDED", result["findings"]
    assert result["clusters"][0]["backup_age_seconds"] < 24 * 3600


def test_stuck_backup_is_reported(sandbox: Sandbox) -> None:
    sandbox.seed_protected_clusters()
    sandbox.apply_faults(["backup-stuck"])
    sandbox.world.time_travel(timedelta(hours=26))
    result = fire_verification(sandbox)
    assert "BACKUP_STUCK" in codes(result)


def test_throttling_is_absorbed_by_retries(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.endpoint

    # Skip botocore's waits between retries; the retries themselves still happen.
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _: None))
    sandbox.seed_protected_clusters()
    sandbox.apply_faults(["throttle"])
    result = fire_verification(sandbox)
    assert result["status"] == "SUCCEEDED"


def test_cluster_missing_from_the_account_is_a_finding_not_a_crash(sandbox: Sandbox) -> None:
    # Given the config names a cluster that does not exist (nothing was seeded)
    result = fire_verification(sandbox)
    # (and so the DR region holds no copy of it either)
    assert codes(result) == ["CLUSTER_NOT_FOUND", "NO_READY_BACKUP", "COPY_MISSING"]
    assert len(result["alerts"]) == 1


def test_crashing_function_fails_the_invocation(sandbox: Sandbox) -> None:
    sandbox.seed_protected_clusters()
    sandbox.apply_faults(["lambda-crash:verify-backups"])
    result = fire_verification(sandbox)
    assert result["status"] == "FAILED"
    assert result["error"] == "SandboxInjectedCrash"


def test_metrics_are_emitted_per_cluster_in_embedded_metric_format(sandbox: Sandbox) -> None:
    sandbox.seed_protected_clusters()
    fire_verification(sandbox)
    documents = [json.loads(line) for line in sandbox.deployment.logs("verify-backups")]
    emf = [d for d in documents if "_aws" in d]
    ages = [d for d in emf if "BackupAgeSeconds" in d]
    assert [d["ClusterId"] for d in ages] == [CLUSTER]
    namespace = ages[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"]
    assert namespace == "CloudHsmDr"
    assert any(d.get("VerificationFindings") == [0.0] for d in emf)


def test_unknown_fault_is_refused_before_anything_changes(sandbox: Sandbox) -> None:
    from sandbox.session import FaultError

    sandbox.seed_protected_clusters()  # hsm-failure needs a cluster to fail
    with pytest.raises(FaultError, match="'hsm-explodes' is not a fault"):
        sandbox.apply_faults(["hsm-failure", "hsm-explodes"])
    assert sandbox.world.faults.active() == {}
