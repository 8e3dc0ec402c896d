"""Every workflow's message, end to end in the sandbox: sent to the topic of its severity
(page wakes someone, notify is read in working hours), naming the runbook that covers it
and `hsmdr` commands the real CLI parses, and, for a state machine, the execution.

Page topic: logical id "AlertingTopic..."; notify topic: "AlertingNotifyTopic...".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest

from lambdas.shared import runbooks
from lambdas.shared.copies import copy_tags
from lambdas.shared.models import Backup
from sandbox.backup_scenarios import create_backup
from sandbox.copy_scenarios import fire_copy_job, fire_copy_monitor
from sandbox.drill_scenarios import drill_sandbox, run_drill
from sandbox.replacement_scenarios import fire_health_check, hsms, replace_after_failure
from sandbox.scenarios import fire_verification
from sandbox.session import SEEDED_BACKUP_AGES, Sandbox
from tests.alert_text import alert_problems
from tests.conftest import Synthesized
from tests.sandbox.drill_support import drill_templates, states
from tests.sandbox.restore_support import disaster, restore
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow

PAGE = "AlertingTopic"
NOTIFY = "AlertingNotifyTopic"
CLUSTER = "cluster-sandboxprimary"
DR = "us-west-2"

Message = dict[str, Any]


def routed(
    report_or_messages: Mapping[str, Any] | Sequence[Message], topic_prefix: str
) -> list[Message]:
    """The messages (a scenario report's "alerts", or a list of them) sent to the topic
    whose logical id starts with `topic_prefix`."""
    messages = (
        report_or_messages["alerts"]
        if isinstance(report_or_messages, Mapping)
        else report_or_messages
    )
    return [m for m in messages if str(m["topic"]).startswith(topic_prefix)]


@pytest.fixture
def sandbox(synthesized: Synthesized) -> Iterator[Sandbox]:
    """The main stack and the DR-region stack, deployed; nothing seeded yet."""
    with Sandbox(profile="test", templates=synthesized.templates) as sandbox:
        yield sandbox


@pytest.fixture
def lost(synthesized: Synthesized) -> Iterator[Sandbox]:
    """A sandbox whose protected cluster was lost (its backups and DR copies kept)."""
    sandbox = disaster(synthesized)
    yield sandbox
    sandbox.__exit__(None, None, None)


# Scheduled checks: the findings decide ---------------------------------------------------


def test_verification_of_a_stale_backup_pages(sandbox: Sandbox) -> None:
    # Given backups stopped and a day and a half passed (the RPO is 24 h)
    sandbox.seed_protected_clusters()
    sandbox.apply_faults(["backups-stopped"])
    sandbox.world.time_travel(timedelta(hours=36))
    # When the hourly verification fires
    report = fire_verification(sandbox)
    # Then its one message pages, with the on-demand backup runbook
    assert [f["code"] for f in report["findings"]] == ["BACKUP_OLDER_THAN_RPO"]
    [alert] = report["alerts"]
    assert routed(report, PAGE) == [alert]
    assert alert_problems(alert["message"], runbook=runbooks.ON_DEMAND_BACKUP) == []


def test_verification_of_a_drifted_cluster_only_notifies(sandbox: Sandbox) -> None:
    # Given the protected cluster is hsm1.medium though the config says hsm2m.medium
    # (its backups still restore and are copied to the DR region: only a drift)
    spec = sandbox.config.protected_clusters[0]
    sandbox.world.seed_cluster(
        spec.region,
        sandbox.networks[spec.region].subnet_ids(spec.hsms_per_az),
        cluster_id=spec.id,
        hsm_type="hsm1.medium",
        backup_ages=SEEDED_BACKUP_AGES,
    )
    for backup in sandbox.world.backups(spec.region):
        tags = copy_tags(sandbox.config.deployment_name, Backup.from_api(backup))
        sandbox.world.seed_copy(backup["BackupId"], DR, tags=tags)
    # When the hourly verification fires
    report = fire_verification(sandbox)
    # Then its one message goes to the notify topic, with the single-HSM runbook
    assert [f["code"] for f in report["findings"]] == ["CLUSTER_DRIFT"]
    [alert] = report["alerts"]
    assert routed(report, NOTIFY) == [alert]
    assert alert_problems(alert["message"], runbook=runbooks.SINGLE_HSM_FAILURE) == []


def test_copy_job_finding_a_failed_copy_only_notifies(sandbox: Sandbox) -> None:
    # Given no DR copy yet, and copies to us-west-2 that fail (they end DELETED)
    sandbox.seed_protected_clusters(dr_copies=False)
    sandbox.apply_faults(["copy-fails"])
    fire_copy_job(sandbox)
    sandbox.world.settle()
    # When the copy job runs again and finds the failed copy
    report = fire_copy_job(sandbox)
    # Then its one message goes to the notify topic, with the copy-failure runbook
    assert [f["code"] for f in report["findings"]] == ["COPY_FAILED"]
    [alert] = report["alerts"]
    assert routed(report, NOTIFY) == [alert]
    assert alert_problems(alert["message"], runbook=runbooks.COPY_FAILURE) == []


def test_dr_copy_monitor_with_stale_copies_pages_from_the_dr_region(sandbox: Sandbox) -> None:
    # Given the copy job stopped three days ago (the primary region is down, say)
    sandbox.seed_protected_clusters()
    sandbox.world.time_travel(timedelta(days=3))
    # When the DR region's own copy monitor runs
    report = fire_copy_monitor(sandbox, DR)
    # Then it pages through the DR stack's page topic, with the copy-failure runbook
    assert [f["code"] for f in report["findings"]] == ["COPY_MISSING"]
    [alert] = report["alerts"]
    assert routed(report, PAGE) == [alert]
    assert alert_problems(alert["message"], runbook=runbooks.COPY_FAILURE) == []


# On-demand backup ------------------------------------------------------------------------


def test_on_demand_backup_failure_that_was_cleaned_up_only_notifies(sandbox: Sandbox) -> None:
    # Given every HSM created ends DEGRADED
    sandbox.seed_protected_clusters()
    sandbox.world.faults.enable("hsm-degraded", count=10)
    # When an on-demand backup runs
    report = create_backup(sandbox)
    # Then it fails, clean-up puts the cluster back as it was, and on-call is notified
    assert report["status"] == "FAILED" and report["error"] == "HsmCreationFailed"
    assert report["leaked_resources"] == {"hsms": [], "clusters": []}
    assert report["missing_hsms"] == {}
    assert "NotifyFailureNotify" in [s["state"] for s in report["timeline"]]
    [alert] = report["alerts"]
    assert routed(report, NOTIFY) == [alert]
    assert alert_problems(alert["message"], runbook=runbooks.ON_DEMAND_BACKUP) == []
    assert report["execution_arn"] in alert["message"]


def test_on_demand_backup_whose_clean_up_fails_pages(sandbox: Sandbox) -> None:
    # Given every HSM created ends DEGRADED, and the clean-up step crashes
    sandbox.seed_protected_clusters()
    sandbox.world.faults.enable("hsm-degraded", count=10)
    sandbox.apply_faults(["lambda-crash:on-demand-backup@clean_up"])
    # When an on-demand backup runs
    report = create_backup(sandbox)
    # Then the state machine's own message pages: a person must check the cluster
    assert report["status"] == "FAILED" and report["error"] == "HsmCreationFailed"
    assert "NotifyCleanupFailure" in [s["state"] for s in report["timeline"]]
    [alert] = report["alerts"]
    assert routed(report, PAGE) == [alert]
    assert alert_problems(alert["message"], runbook=runbooks.ON_DEMAND_BACKUP) == []
    assert report["execution_arn"] in alert["message"]


def test_on_demand_backup_that_cannot_put_a_cycled_hsm_back_pages_at_once(
    sandbox: Sandbox,
) -> None:
    # Given every HSM created ends DEGRADED, and the backup cycles an HSM (removes it first)
    sandbox.seed_protected_clusters()
    sandbox.world.faults.enable("hsm-degraded", count=20)
    # When an on-demand backup runs
    report = create_backup(sandbox, strategy="cycle-hsm")
    # Then clean-up stops once its re-creations are used up (not at its deadline), and
    # the message pages: the cluster is short of the HSM it had
    assert report["status"] == "FAILED"
    assert report["missing_hsms"] != {}
    assert "NotifyFailurePage" in [s["state"] for s in report["timeline"]]
    [alert] = report["alerts"]
    assert routed(report, PAGE) == [alert]
    assert "NOT back to its starting state" in alert["message"]
    assert "re-creations failed" in alert["message"]
    assert alert_problems(alert["message"], runbook=runbooks.ON_DEMAND_BACKUP) == []


# Single HSM failure: the health check and the replacement -------------------------------


def test_replacement_that_succeeds_only_notifies(sandbox: Sandbox) -> None:
    # Given an HSM of the protected cluster failed
    sandbox.seed_protected_clusters()
    sandbox.apply_faults(["hsm-failure"])
    # When the health check fires and the replacement it starts runs to the end
    report = replace_after_failure(sandbox)
    # Then both messages, "replacement started" and "HSM replaced", go to notify
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    started, replaced = report["alerts"]
    assert "replacement started" in started["subject"]
    assert "HSM replaced" in replaced["subject"]
    assert routed(report, NOTIFY) == [started, replaced]
    problems = [
        alert_problems(a["message"], runbook=runbooks.SINGLE_HSM_FAILURE)
        for a in (started, replaced)
    ]
    assert problems == [[], []]
    assert all(report["execution_arn"] in a["message"] for a in (started, replaced))


def test_replacement_that_fails_pages_and_so_does_the_next_check(sandbox: Sandbox) -> None:
    # Given an HSM failed, and its zone creates only DEGRADED HSMs
    sandbox.seed_protected_clusters()
    sandbox.apply_faults(["hsm-failure"])
    [zone] = {
        h["availability_zone"] for h in hsms(sandbox, CLUSTER).values() if h["state"] == "DEGRADED"
    }
    sandbox.world.faults.enable("az-unsupported", az=zone)
    # When the health check fires and the replacement it starts fails
    report = replace_after_failure(sandbox)
    # Then "replacement started" notifies, and the failure pages
    assert report["status"] == "FAILED" and report["error"] == "ReplacementFailed"
    started, failed = report["alerts"]
    assert "replacement started" in started["subject"]
    assert "replacement FAILED" in failed["subject"]
    assert routed(report, NOTIFY) == [started]
    assert routed(report, PAGE) == [failed]
    problems = [
        alert_problems(a["message"], runbook=runbooks.SINGLE_HSM_FAILURE) for a in (started, failed)
    ]
    assert problems == [[], []]
    assert all(report["execution_arn"] in a["message"] for a in (started, failed))
    # And when the check fires again it does not retry: the cluster NEEDS ATTENTION, a page
    check = fire_health_check(sandbox)
    [attention] = check["alerts"]
    assert "NEED ATTENTION" in attention["subject"]
    assert routed(check, PAGE) == [attention]
    assert alert_problems(attention["message"], runbook=runbooks.SINGLE_HSM_FAILURE) == []
    assert report["execution_arn"] in attention["message"]


# Complete cluster failure: the restore always pages --------------------------------------


def test_restore_that_fails_pages(lost: Sandbox) -> None:
    # Given every HSM created ends DEGRADED
    lost.world.faults.enable("hsm-degraded", count=10)
    # When the lost cluster is restored
    report = restore(lost)
    # Then the failure pages, with the complete-cluster-failure runbook and the execution
    assert report["status"] == "FAILED" and report["error"] == "HsmCreationFailed"
    [alert] = report["alerts"]
    assert routed(report, PAGE) == [alert]
    assert alert_problems(alert["message"], runbook=runbooks.COMPLETE_CLUSTER_FAILURE) == []
    assert report["execution_arn"] in alert["message"]
    # every command names this deployment, none a config file
    assert "--deployment hsmdr-sandbox" in alert["message"] and "--config" not in alert["message"]


def test_restore_that_succeeds_pages(lost: Sandbox) -> None:
    # When the lost cluster is restored
    report = restore(lost)
    # Then "service restored" and "restore SUCCEEDED" both page: clients must move now
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    service, done = report["alerts"]
    assert "service restored" in service["subject"]
    assert "Restore SUCCEEDED" in done["subject"]
    assert routed(report, PAGE) == [service, done]
    problems = [
        alert_problems(a["message"], runbook=runbooks.COMPLETE_CLUSTER_FAILURE)
        for a in (service, done)
    ]
    assert problems == [[], []]
    assert all(report["execution_arn"] in a["message"] for a in (service, done))


# DR drill: its success is in test_drill.py -------------------------------------------------


def test_drill_that_finds_a_key_missing_pages() -> None:
    require_softhsm()
    with drill_sandbox(profile="test", templates=drill_templates()) as sandbox:
        # Given the restored drill token lacks a key of the manifest
        sandbox.apply_faults(["key-missing"])
        # When the drill runs
        report = run_drill(sandbox)
    # Then it fails and pages, with the DR drill runbook and the execution
    assert report["status"] == "FAILED" and report["error"] == "KEY_MISSING"
    assert "NotifyFailure" in states(report)
    [alert] = report["alerts"]
    assert routed(report, PAGE) == [alert]
    assert alert_problems(alert["message"], runbook=runbooks.DR_DRILL) == []
    assert report["execution_arn"] in alert["message"]
