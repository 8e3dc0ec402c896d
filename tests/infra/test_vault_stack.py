"""The recovery-account vault: the main stack's share job and the `<name>-vault` stack,
only with recovery_account, in the recovery account, with IAM that deletes only what
the vault owns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.backups.share_settings import SHARE_SETTINGS
from lambdas.drill.settings import DrillEnv
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
    # No vault verifier configured: the report says so and names the field that adds one
    assert "set recovery_account.key_verification" in json.dumps(machine["Properties"])
    assert not resources(template, "VaultKeyVerifier", "AWS::Lambda::Function")
    # CreateCluster only from backups of this (the recovery) account's vault region
    [create] = by_action(statements(template, "RestoreCluster"), "cloudhsm:CreateCluster")
    assert "backup/*" in json.dumps(create["Resource"])
    assert "us-east-1" in json.dumps(create["Resource"])
    assert resources(template, "Reports", "AWS::S3::Bucket")


VAULT_KEYS = {
    "vpc_id": "vpc-0a1b2c3d4e5f60718",
    "subnet_ids": ["subnet-0c1d2e3f4a5b60738"],
    "crypto_user_secret_name": "hsmdr/vault-key-verifier",
}


@pytest.fixture(scope="module")
def keyed_vault() -> dict[str, Any]:
    data = config_data()
    data["recovery_account"] = {
        "account": RECOVERY,
        "subnets": {"us-east-1": SUBNETS},
        "key_verification": dict(VAULT_KEYS),
    }
    return synthesis(data).templates[VAULT_STACK]


def env_of(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    [function] = resources(template, prefix, "AWS::Lambda::Function")
    return dict(function["Properties"]["Environment"]["Variables"])


def test_the_vault_verifier_has_its_own_bucket_secret_and_vault_mode_capture(
    keyed_vault: dict[str, Any],
) -> None:
    template = keyed_vault
    capture = env_of(template, "VaultKeyVerifierCaptureKeyManifest")
    verify = env_of(template, "VaultKeyVerifierVerifyKeys")
    # Both read this stack's own bucket and the recovery account's secret
    for env in (capture, verify):
        assert env["HSMDR_KEY_MANIFEST_BUCKET"]["Ref"].startswith("VaultKeyVerifierManifests")
        assert env["HSMDR_CRYPTO_USER_SECRET"] == "hsmdr/vault-key-verifier"
        assert env["HSMDR_KEY_VAULT_DEPLOYMENT"] == "hsmdr-sandbox"
        assert env["HSMDR_KEY_CLUSTERS"] == "[]"  # no production cluster is captured
    [bucket] = [
        r
        for lid, r in template["Resources"].items()
        if lid == capture["HSMDR_KEY_MANIFEST_BUCKET"]["Ref"]
    ]
    encryption = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    # The capture reads tags of the vault's clusters only; neither function reads
    # anything of production's
    found = statements(template, "VaultKeyVerifierCaptureKeyManifest")
    [tags] = by_action(found, "cloudhsm:ListTags")
    assert tags["Condition"]["StringEquals"]["aws:ResourceTag/hsmdr:vault"] == "hsmdr-sandbox"
    assert "123456789012" not in json.dumps(found + statements(template, "VaultKeyVerifierVerify"))
    assert not by_action(statements(template, "VaultKeyVerifierVerify"), "s3:PutObject")


def test_the_vault_verifier_group_has_no_standing_hsm_rule(keyed_vault: dict[str, Any]) -> None:
    [group] = resources(keyed_vault, "VaultKeyVerifierVerifierGroup", "AWS::EC2::SecurityGroup")
    assert [(e["FromPort"], e["ToPort"]) for e in group["Properties"]["SecurityGroupEgress"]] == [
        (443, 443)
    ]
    assert not resources(keyed_vault, "VaultKeyVerifier", "AWS::EC2::SecurityGroupIngress")


def test_the_refresh_captures_keys_and_opens_only_vault_cluster_groups(
    keyed_vault: dict[str, Any],
) -> None:
    template = keyed_vault
    env = env_of(template, "VaultRefreshSteps")
    assert "HSMDR_VAULT_VERIFIER_SECURITY_GROUP" in env
    found = statements(template, "VaultRefreshSteps")
    # Besides what CloudHSM does through its own calls (aws:CalledVia), only this:
    [ingress] = [s for s in by_action(found, "ec2:AuthorizeSecurityGroupIngress") if "Sid" in s]
    assert ingress["Condition"] == {"StringLike": {"ec2:ResourceTag/hsmdr:vault-refresh": "*"}}
    [tag] = [s for s in by_action(found, "ec2:CreateTags") if "Sid" in s]
    assert tag["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": ["hsmdr:vault-refresh"]}
    [egress] = [s for s in by_action(found, "ec2:AuthorizeSecurityGroupEgress") if "Sid" in s]
    assert "VaultKeyVerifierVerifierGroup" in json.dumps(egress["Resource"])
    [machine] = resources(template, "VaultRefreshWorkflow", "AWS::StepFunctions::StateMachine")
    states = refresh_states(machine)
    # The capture runs once, while the HSM is ACTIVE: before the REMOVE branch deletes it
    choices = states["HsmAction?"]["Choices"]
    first = choices[0]
    assert first["Next"] == "OpenCaptureNetwork"
    assert {"Variable": "$.job.run.next", "StringEquals": "remove"} in first["And"]
    assert {"Variable": "$.job.run.keys", "IsPresent": False} in first["And"]
    assert [c["Next"] for c in choices if c.get("StringEquals") == "remove"] == ["DeleteHsm"]
    assert states["OpenCaptureNetwork"]["Next"] == "CaptureKeys"
    assert states["CaptureKeys"]["Next"] == "RecordCapture"
    # A failed capture is recorded and the HSM still removed; a failed record cleans up
    for state in ("OpenCaptureNetwork", "CaptureKeys"):
        assert states[state]["Catch"][0]["Next"] == "RecordCaptureError"
    for state in ("RecordCapture", "RecordCaptureError"):
        assert states[state]["Next"] == "DeleteHsm"
        assert states[state]["Catch"][0]["Next"] == "Cleanup"
    # Once the backup is kept: a page when the keys changed or were not captured
    assert states["FinishCluster"]["Next"] == "KeysNeedAttention?"
    assert states["KeysNeedAttention?"]["Choices"][0]["Next"] == "NotifyKeys"
    assert states["KeysNeedAttention?"]["Default"] == "RefreshDone"


def refresh_states(machine: dict[str, Any]) -> dict[str, Any]:
    """The refresh's per-backup states (inside the Map), by name."""
    raw = machine["Properties"]["DefinitionString"]
    if isinstance(raw, dict):
        raw = "".join(p if isinstance(p, str) else "ARN" for p in raw["Fn::Join"][1])
    definition = json.loads(raw)
    processor = definition["States"]["EachRefresh"]["ItemProcessor"]
    return dict(processor["States"])


def test_the_vault_restore_checks_keys_with_the_vault_verifier(
    keyed_vault: dict[str, Any],
) -> None:
    [function] = [
        f
        for f in resources(keyed_vault, "RestoreCluster", "AWS::Lambda::Function")
        if "HSMDR_RESTORE_SETTINGS" in f["Properties"]["Environment"]["Variables"]
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    assert json.loads(variables["HSMDR_RESTORE_SETTINGS"])["key_verification"] is True
    [machine] = resources(keyed_vault, "RestoreCluster", "AWS::StepFunctions::StateMachine")
    definition = json.dumps(machine["Properties"])
    assert "VaultKeyVerifierVerifyKeys" in definition
    assert "KeyVerificationNotRun" not in definition


# The drill from the vault ------------------------------------------------------------


def vault_drill_settings(template: dict[str, Any]) -> dict[str, Any]:
    [function] = resources(template, "DrDrillSteps", "AWS::Lambda::Function")
    variables = function["Properties"]["Environment"]["Variables"]
    settings: dict[str, Any] = json.loads(variables[DrillEnv.SETTINGS])
    return settings


def test_the_vault_stack_drills_vault_backups_in_the_vault_region() -> None:
    template = vault_app().templates[VAULT_STACK]
    settings = vault_drill_settings(template)
    # From this deployment's vault backups, in the vault region only, on the vault's
    # subnets; its own backups deleted at teardown (no copy job runs in this account)
    assert settings["vault_deployment"] == "hsmdr-sandbox"
    assert settings["default_source"] == "vault"
    assert settings["primary_region"] == "us-east-1"
    assert settings["dr_regions"] == []
    assert settings["subnets"] == {"us-east-1": SUBNETS}
    assert settings["delete_drill_backups"] is True
    # No verifier in the vault stack yet: the check is not run, not required, and the
    # report names the field that deploys one
    assert settings["key_verification"] is False
    assert settings["require_key_verification"] is False
    assert settings["key_verification_field"] == "recovery_account.key_verification"
    [machine] = resources(template, "DrDrillWorkflow", "AWS::StepFunctions::StateMachine")
    assert machine["Properties"]["StateMachineName"] == "hsmdr-sandbox-dr-drill"
    # Reports to this stack's bucket, pages this stack's topic
    [function] = resources(template, "DrDrillSteps", "AWS::Lambda::Function")
    variables = function["Properties"]["Environment"]["Variables"]
    # (the restore's bucket: the stack has one reports bucket, plus its access logs)
    assert variables[DrillEnv.REPORT_BUCKET]["Ref"] in bucket_ids(template)
    assert not variables[DrillEnv.REPORT_BUCKET]["Ref"].startswith("ReportsReportAccessLogs")
    assert variables[DrillEnv.PAGE_TOPIC_ARN]["Ref"].startswith("AlertingTopic")


def bucket_ids(template: dict[str, Any]) -> list[str]:
    return [
        lid
        for lid, r in template["Resources"].items()
        if lid.startswith("Reports") and r["Type"] == "AWS::S3::Bucket"
    ]


def test_the_vault_drill_may_change_nothing_of_the_vault() -> None:
    found = statements(vault_app().templates[VAULT_STACK], "DrDrillSteps")
    vault_tagged = {"Null": {"aws:ResourceTag/hsmdr:vault": "false"}}
    [clusters] = [s for s in found if s.get("Sid") == "NeverChangeVaultClusters"]
    [backups] = [s for s in found if s.get("Sid") == "NeverChangeVaultBackups"]
    for deny in (clusters, backups):
        assert deny["Effect"] == "Deny" and deny["Condition"] == vault_tagged
    assert {
        "cloudhsm:DeleteCluster",
        "cloudhsm:CreateHsm",
        "cloudhsm:TagResource",
        "cloudhsm:UntagResource",
    } <= set(clusters["Action"])
    assert "cluster/*" in json.dumps(clusters["Resource"])
    assert {
        "cloudhsm:DeleteBackup",
        "cloudhsm:ModifyBackupAttributes",
        "cloudhsm:TagResource",
        "cloudhsm:UntagResource",
    } <= set(backups["Action"])
    assert "backup/*" in json.dumps(backups["Resource"])
    # What it may delete: backups tagged hsmdr:drill only; no standby to borrow here
    [delete_backup] = [
        s for s in by_action(found, "cloudhsm:DeleteBackup") if s["Effect"] == "Allow"
    ]
    assert delete_backup["Condition"] == {"StringLike": {"aws:ResourceTag/hsmdr:drill": "*"}}
    assert not [s for s in found if s.get("Sid") == "DrillAddsHsmToStandbys"]
    [tag_as_vault] = [s for s in found if s.get("Sid") == "NeverTagAsTheVault"]
    assert tag_as_vault["Effect"] == "Deny"


def test_the_vault_drill_runs_on_its_own_schedule_and_its_alarms_page_the_vault() -> None:
    template = vault_app().templates[VAULT_STACK]
    [schedule] = resources(template, "DrDrillSchedule", "AWS::Scheduler::Schedule")
    assert schedule["Properties"]["ScheduleExpression"] == "cron(0 9 1 1,4,7,10 ? *)"
    alarms = {
        lid: r["Properties"]
        for lid, r in template["Resources"].items()
        if lid.startswith("DrillMonitoring") and r["Type"] == "AWS::CloudWatch::Alarm"
    }
    overdue = next(p for lid, p in alarms.items() if lid.startswith("DrillMonitoringDrillOverdue"))
    rto = next(p for lid, p in alarms.items() if lid.startswith("DrillMonitoringDrillRto"))
    assert overdue["Threshold"] == 92 and rto["Threshold"] == 60 * 60
    assert "from the vault" in overdue["AlarmDescription"]
    assert "--vault" in rto["AlarmDescription"]
    for alarm in (overdue, rto):
        assert all(a["Ref"].startswith("Alerting") for a in alarm["AlarmActions"])
    # the watcher reads the drill's metric in the vault region
    assert resources(template, "DrillMonitoringDrillWatch", "AWS::Lambda::Function")

    data = config_data()
    data["recovery_account"] = {
        "account": RECOVERY,
        "subnets": {"us-east-1": SUBNETS},
        "drill_schedule": None,
    }
    off = synthesis(data).templates[VAULT_STACK]
    assert not resources(off, "DrDrillSchedule", "AWS::Scheduler::Schedule")
    assert resources(off, "DrDrillWorkflow", "AWS::StepFunctions::StateMachine")


def test_a_bad_drill_schedule_is_refused_naming_the_field() -> None:
    from stacks.config import ConfigError, parse_config

    data = config_data()
    data["recovery_account"] = {
        "account": RECOVERY,
        "subnets": {"us-east-1": SUBNETS},
        "drill_schedule": "every quarter",
    }
    with pytest.raises(ConfigError, match=r"recovery_account\.drill_schedule"):
        parse_config(data)


def test_a_vault_key_verifier_is_handed_to_the_drill_as_in_the_main_stack() -> None:
    # Given a vault stack whose key verifier exists (its function and security group)
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from sandbox.drill_scenarios import KEY_VERIFICATION
    from stacks.config import parse_config
    from stacks.constructs.alerting.alerting import Alerting
    from stacks.constructs.drill.dr_drill import DrDrill
    from stacks.constructs.shared.reports_bucket import ReportsBucket
    from stacks.constructs.vault.settings import vault_drill_config

    data = config_data()
    data["key_verification"] = dict(KEY_VERIFICATION)  # drills.require_key_verification: true
    data["recovery_account"] = {"account": RECOVERY, "subnets": {"us-east-1": SUBNETS}}
    config = parse_config(data).vault_config()
    stack = Stack(App(), "VaultDrill", env=Environment(account=RECOVERY, region="us-east-1"))
    alerting = Alerting(stack, "Alerting", config=config)
    reports = ReportsBucket(stack, "Reports", deployment_name=config.deployment_name)
    group = ec2.SecurityGroup(stack, "VerifierGroup", vpc=ec2.Vpc(stack, "Vpc", max_azs=2))
    verify = lambda_.Function(
        stack,
        "Verify",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): return {}"),
    )
    # When the drill is built with it
    DrDrill(
        stack,
        "DrDrill",
        config=vault_drill_config(config),
        alerting=alerting,
        verify_keys=verify,
        verifier_group=group,
        reports=reports,
        vault_deployment=config.deployment_name,
    )
    template = Template.from_stack(stack).to_json()
    # Then the key check runs and is required (drills.require_key_verification)
    settings = vault_drill_settings(template)
    assert settings["key_verification"] is True
    assert settings["require_key_verification"] is True
    [function] = resources(template, "DrDrillSteps", "AWS::Lambda::Function")
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables[DrillEnv.VERIFIER_SECURITY_GROUP]["Fn::GetAtt"][0].startswith("VerifierGroup")
    # the state machine invokes the verifier, and the drill may open only its egress
    [machine] = resources(template, "DrDrillWorkflow", "AWS::StepFunctions::StateMachine")
    assert "Verify" in json.dumps(machine["Properties"]["DefinitionString"])
    found = statements(template, "DrDrillSteps")
    [egress] = [s for s in found if s.get("Sid") == "EgressOnlyFromTheVerifier"]
    assert "VerifierGroup" in json.dumps(egress["Resource"])
    assert [s for s in found if s.get("Sid") == "NeverChangeVaultClusters"]
