"""The reports bucket of each stack (stacks/constructs/shared/reports_bucket.py) as
synthesized: one per stack, KMS-encrypted, versioned, private, TLS-only, with access
logs; the main stack's keeps the logical ids the drill's bucket had; each workflow may
write its own prefix only, with a data key of the bucket's key, and read nothing; the
functions are told the bucket; the operator policy reads the reports."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.drill.report import REPORT_PREFIX as DRILL_REPORTS
from lambdas.replacement.report import REPORT_PREFIX as REPLACEMENT_REPORTS
from lambdas.restore.report import REPORT_PREFIX as RESTORE_REPORTS
from lambdas.shared.env import Env
from stacks.constructs.shared.reports_bucket import legacy_logical_id
from stacks.names import reports_bucket_parameter
from tests.conftest import Synthesized
from tests.infra.test_stack import resources

MAIN, DR = "hsmdr-sandbox", "hsmdr-sandbox-dr-us-west-2"
# The logical ids the drill's bucket had before it moved (a deployed stack keeps it).
DRILL_IDS = {
    "AWS::KMS::Key": "DrDrillReportKey8AA0016A",
    "AWS::S3::Bucket": "DrDrillReports7A2B20C2",
    "AWS::S3::BucketPolicy": "DrDrillReportsPolicy9A20AE69",
}


def reports_bucket(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The bucket the stack's reports-bucket parameter names."""
    [parameter] = [
        r["Properties"]
        for r in resources(template, "AWS::SSM::Parameter").values()
        if r["Properties"]["Name"] == reports_bucket_parameter("hsmdr-sandbox")
    ]
    bucket_id = parameter["Value"]["Ref"]
    return bucket_id, template["Resources"][bucket_id]["Properties"]


def function_of(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    [function] = [
        r["Properties"]
        for k, r in resources(template, "AWS::Lambda::Function").items()
        if k.startswith(prefix)
    ]
    return function


def statements_of(template: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    role = function_of(template, prefix)["Role"]["Fn::GetAtt"][0]
    found: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if role in [r.get("Ref") for r in policy["Properties"].get("Roles", [])]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def actions(statement: dict[str, Any]) -> list[str]:
    found = statement["Action"]
    return [found] if isinstance(found, str) else list(found)


def test_the_main_stack_keeps_the_drill_buckets_logical_ids(synthesized: Synthesized) -> None:
    template = synthesized.template
    bucket_id, _bucket = reports_bucket(template)
    assert bucket_id == DRILL_IDS["AWS::S3::Bucket"]
    for kind, logical_id in DRILL_IDS.items():
        assert template["Resources"][logical_id]["Type"] == kind
    # The same rule as CDK's, checked against a resource CDK named itself.
    [(logs_id, _logs)] = [
        (k, r)
        for k, r in resources(template, "AWS::S3::Bucket").items()
        if k.startswith("DrDrillReportAccessLogs")
    ]
    assert logs_id == legacy_logical_id(["DrDrill", "ReportAccessLogs", "Resource"])
    assert len(resources(template, "AWS::S3::Bucket")) == 2  # no second bucket


@pytest.mark.parametrize("stack", [MAIN, DR])
def test_each_stack_has_an_encrypted_versioned_tls_only_logged_reports_bucket(
    synthesized: Synthesized, stack: str
) -> None:
    template = synthesized.templates[stack]
    bucket_id, bucket = reports_bucket(template)
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    key_id = rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    logs = bucket["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert template["Resources"][logs]["Type"] == "AWS::S3::Bucket"
    [policy] = [
        r["Properties"]["PolicyDocument"]
        for r in resources(template, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )
    for kept in (bucket_id, key_id, logs):
        assert template["Resources"][kept]["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize(
    ("stack", "function", "prefix"),
    [
        (MAIN, "RestoreClusterSteps", RESTORE_REPORTS),
        (DR, "RestoreClusterSteps", RESTORE_REPORTS),
        (MAIN, "HsmReplacementSteps", REPLACEMENT_REPORTS),
    ],
)
def test_a_workflow_may_write_its_own_prefix_and_nothing_else_of_the_bucket(
    synthesized: Synthesized, stack: str, function: str, prefix: str
) -> None:
    template = synthesized.templates[stack]
    bucket_id, bucket = reports_bucket(template)
    key_id = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    variables = function_of(template, function)["Environment"]["Variables"]
    assert variables[Env.REPORTS_BUCKET] == {"Ref": bucket_id}
    statements = statements_of(template, function)
    on_bucket = [s for s in statements if bucket_id in json.dumps(s["Resource"])]
    [put] = on_bucket
    assert actions(put) == ["s3:PutObject"] and put["Effect"] == "Allow"
    assert json.dumps(put["Resource"]).endswith(f'"/{prefix}*"]]}}')
    on_key = [s for s in statements if key_id in json.dumps(s["Resource"])]
    [data_key] = on_key
    assert actions(data_key) == ["kms:GenerateDataKey"]
    # no s3 action anywhere else in the role (no read, list or delete of reports)
    assert [s for s in statements if any(a.startswith("s3:") for a in actions(s))] == [put]


def test_the_drill_keeps_its_own_grants_on_the_moved_bucket(synthesized: Synthesized) -> None:
    statements = statements_of(synthesized.template, "DrDrillSteps")
    [put] = [s for s in statements if "s3:PutObject" in actions(s)]
    assert f"/{DRILL_REPORTS}*" in json.dumps(put["Resource"])


def test_the_operator_policy_reads_every_workflows_reports(synthesized: Synthesized) -> None:
    template = synthesized.template
    bucket_id, _bucket = reports_bucket(template)
    [policy] = [
        r["Properties"]["PolicyDocument"]
        for r in resources(template, "AWS::IAM::ManagedPolicy").values()
        if r["Properties"]["ManagedPolicyName"] == "hsmdr-sandbox-operator"
    ]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    read = json.dumps(by_sid["ReadReports"]["Resource"])
    for prefix in (DRILL_REPORTS, RESTORE_REPORTS, REPLACEMENT_REPORTS):
        assert f"/{prefix}*" in read
    assert bucket_id in read
    assert by_sid["DecryptReports"]["Action"] == "kms:Decrypt"
    # The DR-region stacks' restore reports: read-only, their prefix only
    dr_read = by_sid["ReadDrRegionRestoreReports"]
    assert dr_read["Action"] == "s3:GetObject"
    assert json.dumps(dr_read["Resource"]).endswith(f':s3:::*/{RESTORE_REPORTS}*"]]}}')
    dr_keys = by_sid["DecryptRestoreReportsUswest2"]
    assert dr_keys["Condition"]["StringEquals"] == {
        "aws:ResourceTag/hsmdr:deployment": "hsmdr-sandbox",
        "kms:ViaService": "s3.us-west-2.amazonaws.com",
    }
    # alerts check --send-test: publish to the alert topics, with their key
    assert by_sid["SendTestAlerts"]["Action"] == "sns:Publish"
    assert sorted(by_sid["EncryptTestAlerts"]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
