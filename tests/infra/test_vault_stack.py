"""The recovery-account vault: the main stack's share job and the `<name>-vault` stack,
only with recovery_account, in the recovery account, with IAM that deletes only what
the vault owns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.backups.share_settings import SHARE_SETTINGS
from lambdas.vault.settings import VAULT_SETTINGS
from tests.conftest import config_data
from tests.synthesis import Synthesized, synthesis

pytestmark = pytest.mark.slow

RECOVERY = "210987654321"
VAULT_STACK = "hsmdr-sandbox-vault"
SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-0b1c2d3e4f5a60728"]


def vault_app() -> Synthesized:
    data = config_data()
    data["recovery_account"] = {"account": RECOVERY, "subnets": {"us-east-1": SUBNETS}}
    return synthesis(data)


def resources(template: dict[str, Any], prefix: str, kind: str) -> list[dict[str, Any]]:
    return [
        r
        for lid, r in template["Resources"].items()
        if lid.startswith(prefix) and r["Type"] == kind
    ]


def statements(template: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [
        s
        for p in resources(template, prefix, "AWS::IAM::Policy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def by_action(found: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    def actions(s: dict[str, Any]) -> list[str]:
        return [s["Action"]] if isinstance(s["Action"], str) else s["Action"]

    return [s for s in found if action in actions(s)]


def test_without_recovery_account_nothing_of_the_vault_is_deployed(synthesized: Any) -> None:
    assert VAULT_STACK not in synthesized.templates
    assert not [lid for lid in synthesized.template["Resources"] if lid.startswith("BackupSharing")]


def test_the_vault_stack_is_in_the_recovery_account_and_region() -> None:
    app = vault_app()
    assert app.accounts[VAULT_STACK] == RECOVERY
    assert app.regions[VAULT_STACK] == "us-east-1"
    template = app.templates[VAULT_STACK]
    [function] = resources(template, "VaultRefreshSteps", "AWS::Lambda::Function")
    settings = json.loads(function["Properties"]["Environment"]["Variables"][VAULT_SETTINGS])
    assert settings["subnet_ids"] == SUBNETS
    assert settings["rpo_hours"] == 48  # twice the deployment's 24
    assert resources(template, "VaultRefreshWorkflow", "AWS::StepFunctions::StateMachine")
    assert resources(template, "VaultVerificationVerifyVault", "AWS::Lambda::Function")
    # its own topics
    assert resources(template, "Alerting", "AWS::SNS::Topic")


def test_production_shares_only_with_the_recovery_account() -> None:
    template = vault_app().template
    [function] = resources(template, "BackupSharingShareBackups", "AWS::Lambda::Function")
    settings = json.loads(function["Properties"]["Environment"]["Variables"][SHARE_SETTINGS])
    assert settings["recovery_account"] == RECOVERY
    found = statements(template, "BackupSharingShareBackups")
    [tag] = by_action(found, "cloudhsm:TagResource")
    assert tag["Condition"]["StringEquals"] == {"aws:RequestTag/hsmdr:shared-with": RECOVERY}
    assert tag["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": ["hsmdr:shared-with"]}
    assert not by_action(found, "cloudhsm:DeleteBackup")
    assert not by_action(found, "cloudhsm:DeleteCluster")


def test_the_vault_role_deletes_only_what_the_vault_owns() -> None:
    found = statements(vault_app().templates[VAULT_STACK], "VaultRefreshSteps")
    [delete_backup] = by_action(found, "cloudhsm:DeleteBackup")
    assert delete_backup["Condition"]["StringEquals"]["aws:ResourceTag/hsmdr:vault"] == (
        "hsmdr-sandbox"
    )
    [create_hsm] = by_action(found, "cloudhsm:CreateHsm")
    assert create_hsm["Condition"]["StringEquals"]["aws:ResourceTag/hsmdr:vault"] == (
        "hsmdr-sandbox"
    )
    [create_cluster] = by_action(found, "cloudhsm:CreateCluster")
    # only from the production account's (shared) backups, with the vault's tags
    assert "123456789012" in json.dumps(create_cluster["Resource"])
    assert create_cluster["Condition"]["StringEquals"]["aws:RequestTag/hsmdr:vault"] == (
        "hsmdr-sandbox"
    )
    [delete_hsm] = by_action(found, "cloudhsm:DeleteHsm")
    assert delete_hsm["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["us-east-1"]}}
    # keep (the default) never deletes a cluster
    assert not by_action(found, "cloudhsm:DeleteCluster")


def test_the_vault_stack_restores_from_vault_backups_into_the_vault_region() -> None:
    template = vault_app().templates[VAULT_STACK]
    [function] = [
        f
        for f in resources(template, "RestoreCluster", "AWS::Lambda::Function")
        if "HSMDR_RESTORE_SETTINGS" in f["Properties"]["Environment"]["Variables"]
    ]
    settings = json.loads(
        function["Properties"]["Environment"]["Variables"]["HSMDR_RESTORE_SETTINGS"]
    )
    # Only this deployment's vault backups, into the vault region, on the vault's subnets
    assert settings["vault_deployment"] == "hsmdr-sandbox"
    assert settings["primary_region"] == "us-east-1"
    assert settings["subnets"] == {"us-east-1": SUBNETS}
    # Production's trust anchor and key verifier are out of this account's reach
    assert settings["trust_anchor_parameter"] is None
    assert settings["key_verification"] is False
    [machine] = resources(template, "RestoreCluster", "AWS::StepFunctions::StateMachine")
    assert "key verifier is deployed in the production account" in json.dumps(machine["Properties"])
    # CreateCluster only from backups of this (the recovery) account's vault region
    [create] = by_action(statements(template, "RestoreCluster"), "cloudhsm:CreateCluster")
    assert "backup/*" in json.dumps(create["Resource"])
    assert "us-east-1" in json.dumps(create["Resource"])
    assert resources(template, "Reports", "AWS::S3::Bucket")
