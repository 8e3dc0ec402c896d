"""The sandbox refuses what AWS would refuse: one grant taken out of the synthesized
template per kind of policy (identity, resource, key, security group, alarm action),
and the workflow that needed it fails with AWS's refusal where a person would look.

Every other sandbox test proves the other half: with the stack as synthesized, nothing
is refused (tests/conftest.py fails any test whose run had a refused call)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.session import Sandbox
from tests.conftest import Synthesized
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow

CLUSTER = "cluster-sandboxprimary"
Template = dict[str, Any]


def without(
    templates: dict[str, Template], keep: Callable[[str, dict[str, Any]], Any]
) -> dict[str, Template]:
    """A copy of the templates in which `keep(logical_id, resource)` rewrites each
    resource (returns it changed) or drops it (returns None)."""
    changed = copy.deepcopy(templates)
    for template in changed.values():
        resources = template["Resources"]
        for logical_id in list(resources):
            kept = keep(logical_id, resources[logical_id])
            if kept is None:
                del resources[logical_id]
            else:
                resources[logical_id] = kept
    return changed


def drop_statements(match: Callable[[str, dict[str, Any]], bool], document: str) -> Any:
    """A `keep` that removes the statements `match(logical_id, statement)` picks from
    the policy document property `document` of every resource that has it."""

    def keep(logical_id: str, resource: dict[str, Any]) -> dict[str, Any]:
        policy = resource.get("Properties", {}).get(document)
        if isinstance(policy, dict) and "Statement" in policy:
            policy["Statement"] = [s for s in policy["Statement"] if not match(logical_id, s)]
        return resource

    return keep


def refusals_in(events: list[dict[str, Any]]) -> list[str]:
    """The causes of failed tasks and Lambda calls in an execution's history that are
    refusals (AWS's AccessDenied family)."""
    causes = []
    for event in events:
        for key, details in event.items():
            if key.endswith("FailedEventDetails") and isinstance(details, dict):
                text = f"{details.get('error', '')} {details.get('cause', '')}"
                if "AccessDenied" in text or "AuthorizationError" in text:
                    causes.append(text)
    return causes


@pytest.fixture
def open_sandbox() -> Iterator[Callable[..., Sandbox]]:
    with_stack: list[Sandbox] = []

    def open_(templates: dict[str, Template], **options: Any) -> Sandbox:
        sandbox = Sandbox(profile="test", templates=templates, **options).__enter__()
        with_stack.append(sandbox)
        sandbox.seed_protected_clusters()
        return sandbox

    yield open_
    for sandbox in reversed(with_stack):
        sandbox.__exit__(None, None, None)


@pytest.mark.denials_expected
def test_identity_policy_without_delete_hsm_leaves_the_temporary_hsm(
    synthesized: Synthesized, open_sandbox: Callable[..., Sandbox]
) -> None:
    from sandbox.backup_scenarios import create_backup

    # Given the on-demand backup role without its DeleteHsm grant
    templates = without(
        synthesized.templates,
        drop_statements(
            lambda lid, s: (
                lid.startswith("OnDemandBackupStepsRole")
                and "cloudhsm:DeleteHsm" in json.dumps(s.get("Action"))
            ),
            "PolicyDocument",
        ),
    )
    sandbox = open_sandbox(templates)
    # When an on-demand backup runs
    report = create_backup(sandbox)
    # Then removing its temporary HSM is refused as AWS refuses it, and the HSM stays
    denied = [d for d in report["denied_calls"] if d["operation"] == "cloudhsmv2.DeleteHsm"]
    assert denied
    assert (
        "is not authorized to perform: cloudhsm:DeleteHsm on resource: *" in (denied[0]["message"])
    )
    assert "because no identity-based policy allows" in denied[0]["message"]
    assert report["status"] == "FAILED"
    assert report["leaked_resources"]["hsms"], report["hsms_after"]
    history = sandbox.deployment.await_execution(report["execution_arn"]).events
    assert any("cloudhsm:DeleteHsm" in cause for cause in refusals_in(history))


@pytest.mark.denials_expected
def test_resource_policy_without_the_rule_permission_dead_letters_the_event(
    synthesized: Synthesized, open_sandbox: Callable[..., Sandbox]
) -> None:
    # Given the health check's function without the permission that lets its rule invoke it
    templates = without(
        synthesized.templates,
        lambda lid, r: None if lid.startswith("HsmHealthUnhealthyAlarmRuleAllowEventRule") else r,
    )
    sandbox = open_sandbox(templates)
    # When the HsmUnhealthy alarm goes off
    deliveries = sandbox.deployment.set_alarm_state("HsmHealthHsmUnhealthy")
    # Then EventBridge may not invoke the function: the event goes to the rule's DLQ
    [to_function] = [d for d in deliveries if d.target.split(":")[2] == "lambda"]
    assert not to_function.delivered
    assert to_function.dead_lettered
    assert "User: events.amazonaws.com is not authorized to perform: lambda:InvokeFunction" in (
        to_function.denials[0].message
    )
    assert "because no resource-based policy allows" in to_function.denials[0].message
    assert to_function.result is None  # the health check never ran


@pytest.mark.denials_expected
def test_key_policy_without_the_account_stops_every_alert(
    synthesized: Synthesized, open_sandbox: Callable[..., Sandbox]
) -> None:
    # Given an alert key whose policy no longer delegates to the account's IAM policies
    templates = without(
        synthesized.templates,
        drop_statements(
            lambda lid, s: (
                lid.startswith("AlertingKey") and ":root" in json.dumps(s.get("Principal"))
            ),
            "KeyPolicy",
        ),
    )
    sandbox = open_sandbox(templates)
    # When an HSM fails and the verification job runs
    sandbox.apply_faults(["hsm-failure"])
    result = sandbox.fire("BackupVerificationJobSchedule")
    # Then its page cannot be sent: the key refuses the function, whatever IAM says
    kms = [d for d in sandbox.permissions.denials if d.action.startswith("kms:")]
    assert kms
    assert "because no resource-based policy allows the kms:GenerateDataKey action" in (
        kms[0].message
    )
    assert sandbox.messages() == []
    assert result.invocation is not None


@pytest.mark.denials_expected
def test_security_group_that_does_not_admit_the_verifier_fails_the_drill(
    tmp_path: Path,
) -> None:
    import yaml

    from sandbox.drill_scenarios import drill_config_data, prepare, run_drill

    # Given drill ingress rules that admit a network the verifier is not in
    data = drill_config_data()
    data["drills"]["verifier_cidrs"] = ["10.250.0.0/16"]
    config = tmp_path / "drill.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    with Sandbox(config, profile="test", key_store=True) as sandbox:
        prepare(sandbox)
        # When the drill runs
        report = run_drill(sandbox)
    # Then the verifier cannot reach the drill cluster's HSMs, and the drill says so
    assert report["status"] == "FAILED"
    assert report["error"] == "HSM_UNREACHABLE"
    assert any("no ingress rule" in r for r in report["network_refusals"])
    assert report["leaked_resources"] == {"clusters": [], "hsms": [], "rules": []}


@pytest.mark.denials_expected
def test_alarm_action_refused_by_the_topic_policy_pages_nobody(
    synthesized: Synthesized, open_sandbox: Callable[..., Sandbox]
) -> None:
    # Given topic policies that hold only the TLS-only Deny (they replace SNS's default)
    templates = without(
        synthesized.templates,
        drop_statements(
            lambda lid, s: lid.startswith("AlertingTopicPolicy") and s.get("Effect") == "Allow",
            "PolicyDocument",
        ),
    )
    sandbox = open_sandbox(templates)
    # When a page alarm goes off
    deliveries = sandbox.deployment.set_alarm_state("MonitoringExecutionsFailedRestoreCluster")
    # Then CloudWatch may not publish to the topic, and nobody is paged
    [to_topic] = [d for d in deliveries if d.target.split(":")[2] == "sns"]
    assert not to_topic.delivered
    assert "User: cloudwatch.amazonaws.com is not authorized to perform: sns:Publish" in (
        to_topic.denials[0].message
    )
    assert sandbox.messages() == []


def test_the_stack_as_synthesized_delivers_every_alarm(
    synthesized: Synthesized, open_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = open_sandbox(synthesized.templates)
    for deployment in sandbox.deployments.values():
        for alarm in deployment.alarm_names():
            deliveries = deployment.set_alarm_state(alarm)
            topics = [d for d in deliveries if d.target.split(":")[2] == "sns"]
            assert topics and all(d.delivered for d in topics), (alarm, deliveries)
    assert sandbox.permissions.denials == []


@pytest.mark.parametrize("config_name", ["example.yaml", "all-options.yaml"])
def test_shipped_configs_deploy_and_run_their_jobs_with_nothing_refused(
    config_name: str,
) -> None:
    """The example config and the one with every option on: each scheduled job that a
    function runs, and every alarm of every stack, get through the permission checks;
    all-options' vault stack too, in its own account (recovery_account)."""
    from tests.conftest import REPO_ROOT

    path = REPO_ROOT / "config" / config_name
    with Sandbox(path, profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        fired = 0
        for deployment in sandbox.deployments.values():
            for schedule in deployment.schedules():
                if schedule.target_arn.split(":")[2] != "lambda":
                    continue  # state machine targets: their workflows have their own tests
                target = deployment.function(schedule.target_arn.split(":")[6])
                if not target.runtime:
                    continue  # container images (PKCS#11 client): tests/sandbox/test_drill.py
                result = deployment.fire_schedule(schedule.logical_id)
                assert result.invocation is not None
                assert result.invocation.function_error is None, result.invocation.payload
                fired += 1
            for alarm in deployment.alarm_names():
                topics = [
                    d for d in deployment.set_alarm_state(alarm) if d.target.split(":")[2] == "sns"
                ]
                assert topics and all(d.delivered for d in topics), (alarm, topics)
        assert fired >= 3
        if config_name == "all-options.yaml":
            vault = sandbox.deployments["hsmdr-all-vault"]
            assert vault.account_id == "444455556666" != sandbox.world.account_id
        assert sandbox.permissions.denials == []
        assert sandbox.permissions.checked > 0


def _seed_manifests(sandbox: Sandbox) -> None:
    from datetime import UTC, datetime, timedelta

    from sandbox.key_store_setup import seed_manifest
    from sandbox.session import SEEDED_BACKUP_AGES

    captured = datetime.now(UTC) - max(SEEDED_BACKUP_AGES) - timedelta(hours=1)
    for spec in sandbox.config.protected_clusters:
        seed_manifest(sandbox, spec.id, captured)


def _workflow_on(sandbox: Sandbox, workflow: str) -> dict[str, Any]:
    """Run one HSM-changing workflow of the config's first protected cluster."""
    from sandbox.backup_scenarios import create_backup
    from sandbox.replacement_scenarios import replace_after_failure
    from sandbox.restore_scenarios import lose_cluster, run_restore, seed_trust_anchor, subnets

    spec = sandbox.config.protected_clusters[0]
    if workflow == "on-demand backup":
        return create_backup(sandbox, cluster_id=spec.id)
    if workflow == "hsm replacement":
        sandbox.apply_faults([f"hsm-failure:{spec.id}"])
        return replace_after_failure(sandbox, cluster_id=spec.id)
    seed_trust_anchor(sandbox)
    lose_cluster(sandbox, spec.id, spec.region)
    return run_restore(
        sandbox,
        {
            "source_cluster_id": spec.id,
            "region": spec.region,
            "subnet_ids": subnets(sandbox, spec.region),  # the config's are not in moto
            "poll_seconds": 1,
        },
    )


@pytest.mark.parametrize("workflow", ["on-demand backup", "hsm replacement", "restore"])
@pytest.mark.parametrize("config_name", ["example.yaml", "all-options.yaml"])
def test_shipped_configs_run_their_workflows_with_nothing_refused(
    config_name: str, workflow: str, tmp_path: Path
) -> None:
    import yaml

    from stacks.config import load_config
    from tests.conftest import REPO_ROOT

    data = yaml.safe_load((REPO_ROOT / "config" / config_name).read_text(encoding="utf-8"))
    # The health check starts the replacement with the config's poll interval (30-60 s of
    # real waiting per poll here): shortened, as permissions do not depend on it.
    data["hsm_replacement"]["poll_seconds"] = 10
    # The vault stack's own workflow: tests/infra/test_vault_sandbox.py.
    data.pop("recovery_account", None)
    path = tmp_path / config_name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    config = load_config(path)
    # A restore with key_verification configured checks the keys: SoftHSM2 tokens and
    # a key manifest older than every seeded backup, as the daily capture would leave.
    keys = workflow == "restore" and config.key_verification is not None
    if keys:
        require_softhsm()
    with Sandbox(path, profile="test", key_store=keys) as sandbox:
        sandbox.seed_protected_clusters()
        if keys:
            _seed_manifests(sandbox)
        report = _workflow_on(sandbox, workflow)
    assert report["status"] == "SUCCEEDED", (report.get("error"), report.get("cause"))
    assert report["denied_calls"] == []
