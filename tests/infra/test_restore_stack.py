"""The restore workflow in the templates: its permissions and its wiring, in the main
stack and in the DR-region stack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.shared.env import Env
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


def allows(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in role_statements(template, SERVICE) if s["Effect"] == "Allow"]


def statement_with(template: dict[str, Any], action: str) -> dict[str, Any]:
    [found] = [s for s in allows(template) if action in actions(s)]
    return found


def granted(template: dict[str, Any]) -> set[str]:
    return set().union(*(actions(s) for s in allows(template)))


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
    hsms = statement_with(synthesized.template, "cloudhsm:CreateHsm")
    assert actions(hsms) == {"cloudhsm:CreateHsm"}
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
    # DeleteHsm takes no resource type and no condition key: "*", in the regions only.
    delete = statement_with(synthesized.template, "cloudhsm:DeleteHsm")
    assert actions(delete) == {"cloudhsm:DeleteHsm"} and delete["Resource"] == "*"
    assert delete["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}
    }


def test_tags_that_unlock_hsm_changes_can_never_reach_a_protected_cluster(
    synthesized: Synthesized,
) -> None:
    assert "cloudhsm:UntagResource" not in granted(synthesized.template)
    [deny] = [s for s in role_statements(synthesized.template, SERVICE) if s["Effect"] == "Deny"]
    assert {"cloudhsm:TagResource", "cloudhsm:UntagResource", "cloudhsm:CreateHsm"} <= actions(deny)
    assert deny["Resource"] == arn("cloudhsm:us-east-1:123456789012:cluster/cluster-sandboxprimary")


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
    regions = {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}
    ec2 = statement_with(synthesized.template, "ec2:CreateNetworkInterface")
    assert ec2["Condition"] == {"Bool": {"aws:ViaAWSService": "true"}, "StringEquals": regions}
    # The function's own call (the recovery subnets' zones) needs no service in between.
    [direct] = [
        s
        for s in allows(synthesized.template)
        if actions(s) == {"ec2:DescribeSubnets"} and "Bool" not in s["Condition"]
    ]
    assert direct["Condition"] == {"StringEquals": regions}
    role = statement_with(synthesized.template, "iam:CreateServiceLinkedRole")
    assert role["Condition"] == {"StringEquals": {"iam:AWSServiceName": "cloudhsm.amazonaws.com"}}


def test_the_dr_stack_restores_into_its_own_region_only(synthesized: Synthesized) -> None:
    template = synthesized.templates[DR_STACK]
    hsms = statement_with(template, "cloudhsm:CreateHsm")
    assert hsms["Resource"] == arn("cloudhsm:us-west-2:123456789012:cluster/*")
    delete = statement_with(template, "cloudhsm:DeleteHsm")
    assert delete["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["us-west-2"]}}
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
    assert function_props["Handler"] == "lambdas.restore.handler.handler"
    for state in (
        "IdentifyBackup",
        "CreateCluster",
        "CreateFirstHsm",
        "PublishClientConfig",
        "NotifyServiceRestored",
        "VerifyRecovery",
        "KeyVerificationNotRun",
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


# Key verification ----------------------------------------------------------------------


def _restore_machine(template: dict[str, Any]) -> dict[str, Any]:
    [machine] = [
        r
        for r in resources(template, "AWS::StepFunctions::StateMachine").values()
        if r["Properties"]["StateMachineName"].endswith("-restore-cluster")
    ]
    return machine


def _machine_invokes(template: dict[str, Any], machine: dict[str, Any]) -> list[Any]:
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    return [
        s["Resource"]
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in actions(s)
    ]


def test_with_key_verification_the_restore_invokes_the_verifier_and_opens_only_its_path() -> None:
    from tests.sandbox.restore_support import key_templates

    template = key_templates()["hsmdr-sandbox"]
    machine = _restore_machine(template)
    definition = json.dumps(machine["Properties"])
    # The state machine may invoke its own function and the verify-keys function: no other
    invoked = json.dumps(_machine_invokes(template, machine))
    assert "KeyVerificationVerifyKeysFunction" in invoked
    assert "RestoreClusterSteps" in invoked
    functions = {
        name
        for name in resources(template, "AWS::Lambda::Function")
        if name in invoked and not name.startswith(("KeyVerificationVerifyKeys", "RestoreCluster"))
    }
    assert functions == set()
    for state in ("OpenKeyNetwork", "VerifyKeys", "RecordKeys", "KeysFailed"):
        assert f'\\"{state}\\"' in definition or state in definition
    # The function: tag a group with the restore id only, ingress only to groups so
    # tagged, egress on the verifier's group only, no revoke
    # (not the EC2 calls CloudHSM makes on the role's behalf: aws:ViaAWSService)
    statements = [s for s in allows(template) if "Bool" not in s.get("Condition", {})]
    [tags] = [s for s in statements if "ec2:CreateTags" in actions(s)]
    assert tags["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == ["hsmdr:restore-id"]
    assert tags["Resource"] == arn("ec2:us-east-1:123456789012:security-group/*")
    [ingress] = [s for s in statements if "ec2:AuthorizeSecurityGroupIngress" in actions(s)]
    assert actions(ingress) == {"ec2:AuthorizeSecurityGroupIngress"}
    assert ingress["Condition"] == {"StringLike": {"ec2:ResourceTag/hsmdr:restore-id": "*"}}
    [egress] = [s for s in statements if "ec2:AuthorizeSecurityGroupEgress" in actions(s)]
    assert actions(egress) == {"ec2:AuthorizeSecurityGroupEgress"}
    assert "VerifierGroup" in json.dumps(egress["Resource"]) and "Condition" not in egress
    assert not any(a.startswith("ec2:Revoke") for s in statements for a in actions(s))
    # The protected clusters' groups stay denied
    denies = [s for s in role_statements(template, SERVICE) if s["Effect"] == "Deny"]
    assert any(
        "ec2:AuthorizeSecurityGroupIngress" in actions(s) and "security-group/sg-" in json.dumps(s)
        for s in denies
    )
    # And the verifier's group reaches the function through its environment
    _, props = function(template, SERVICE)
    assert Env.RESTORE_VERIFIER_SECURITY_GROUP in props["Environment"]["Variables"]


def test_without_key_verification_the_restore_says_so_and_invokes_nothing_else(
    synthesized: Synthesized,
) -> None:
    machine = _restore_machine(synthesized.template)
    definition = json.dumps(machine["Properties"])
    assert "KeyVerificationNotRun" in definition and "OpenKeyNetwork" not in definition
    assert "not configured" in definition
    invoked = json.dumps(_machine_invokes(synthesized.template, machine))
    assert "VerifyKeys" not in invoked
    assert not any(a.startswith("ec2:CreateTags") for a in granted(synthesized.template))


def test_without_a_regional_verifier_the_dr_stack_restore_names_the_field_to_set() -> None:
    from tests.sandbox.restore_support import key_templates

    template = key_templates()[DR_STACK]
    definition = json.dumps(_restore_machine(template)["Properties"])
    assert "KeyVerificationNotRun" in definition and "OpenKeyNetwork" not in definition
    assert "no key verifier in us-west-2 (the deployment's runs in us-east-1" in definition
    assert "set key_verification.regions.us-west-2" in definition
    assert not any(a.startswith("ec2:CreateTags") for a in granted(template))
