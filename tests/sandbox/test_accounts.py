"""The sandbox deploys each stack into its own emulated account: the vault stack into
`recovery_account.account`, where its functions and workflows call as that account and
see only what production shared with it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from sandbox.permissions import in_account
from sandbox.session import SANDBOX_CONFIG, Sandbox, stack_accounts, stack_regions
from stacks.config import load_config
from stacks.names import dr_stack_name, vault_stack_name

PRODUCTION = "123456789012"
RECOVERY = "210987654321"
DEPLOYMENT = "hsmdr-sandbox"
VAULT_STACK = vault_stack_name(DEPLOYMENT)
HANDLER = "tests.sandbox.test_accounts.look_around"
SDK_DESCRIBE_BACKUPS = "arn:aws:states:::aws-sdk:cloudhsmv2:describeBackups"
CONFIGURED_SUBNETS = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
VAULT_CONFIG = f"""
recovery_account:
  account: "{RECOVERY}"
  subnets:
    us-east-1: [subnet-0aaaaaaaaaaaaaaaa, subnet-0bbbbbbbbbbbbbbbb]
"""


def look_around(event: Any, context: Any) -> dict[str, Any]:
    """What a vault function sees: its clusters and the backups shared with it."""
    hsm = boto3.client("cloudhsmv2")
    return {
        "clusters": [c["ClusterId"] for c in hsm.describe_clusters()["Clusters"]],
        "shared": [b["BackupArn"] for b in hsm.describe_backups(Shared=True)["Backups"]],
        "function": context.invoked_function_arn,
    }


def _vault_template() -> dict[str, Any]:
    """A function and a workflow that invokes it, each with a role of its own."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
            for service in ("lambda.amazonaws.com", "states.amazonaws.com")
        ],
    }

    def role(statement: dict[str, Any]) -> dict[str, Any]:
        return {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": trust,
                "Policies": [
                    {
                        "PolicyName": "only",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
                    }
                ],
            },
        }

    return {
        "Resources": {
            "LookRole": role(
                {
                    "Effect": "Allow",
                    "Action": ["cloudhsm:DescribeClusters", "cloudhsm:DescribeBackups"],
                    "Resource": "*",
                }
            ),
            "LookFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": HANDLER,
                    "Runtime": "python3.13",
                    "Role": {"Fn::GetAtt": ["LookRole", "Arn"]},
                    "Code": {"ZipFile": "# dispatched in-process by the sandbox"},
                    "Environment": {
                        "Variables": {
                            "POWERTOOLS_SERVICE_NAME": "look-around",
                            "VAULT_SETTINGS": json.dumps({"subnet_ids": CONFIGURED_SUBNETS}),
                        }
                    },
                    "Timeout": 20,
                },
                "DependsOn": ["LookRole"],
            },
            "WorkflowRole": role(
                {
                    "Effect": "Allow",
                    "Action": "lambda:InvokeFunction",
                    "Resource": {"Fn::GetAtt": ["LookFunction", "Arn"]},
                }
            ),
            "LookWorkflow": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": {"Fn::GetAtt": ["WorkflowRole", "Arn"]},
                    "DefinitionString": {
                        "Fn::Join": [
                            "",
                            [
                                '{"StartAt":"Look","States":{"Look":{"Type":"Task","Resource":"',
                                {"Fn::GetAtt": ["LookFunction", "Arn"]},
                                '","End":true}}}',
                            ],
                        ]
                    },
                },
                "DependsOn": ["WorkflowRole", "LookFunction"],
            },
            "SdkRole": role(
                {"Effect": "Allow", "Action": "cloudhsm:DescribeBackups", "Resource": "*"}
            ),
            "SdkWorkflow": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": {"Fn::GetAtt": ["SdkRole", "Arn"]},
                    "DefinitionString": json.dumps(
                        {
                            "StartAt": "ListShared",
                            "States": {
                                "ListShared": {
                                    "Type": "Task",
                                    "Resource": SDK_DESCRIBE_BACKUPS,
                                    "Parameters": {"Shared": True},
                                    "End": True,
                                }
                            },
                        }
                    ),
                },
                "DependsOn": ["SdkRole"],
            },
        }
    }


@pytest.fixture
def vault_config(tmp_path: Path) -> Path:
    path = tmp_path / "vault.yaml"
    path.write_text(SANDBOX_CONFIG.read_text(encoding="utf-8") + VAULT_CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def sandbox(vault_config: Path) -> Iterator[Sandbox]:
    main = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}}
    with Sandbox(vault_config, templates={DEPLOYMENT: main, VAULT_STACK: _vault_template()}) as box:
        yield box


def test_stack_accounts_put_the_vault_stack_in_the_recovery_account(vault_config: Path) -> None:
    """Given the sandbox config with and without a recovery_account
    When the stacks' accounts and regions are read
    Then the main and DR stacks are the deployment's account's, and the vault stack,
    only with recovery_account, is the recovery account's, in the deployment's region."""
    plain = load_config(SANDBOX_CONFIG)
    vault = load_config(vault_config)
    dr_stack = dr_stack_name(DEPLOYMENT, "us-west-2")

    assert stack_accounts(plain) == {DEPLOYMENT: PRODUCTION, dr_stack: PRODUCTION}
    assert stack_accounts(vault) == {
        DEPLOYMENT: PRODUCTION,
        dr_stack: PRODUCTION,
        VAULT_STACK: RECOVERY,
    }
    assert stack_regions(vault)[VAULT_STACK] == "us-east-1"
    assert VAULT_STACK not in stack_regions(plain)


def test_vault_stack_runs_in_the_recovery_account_and_sees_only_what_is_shared(
    sandbox: Sandbox,
) -> None:
    """Given the vault stack deployed by the sandbox beside production, production's
    seeded cluster, and its newest backup shared with the recovery account (the share
    promoted to a standard RAM share)
    When the vault function is invoked directly and through its workflow, and a
    workflow lists shared backups with an aws-sdk task
    Then each runs as the recovery account (its ARN names it, IAM allowed its calls),
    sees none of production's clusters and lists exactly the shared backup."""
    [cluster_id] = sandbox.seed_protected_clusters(dr_copies=False)
    newest = [b for b in sandbox.world.backups("us-east-1") if b["ClusterId"] == cluster_id][-1]
    arn = newest["BackupArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{RECOVERY}:root"},
                "Action": ["cloudhsm:CreateCluster", "cloudhsm:DescribeBackups"],
                "Resource": arn,
            }
        ],
    }
    boto3.client("cloudhsmv2", region_name="us-east-1").put_resource_policy(
        ResourceArn=arn, Policy=json.dumps(policy)
    )
    sandbox.world.promote_policy_share(arn)
    vault = sandbox.deployments[VAULT_STACK]

    invoked = vault.invoke("look-around").payload
    executed = vault.run_state_machine("LookWorkflow", {})
    sdk_task = vault.run_state_machine("SdkWorkflow", {})

    assert vault.account_id == RECOVERY
    assert sandbox.deployment.account_id == PRODUCTION
    assert invoked["function"].split(":")[4] == RECOVERY
    assert invoked["clusters"] == []
    assert invoked["shared"] == [arn]
    assert executed.status == "SUCCEEDED"
    assert executed.output["shared"] == [arn]
    assert sdk_task.status == "SUCCEEDED", sdk_task.cause
    assert [b["BackupArn"] for b in sdk_task.output["Backups"]] == [arn]
    assert sorted(sandbox.worlds) == [PRODUCTION, RECOVERY]
    assert sandbox.world.account_id == PRODUCTION
    assert sandbox.permissions.denials == []
    assert RECOVERY in sandbox.account_networks


def test_the_vault_stack_gets_subnets_of_the_recovery_accounts_sandbox_vpc(
    sandbox: Sandbox,
) -> None:
    """Given a vault stack whose settings hold the config's recovery_account.subnets
    (ids that exist in no emulated account)
    When the sandbox deploys it
    Then the function's settings name subnets of the recovery account's sandbox VPC in
    the vault region, one per configured id, and none of the configured ids."""
    vault = sandbox.deployments[VAULT_STACK]
    settings = json.loads(vault.function("look-around").environment["VAULT_SETTINGS"])
    with in_account(RECOVERY):
        described = boto3.client("ec2", region_name="us-east-1").describe_subnets(
            SubnetIds=settings["subnet_ids"]
        )["Subnets"]

    assert len(settings["subnet_ids"]) == len(CONFIGURED_SUBNETS)
    assert not set(settings["subnet_ids"]) & set(CONFIGURED_SUBNETS)
    assert {s["SubnetId"] for s in described} == set(settings["subnet_ids"])
    assert len({s["AvailabilityZone"] for s in described}) == len(CONFIGURED_SUBNETS)


def test_without_permission_checks_workflows_still_run_in_their_account(
    vault_config: Path,
) -> None:
    """Given the vault stack deployed with permission enforcement off
    When its workflow runs
    Then its Lambda task still reaches the function of the recovery account (executions
    act as their role, in its account, whether or not calls are checked)."""
    main = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}}
    templates = {DEPLOYMENT: main, VAULT_STACK: _vault_template()}
    with Sandbox(vault_config, templates=templates, enforce_permissions=False) as box:
        executed = box.deployments[VAULT_STACK].run_state_machine("LookWorkflow", {})

    assert executed.status == "SUCCEEDED", executed.cause
    assert executed.output["function"].split(":")[4] == RECOVERY


def test_a_deployment_account_that_is_not_motos_default_needs_no_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a config whose `account` is not moto's default, with a recovery account,
    and no MOTO_ACCOUNT_ID
    When the sandbox seeds production's cluster, shares its newest backup and the vault
    function lists what is shared
    Then seeding and sharing happen in the deployment's account and the vault sees the
    share, with nothing refused."""
    monkeypatch.delenv("MOTO_ACCOUNT_ID", raising=False)
    home = "111122223333"
    path = tmp_path / "elsewhere.yaml"
    text = SANDBOX_CONFIG.read_text(encoding="utf-8").replace(
        f'account: "{PRODUCTION}"', f'account: "{home}"'
    )
    path.write_text(text + VAULT_CONFIG, encoding="utf-8")
    main = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}}
    templates = {DEPLOYMENT: main, VAULT_STACK: _vault_template()}

    with Sandbox(path, templates=templates) as box:
        [cluster_id] = box.seed_protected_clusters(dr_copies=False)
        arn = [b for b in box.world.backups("us-east-1") if b["ClusterId"] == cluster_id][-1][
            "BackupArn"
        ]
        policy = {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": RECOVERY},
                    "Action": "cloudhsm:DescribeBackups",
                    "Resource": arn,
                }
            ]
        }
        boto3.client("cloudhsmv2", region_name="us-east-1").put_resource_policy(
            ResourceArn=arn, Policy=json.dumps(policy)
        )
        box.world.promote_policy_share(arn)
        seen = box.deployments[VAULT_STACK].invoke("look-around").payload

    assert box.world.account_id == home
    assert arn.split(":")[4] == home
    assert seen["shared"] == [arn]
