"""The restore workflow in the templates: its permissions and its wiring, in the main
stack and in the DR-region stack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.core.env import Env
from tests.conftest import Synthesized
from tests.infra.test_backup_copies import role_statements
from tests.infra.test_stack import function, resources

DR_STACK = "hsmdr-sandbox-dr-us-west-2"
SERVICE = "restore-cluster"


def arn(rest: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":{rest}"]]}


def actions(statement: dict[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def statement_with(template: dict[str, Any], action: str) -> dict[str, Any]:
    [found] = [s for s in role_statements(template, SERVICE) if action in actions(s)]
    return found


def granted(template: dict[str, Any]) -> set[str]:
    return set().union(*(actions(s) for s in role_statements(template, SERVICE)))


def test_cloudhsm_actions_are_exactly_what_a_restore_needs(synthesized: Synthesized) -> None:
    cloudhsm = {a for a in granted(synthesized.template) if a.startswith("cloudhsm:")}
    assert cloudhsm == {
        "cloudhsm:DescribeClusters",
        "cloudhsm:DescribeBackups",
        "cloudhsm:CreateCluster",
        "cloudhsm:TagResource",
        "cloudhsm:CreateHsm",
        "cloudhsm:DeleteHsm",
    }


def test_create_cluster_needs_this_projects_request_tags(synthesized: Synthesized) -> None:
    create = statement_with(synthesized.template, "cloudhsm:CreateCluster")
    assert actions(create) == {"cloudhsm:CreateCluster"}
    assert create["Resource"] == [
        arn("cloudhsm:us-east-1:123456789012:backup/*"),
        arn("cloudhsm:us-west-2:123456789012:backup/*"),
    ]
    assert create["Condition"]["StringEquals"] == {
        "aws:RequestTag/managed-by": "cloudhsm-dr",
        "aws:RequestTag/hsmdr:deployment": "hsmdr-sandbox",
    }
    keys = create["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]
    assert "hsmdr:restore-id" in keys and "hsmdr:golden" not in keys
    tag = statement_with(synthesized.template, "cloudhsm:TagResource")
    assert tag["Condition"] == create["Condition"]


def test_hsm_changes_are_limited_to_clusters_tagged_by_this_deployment(
    synthesized: Synthesized,
) -> None:
    hsms = statement_with(synthesized.template, "cloudhsm:DeleteHsm")
    assert actions(hsms) == {"cloudhsm:CreateHsm", "cloudhsm:DeleteHsm"}
    assert hsms["Resource"] == [
        arn("cloudhsm:us-east-1:123456789012:cluster/*"),
        arn("cloudhsm:us-west-2:123456789012:cluster/*"),
    ]
    assert hsms["Condition"] == {
        "StringEquals": {
            "aws:ResourceTag/managed-by": "cloudhsm-dr",
            "aws:ResourceTag/hsmdr:deployment": "hsmdr-sandbox",
        }
    }


def test_parameters_are_written_under_the_deployments_path_only(
    synthesized: Synthesized,
) -> None:
    write = statement_with(synthesized.template, "ssm:PutParameter")
    assert write["Resource"] == [
        arn("ssm:us-east-1:123456789012:parameter/hsmdr/hsmdr-sandbox/*"),
        arn("ssm:us-west-2:123456789012:parameter/hsmdr/hsmdr-sandbox/*"),
    ]
    reads = [
        s
        for s in role_statements(synthesized.template, SERVICE)
        if actions(s) == {"ssm:GetParameter"}
    ]
    assert [s["Resource"] for s in reads] == [
        arn("ssm:us-east-1:123456789012:parameter/hsmdr-sandbox/customerCA.crt")
    ]


def test_ec2_and_the_service_linked_role_as_cloudhsm_needs_them(synthesized: Synthesized) -> None:
    ec2 = statement_with(synthesized.template, "ec2:DescribeSubnets")
    assert "ec2:CreateNetworkInterface" in actions(ec2)
    assert ec2["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}}
    role = statement_with(synthesized.template, "iam:CreateServiceLinkedRole")
    assert role["Condition"] == {"StringEquals": {"iam:AWSServiceName": "cloudhsm.amazonaws.com"}}


def test_the_dr_stack_restores_into_its_own_region_only(synthesized: Synthesized) -> None:
    template = synthesized.templates[DR_STACK]
    hsms = statement_with(template, "cloudhsm:DeleteHsm")
    assert hsms["Resource"] == arn("cloudhsm:us-west-2:123456789012:cluster/*")
    create = statement_with(template, "cloudhsm:CreateCluster")
    assert create["Resource"] == arn("cloudhsm:us-west-2:123456789012:backup/*")
    write = statement_with(template, "ssm:PutParameter")
    assert write["Resource"] == arn("ssm:us-west-2:123456789012:parameter/hsmdr/hsmdr-sandbox/*")


def definition_text(machine: dict[str, Any]) -> str:
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)


@pytest.mark.parametrize("stack", ["hsmdr-sandbox", DR_STACK])
def test_state_machine_is_named_logged_traced_and_uses_its_stacks_function(
    synthesized: Synthesized, stack: str
) -> None:
    template = synthesized.templates[stack]
    [machine] = [
        m
        for m in resources(template, "AWS::StepFunctions::StateMachine").values()
        if m["Properties"]["StateMachineName"] == "hsmdr-sandbox-restore-cluster"
    ]
    props = machine["Properties"]
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    definition = definition_text(machine)
    function_id, function_props = function(template, SERVICE)
    assert function_id in definition
    assert function_props["Handler"] == "lambdas.handlers.restore_cluster.handler"
    for state in (
        "IdentifyBackup",
        "CreateCluster",
        "CreateFirstHsm",
        "PublishClientConfig",
        "NotifyServiceRestored",
        "VerifyRecovery",
        "VerifyKeys",
        "AddNextHsm",
        "FinalReport",
        "ReportFailure",
        "NotifyFailure",
    ):
        assert f'"{state}"' in definition
    assert '"DeleteCluster"' not in definition


def test_function_environment_carries_the_restore_settings(synthesized: Synthesized) -> None:
    _, props = function(synthesized.template, SERVICE)
    settings = json.loads(props["Environment"]["Variables"][Env.RESTORE_SETTINGS])
    assert settings["primary_region"] == "us-east-1"
    assert settings["dr_regions"] == ["us-west-2"]
    assert settings["trust_anchor_parameter"] == "/hsmdr-sandbox/customerCA.crt"
    assert (settings["clusters_per_region_quota"], settings["hsms_per_region_quota"]) == (4, 6)
