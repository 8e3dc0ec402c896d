"""A key verifier in a DR region (key_verification.regions): the DR stack's verify-keys
function, its network and least-privilege reads, the restore that runs it, and what
the main stack opens to it (the manifest bucket and key, by the role's fixed name)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.keycheck.settings import KeyEnv
from lambdas.shared.env import Env
from tests.conftest import config_data
from tests.infra.test_key_verification_stack import KEY_VERIFICATION, key_function
from tests.infra.test_stack import resources
from tests.synthesis import Synthesized

DR_REGION = "us-west-2"
DR_STACK = f"hsmdr-sandbox-dr-{DR_REGION}"
DR_GROUP = "sg-0fedcba9876543210"
REGIONAL = {
    "vpc_id": "vpc-0fedcba9876543210",
    "subnet_ids": ["subnet-0fedcba9876543210"],
    "hsm_security_group_id": DR_GROUP,
}


@pytest.fixture(scope="module")
def app() -> Synthesized:
    from tests.synthesis import synthesis

    data = config_data()
    data["dr_regions"] = [DR_REGION]
    data["key_verification"] = {**KEY_VERIFICATION, "regions": {DR_REGION: REGIONAL}}
    return synthesis(data)


def _statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_dr_stack_has_a_verify_function_in_its_vpc_reading_the_main_bucket(
    app: Synthesized,
) -> None:
    template = app.templates[DR_STACK]
    _, props = key_function(template, "verify-keys")
    env = props["Environment"]["Variables"]
    assert env[KeyEnv.MANIFEST_BUCKET_PARAMETER] == "/hsmdr/hsmdr-sandbox/key-manifest-bucket"
    assert env[KeyEnv.MANIFEST_REGION] == "us-east-1"
    assert props["VpcConfig"]["SubnetIds"] == REGIONAL["subnet_ids"]
    assert props["FunctionName"] == "hsmdr-sandbox-verify-keys"
    # no capture, no bucket of its own in the DR region
    assert not [
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME")
        == "capture-key-manifest"
    ]


def test_the_dr_verifier_role_reads_the_parameter_and_secret_only(app: Synthesized) -> None:
    template = app.templates[DR_STACK]
    [role_id] = [
        k
        for k, v in resources(template, "AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == f"hsmdr-sandbox-keys-{DR_REGION}"
    ]
    actions = {
        a
        for s in _statements(template, role_id)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in actions if a.startswith("s3:") or a.startswith("kms:")}
    assert {a for a in actions if a.startswith("ssm:")} == {"ssm:GetParameter"}
    [parameter] = [
        s for s in _statements(template, role_id) if s.get("Sid") == "ManifestBucketName"
    ]
    assert parameter["Action"] == "ssm:GetParameter"
    assert "us-east-1" in json.dumps(parameter["Resource"])
    assert "parameter/hsmdr/hsmdr-sandbox/key-manifest-bucket" in json.dumps(parameter["Resource"])


def test_the_main_bucket_and_key_admit_that_role_for_reads_only(app: Synthesized) -> None:
    main = app.template
    role_arn = f":role/hsmdr-sandbox-keys-{DR_REGION}"
    [bucket_policy] = resources(main, "AWS::S3::BucketPolicy").values() and [
        p
        for p in resources(main, "AWS::S3::BucketPolicy").values()
        if "RegionalVerifiersReadManifests" in json.dumps(p)
    ]
    admitted = [
        s
        for s in bucket_policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid", "").startswith("RegionalVerifiers")
    ]
    assert {s["Action"] for s in admitted} == {"s3:GetObject", "s3:ListBucket"}
    for statement in admitted:
        assert role_arn in json.dumps(statement["Condition"]["ArnEquals"])
        assert statement["Effect"] == "Allow"
    [key] = [
        k
        for k in resources(main, "AWS::KMS::Key").values()
        if "RegionalVerifiersDecryptManifests" in json.dumps(k)
    ]
    [decrypt] = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "RegionalVerifiersDecryptManifests"
    ]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    assert role_arn in json.dumps(decrypt["Condition"]["ArnEquals"])


def test_the_dr_restore_runs_the_regional_verifier(app: Synthesized) -> None:
    template = app.templates[DR_STACK]
    verify_id, _ = key_function(template, "verify-keys")
    [machine] = resources(template, "AWS::StepFunctions::StateMachine").values() and [
        m
        for m in resources(template, "AWS::StepFunctions::StateMachine").values()
        if "RecordKeys" in json.dumps(m["Properties"]["DefinitionString"])
    ]
    assert verify_id in json.dumps(machine["Properties"]["DefinitionString"])
    steps = [
        f["Properties"]
        for f in resources(template, "AWS::Lambda::Function").values()
        if Env.RESTORE_VERIFIER_SECURITY_GROUP in f["Properties"]["Environment"]["Variables"]
    ]
    assert len(steps) == 1
    # The DR restore takes the verifier's rules out again after the check.
    [step_id] = [
        k
        for k, f in resources(template, "AWS::Lambda::Function").items()
        if Env.RESTORE_VERIFIER_SECURITY_GROUP in f["Properties"]["Environment"]["Variables"]
    ]
    role_id = resources(template, "AWS::Lambda::Function")[step_id]["Properties"]["Role"][
        "Fn::GetAtt"
    ][0]
    statements = {s.get("Sid"): s for s in _statements(template, role_id)}
    assert statements["IngressOnlyToRestoredGroups"]["Action"] == [
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupIngress",
    ]
    assert "Condition" in statements["IngressOnlyToRestoredGroups"]
    assert statements["EgressOnlyFromTheVerifier"]["Action"] == [
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupEgress",
    ]
    # The main stack's restore keeps them (the capture uses them): no revoke there.
    main = app.template
    [main_role] = [
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in resources(main, "AWS::Lambda::Function").values()
        if Env.RESTORE_VERIFIER_SECURITY_GROUP in f["Properties"]["Environment"]["Variables"]
    ]
    kept = {s.get("Sid"): s for s in _statements(main, main_role)}
    assert kept["IngressOnlyToRestoredGroups"]["Action"] == "ec2:AuthorizeSecurityGroupIngress"
    assert kept["EgressOnlyFromTheVerifier"]["Action"] == "ec2:AuthorizeSecurityGroupEgress"


def test_the_verifier_group_reaches_the_dr_hsm_group_only(app: Synthesized) -> None:
    template = app.templates[DR_STACK]
    [ingress] = resources(template, "AWS::EC2::SecurityGroupIngress").values()
    assert ingress["Properties"]["GroupId"] == DR_GROUP
    assert (ingress["Properties"]["FromPort"], ingress["Properties"]["ToPort"]) == (2223, 2225)


def test_cdk_nag_is_clean_with_reasons(app: Synthesized) -> None:
    report = json.loads((app.assembly_dir / "validation-report.json").read_text())
    [nag] = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["violations"] == []
    assert all(len(v["reason"]) >= 40 for v in nag["suppressedViolations"])


def test_without_a_regional_verifier_the_dr_report_names_the_field() -> None:
    from tests.synthesis import synthesis

    data = config_data()
    data["dr_regions"] = [DR_REGION]
    data["key_verification"] = KEY_VERIFICATION
    template = synthesis(data).templates[DR_STACK]
    assert f"key_verification.regions.{DR_REGION}" in json.dumps(template)
    assert not [
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME")
        == "verify-keys"
    ]


def warm_data(*, regional: bool) -> dict[str, Any]:
    data = config_data()
    data["dr_regions"] = [DR_REGION]
    data["protected_clusters"][0]["dr_posture"] = {DR_REGION: "warm-standby"}
    data.setdefault("restore", {}).setdefault("subnets", {})[DR_REGION] = [
        "subnet-0a0a0a0a0a0a0a0a0",
        "subnet-0b0b0b0b0b0b0b0b0",
    ]
    keys: dict[str, Any] = dict(KEY_VERIFICATION)
    if regional:
        keys["regions"] = {DR_REGION: REGIONAL}
    data["key_verification"] = keys
    return data


@pytest.fixture(scope="module")
def warm_app() -> Synthesized:
    from tests.synthesis import synthesis

    return synthesis(warm_data(regional=True))


def _by_service(template: dict[str, Any], service: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (k, v["Properties"])
        for k, v in resources(template, "AWS::Lambda::Function").items()
        if v["Properties"]["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME") == service
    ]


def test_warm_standbys_get_a_key_check_on_the_capture_schedule(warm_app: Synthesized) -> None:
    template = warm_app.templates[DR_STACK]
    [(check_id, props)] = _by_service(template, "standby-key-check")
    env = props["Environment"]["Variables"]
    verify_id, _ = key_function(template, "verify-keys")
    assert env["HSMDR_STANDBY_VERIFY_FUNCTION"] == {"Ref": verify_id}
    [schedule] = [
        s["Properties"]
        for s in resources(template, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [check_id, "Arn"]}
    ]
    assert schedule["ScheduleExpression"] == KEY_VERIFICATION["capture_schedule"]
    assert "DeadLetterConfig" in schedule["Target"]


def test_the_key_check_role_invokes_the_verifier_and_opens_tagged_groups_only(
    warm_app: Synthesized,
) -> None:
    template = warm_app.templates[DR_STACK]
    [(_, props)] = _by_service(template, "standby-key-check")
    role_id = props["Role"]["Fn::GetAtt"][0]
    statements = {s.get("Sid"): s for s in _statements(template, role_id)}
    verify_id, _ = key_function(template, "verify-keys")
    invoke = statements["InvokeTheRegionsVerifier"]
    assert invoke["Action"] == "lambda:InvokeFunction"
    assert invoke["Resource"] == {"Fn::GetAtt": [verify_id, "Arn"]}
    tag = statements["TagStandbyGroupForKeyCheck"]
    assert tag["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": ["hsmdr:key-check"]}
    ingress = statements["IngressOnlyOnKeyCheckedGroups"]
    assert ingress["Condition"] == {"StringLike": {"ec2:ResourceTag/hsmdr:key-check": "cluster-*"}}
    assert DR_REGION in json.dumps(ingress["Resource"])
    egress = statements["EgressOnlyFromTheVerifier"]
    assert "VerifierGroup" in json.dumps(egress["Resource"])
    every = {
        a
        for s in _statements(template, role_id)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in every if a.startswith(("cloudhsm:Create", "cloudhsm:Delete", "s3:"))}


def test_warm_standby_cdk_nag_is_clean(warm_app: Synthesized) -> None:
    report = json.loads((warm_app.assembly_dir / "validation-report.json").read_text())
    [nag] = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["violations"] == []


def test_no_regional_verifier_no_key_check() -> None:
    from tests.synthesis import synthesis

    template = synthesis(warm_data(regional=False)).templates[DR_STACK]
    assert _by_service(template, "standby-key-check") == []
