"""The key-verification construct as synthesized: the container-image functions in the
VPC, their network and permissions, the manifest bucket, the capture schedule, and
the image build context that synth stages without building."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lambdas.keycheck.settings import KeyEnv
from tests.conftest import REPO_ROOT, Synthesized, config_data
from tests.infra.test_stack import resources

HSM_GROUP = "sg-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
KEY_VERIFICATION = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": SUBNETS,
    "hsm_security_group_id": HSM_GROUP,
    "crypto_user_secret_name": "hsmdr/key-verifier",
    "capture_schedule": "cron(0 3 * * ? *)",
}


@dataclass(frozen=True)
class KeyStack:
    template: dict[str, Any]
    assembly_dir: Path
    report: dict[str, Any]


@pytest.fixture(scope="module")
def key_stack() -> KeyStack:
    from tests.synthesis import synthesis

    data = config_data()
    data["key_verification"] = KEY_VERIFICATION
    app = synthesis(data)
    return KeyStack(
        template=app.template,
        assembly_dir=app.assembly_dir,
        report=json.loads((app.assembly_dir / "validation-report.json").read_text()),
    )


def key_function(template: dict[str, Any], service: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, props)] = [
        (k, v["Properties"])
        for k, v in resources(template, "AWS::Lambda::Function").items()
        if v["Properties"]["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME") == service
    ]
    return logical_id, props


@pytest.mark.parametrize(
    ("service", "handler"),
    [
        ("verify-keys", "lambdas.keycheck.verify_handler.handler"),
        ("capture-key-manifest", "lambdas.keycheck.capture_handler.handler"),
    ],
)
def test_functions_are_arm64_container_images_in_the_vpc(
    key_stack: KeyStack, service: str, handler: str
) -> None:
    _, props = key_function(key_stack.template, service)
    assert "ImageUri" in props["Code"] and props["PackageType"] == "Image"
    assert "Runtime" not in props and "Layers" not in props
    assert props["Architectures"] == ["arm64"]
    assert props["ImageConfig"]["Command"] == [handler]
    assert props["FunctionName"] == f"hsmdr-sandbox-{service}"
    assert props["VpcConfig"]["SubnetIds"] == SUBNETS
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    env = props["Environment"]["Variables"]
    assert env[KeyEnv.CRYPTO_USER_SECRET] == "hsmdr/key-verifier"
    assert json.loads(env[KeyEnv.CLUSTERS]) == [
        {"id": "cluster-sandboxprimary", "region": "us-east-1"}
    ]
    assert env[KeyEnv.CONFIGURE_CLIENT] == "true"


def test_security_group_reaches_only_the_hsms_and_https(key_stack: KeyStack) -> None:
    _, verify = key_function(key_stack.template, "verify-keys")
    [group_ref] = verify["VpcConfig"]["SecurityGroupIds"]
    group = key_stack.template["Resources"][group_ref["Fn::GetAtt"][0]]["Properties"]
    assert group["VpcId"] == "vpc-0123456789abcdef0"
    assert "SecurityGroupIngress" not in group
    egress = {
        (r["IpProtocol"], r["FromPort"], r["ToPort"]): r for r in group["SecurityGroupEgress"]
    }
    assert set(egress) == {("tcp", 2223, 2225), ("tcp", 443, 443)}
    assert egress[("tcp", 2223, 2225)]["DestinationSecurityGroupId"] == HSM_GROUP
    assert "CidrIp" not in egress[("tcp", 2223, 2225)]


def test_the_cluster_group_lets_the_verifier_in(key_stack: KeyStack) -> None:
    # A CloudHSM cluster's group admits only its members: egress alone reaches nothing.
    _, verify = key_function(key_stack.template, "verify-keys")
    [group_ref] = verify["VpcConfig"]["SecurityGroupIds"]
    [ingress] = [
        r["Properties"]
        for r in resources(key_stack.template, "AWS::EC2::SecurityGroupIngress").values()
    ]
    assert ingress["GroupId"] == HSM_GROUP
    assert (ingress["IpProtocol"], ingress["FromPort"], ingress["ToPort"]) == ("tcp", 2223, 2225)
    assert ingress["SourceSecurityGroupId"] == group_ref
    assert "CidrIp" not in ingress


def test_manifest_bucket_is_encrypted_versioned_private_tls_only_and_logged(
    key_stack: KeyStack,
) -> None:
    template = key_stack.template
    buckets = resources(template, "AWS::S3::Bucket")
    [(bucket_id, bucket)] = [(k, v) for k, v in buckets.items() if "Manifests" in k]
    props = bucket["Properties"]
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key_id = rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"] in buckets
    [policy] = [
        p["Properties"]["PolicyDocument"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    [deny] = policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    _, verify = key_function(template, "verify-keys")
    assert verify["Environment"]["Variables"][KeyEnv.MANIFEST_BUCKET] == {"Ref": bucket_id}


def _statements(template: dict[str, Any], function_service: str) -> list[dict[str, Any]]:
    _, props = key_function(template, function_service)
    role = props["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def test_only_the_capture_function_writes_manifests(key_stack: KeyStack) -> None:
    capture = _actions(_statements(key_stack.template, "capture-key-manifest"))
    verify = _actions(_statements(key_stack.template, "verify-keys"))
    assert {"s3:PutObject", "kms:GenerateDataKey"} <= capture
    assert "s3:PutObject" not in verify and "kms:GenerateDataKey" not in verify
    for actions in (capture, verify):
        assert {
            "s3:GetObject",
            "secretsmanager:GetSecretValue",
            "cloudhsm:DescribeClusters",
        } <= actions
        assert {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"} <= actions
        assert not any(a.endswith("*") for a in actions)
    [secret] = [
        s["Resource"]
        for s in _statements(key_stack.template, "verify-keys")
        if "secretsmanager:GetSecretValue" in s["Action"]
    ]
    assert json.dumps(secret).endswith(':secret:hsmdr/key-verifier-??????"]]}')


def test_capture_runs_on_the_configured_schedule_with_dead_letters(key_stack: KeyStack) -> None:
    capture_id, _ = key_function(key_stack.template, "capture-key-manifest")
    [schedule] = [
        s["Properties"]
        for s in resources(key_stack.template, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [capture_id, "Arn"]}
    ]
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert json.loads(schedule["Target"]["Input"]) == {"source": "schedule"}
    assert "DeadLetterConfig" in schedule["Target"]


def test_cdk_nag_is_clean_with_reasons(key_stack: KeyStack) -> None:
    [nag] = [p for p in key_stack.report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["violations"] == []
    assert nag["conclusion"] == "success"
    assert all(len(v["reason"]) >= 40 for v in nag["suppressedViolations"])


def test_cfn_lint_finds_nothing(key_stack: KeyStack) -> None:
    from cfnlint.api import ManualArgs, lint

    config = ManualArgs(ignore_checks=["W3005"])  # as in test_compliance
    matches = lint(json.dumps(key_stack.template), regions=["us-east-1"], config=config)
    assert [str(m) for m in matches] == []


def test_synth_stages_one_image_context_of_lambdas_only_without_building(
    key_stack: KeyStack,
) -> None:
    manifest = json.loads((key_stack.assembly_dir / "hsmdr-sandbox.assets.json").read_text())
    [image] = manifest["dockerImages"].values()  # both functions share one image
    source = image["source"]
    assert source["dockerFile"] == "lambdas/keycheck/Dockerfile"
    assert source["platform"] == "linux/arm64"
    assert "executable" not in source  # a directory to build at deploy time
    context = key_stack.assembly_dir / source["directory"]
    assert sorted(p.name for p in context.iterdir()) == ["lambdas"]
    assert (context / "lambdas/keycheck/Dockerfile").is_file()
    assert (context / "lambdas/keycheck/verify_handler.py").is_file()
    assert not list(context.rglob("__pycache__"))


def test_without_the_section_nothing_is_deployed(synthesized: Synthesized) -> None:
    functions = resources(synthesized.template, "AWS::Lambda::Function").values()
    assert not [f for f in functions if f["Properties"].get("PackageType") == "Image"]
    assert not [k for k in synthesized.template["Resources"] if k.startswith("KeyVerification")]


def test_dockerfile_pins_the_sdk_and_the_same_python_packages_as_the_repo() -> None:
    dockerfile = (REPO_ROOT / "lambdas/keycheck/Dockerfile").read_text()
    assert re.search(
        r"^FROM --platform=linux/arm64 public\.ecr\.aws/lambda/python:3\.13$", dockerfile, re.M
    )
    assert re.search(r"^ARG CLOUDHSM_VERSION=5\.\d+\.\d+$", dockerfile, re.M)
    assert dockerfile.count("sha256sum -c") == 2
    assert "cloudhsm-pkcs11-${CLOUDHSM_VERSION}-1.amzn2023.aarch64.rpm" in dockerfile
    assert "docs.aws.amazon.com/cloudhsm/latest/userguide/" in dockerfile
    assert "COPY lambdas/ ${LAMBDA_TASK_ROOT}/lambdas/" in dockerfile

    def pins(path: Path) -> dict[str, str]:
        found = {}
        for line in path.read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                name, version = line.split("==")
                found[name.split("[")[0].strip().lower()] = version.strip()
        return found

    image = pins(REPO_ROOT / "lambdas/keycheck/requirements.txt")
    repo = {**pins(REPO_ROOT / "requirements.txt"), **pins(REPO_ROOT / "requirements-dev.txt")}
    assert set(image) == {"python-pkcs11", "aws-lambda-powertools", "aws-xray-sdk"}
    assert {name: repo[name] for name in image} == image
