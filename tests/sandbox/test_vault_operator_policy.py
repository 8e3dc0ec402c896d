"""The `{deployment}-vault-operator` managed policy (stacks/constructs/vault/
operator_policy.py) against what the vault runbook (docs/runbooks/vault.md) has an
operator call in the recovery account: each step runs in the sandbox as a role there with
only that policy (a refusal fails the test), every action authorized for it is recorded,
and the policy allows no action the steps did not need. Deleting an HSM stays
break-glass: the role is refused it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from hsmdr.cli import main
from lambdas.drill.report import REPORT_PREFIX as DRILL_REPORTS
from lambdas.restore.report import REPORT_PREFIX as RESTORE_REPORTS
from sandbox.permissions import enforcer as enforcement
from sandbox.permissions.policy import Principal
from sandbox.session import Sandbox
from sandbox.vault_scenarios import RECOVERY_ACCOUNT, REFRESH_WORKFLOW, share, vault_config
from stacks.constructs.shared.operator_policy import UNSCOPED_ACTIONS
from stacks.names import restore_state_machine_name, vault_operator_policy_name, vault_stack_name
from tests.sandbox.test_operator_policy import record_actions
from tests.speedups import quick_follow

pytestmark = pytest.mark.slow

REGION = "us-east-1"  # the vault region of the sandbox's recovery account
CONFIG = ["--config", str(vault_config(keys=False))]


@pytest.fixture
def vault() -> Iterator[tuple[Sandbox, str, dict[str, Any]]]:
    """Production shared a backup and the vault refreshed; a role of the recovery account
    with nothing but the vault operator policy; that policy's document."""
    with Sandbox(vault_config(keys=False), profile="test") as sandbox:
        sandbox.seed_protected_clusters()
        share(sandbox)
        name = sandbox.config.deployment_name
        stack = sandbox.deployments[vault_stack_name(name)]
        assert stack.run_state_machine(REFRESH_WORKFLOW, {}, timeout=600).status == "SUCCEEDED"
        iam = stack.client("iam")
        [policy] = [
            p
            for p in iam.list_policies(Scope="Local")["Policies"]
            if p["PolicyName"] == vault_operator_policy_name(name)
        ]
        role = iam.create_role(RoleName="vault-operator", AssumeRolePolicyDocument="{}")["Role"]
        iam.attach_role_policy(RoleName="vault-operator", PolicyArn=policy["Arn"])
        version = iam.get_policy_version(
            PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"]
        )["PolicyVersion"]["Document"]
        document = json.loads(version) if isinstance(version, str) else version
        yield sandbox, str(role["Arn"]), document


def run_json(capsys: pytest.CaptureFixture[str], command: list[str]) -> tuple[int, Any]:
    capsys.readouterr()
    code = main([*command, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.denials_expected  # only the break-glass DeleteHsm at the end, checked there
def test_the_vault_operator_policy_allows_what_the_runbook_calls_and_no_other_action(
    vault: tuple[Sandbox, str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    sandbox, role, document = vault
    name = sandbox.config.deployment_name
    quick_follow(monkeypatch)
    called = record_actions(monkeypatch, role)
    assert role.split(":")[4] == RECOVERY_ACCOUNT
    with enforcement.acting_as(Principal.role(role)):
        # 1. What the vault holds (the runbook's describe-backups)
        cloudhsm = boto3.client("cloudhsmv2", region_name=REGION)
        backups = cloudhsm.describe_backups(Filters={"states": ["READY"]})["Backups"]
        vault_backups = [
            b for b in backups if {"Key": "hsmdr:vault", "Value": name} in b.get("TagList", [])
        ]
        assert vault_backups, backups
        # 2. The vault's restore, started as the runbook says, followed and its report read
        states = boto3.client("stepfunctions", region_name=REGION)
        machine = (
            f"arn:aws:states:{REGION}:{RECOVERY_ACCOUNT}:stateMachine:"
            f"{restore_state_machine_name(name)}"
        )
        source = vault_backups[0]["TagList"]
        [cluster] = [t["Value"] for t in source if t["Key"] == "hsmdr:source-cluster"]
        restore = states.start_execution(
            stateMachineArn=machine, input=json.dumps({"source_cluster_id": cluster})
        )["executionArn"]
        followed = main(["follow", restore])
        page = tmp_path / "restore.html"
        report_code, read = run_json(capsys, ["report", restore, "--html", str(page)])
        # 3. The vault's drill, started, then read
        drill_code, drill = run_json(
            capsys, ["drill", "start", "--vault", *CONFIG, "--poll-seconds", "1", "--follow"]
        )
        status_code, status = run_json(capsys, ["drill", "status", "--vault", *CONFIG])
        drill_report_code, drill_report = run_json(capsys, ["drill", "report", "--vault", *CONFIG])
    # Nothing was refused, and each step did what the runbook expects of it
    assert sandbox.permissions_report()["denied_calls"] == []
    assert (followed, report_code) == (0, 0), read
    stored = read["stored_report"]
    assert "error" not in stored, stored
    assert stored["json_key"].startswith(RESTORE_REPORTS)
    assert stored["report"]["execution"] == restore
    assert stored["report"]["status"] == "SUCCEEDED", stored["report"]
    assert restore in page.read_text(encoding="utf-8")
    assert drill_code == 0 and drill["execution_status"] == "SUCCEEDED", drill
    assert status_code == 0 and status["drills"][0]["execution_arn"] == drill["execution_arn"]
    assert drill_report_code == 0 and drill_report["markdown_key"].startswith(DRILL_REPORTS)
    # The policy allows exactly the actions called, "*" only for what has no resource
    allowed = {
        action
        for statement in document["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert allowed == called
    for statement in document["Statement"]:
        if statement["Resource"] == "*":
            assert set(statement["Action"]) <= set(UNSCOPED_ACTIONS)
    # Deleting an HSM (VAULT_HOLDS_HSM) is break-glass: this role is refused it
    [restored] = [
        c
        for c in sandbox.worlds[RECOVERY_ACCOUNT].clusters(REGION)
        if c["State"] == "ACTIVE" and c["Hsms"]
    ]
    with enforcement.acting_as(Principal.role(role)), pytest.raises(ClientError) as refused:
        cloudhsm.delete_hsm(ClusterId=restored["ClusterId"], HsmId=restored["Hsms"][0]["HsmId"])
    assert "AccessDenied" in str(refused.value)
    [denied] = sandbox.permissions_report()["denied_calls"]
    assert denied["operation"] == "cloudhsmv2.DeleteHsm"
