"""The IAM gate's checker on small hand-made policies, and what it reads from templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.intrinsics import TemplateResolutionError
from tests.infra.iam_gate import (
    NEEDS_STAR,
    UNKNOWN_ACTION,
    UNSUPPORTED_CONDITION_KEY,
    UNSUPPORTED_RESOURCE,
    arn_formats_overlap,
    check_statement,
)
from tests.infra.static_gates import (
    Finding,
    iam_findings,
    iam_statements,
    load_exceptions,
    unexcused,
    unused,
)
from tests.infra.template_arns import StackTemplate, placeholder_resolver

CLUSTER = "arn:aws:cloudhsm:us-east-1:123456789012:cluster/cluster-igklspoyj5v"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def allow(action: Any, resource: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def kinds(statement: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(p.action, p.kind, p.subject) for p in check_statement(statement)]


# -- actions -------------------------------------------------------------------------


def test_an_action_that_takes_no_resource_type_on_a_cluster_arn_is_a_finding() -> None:
    assert kinds(allow("cloudhsm:DeleteHsm", CLUSTER)) == [
        ("cloudhsm:DeleteHsm", NEEDS_STAR, CLUSTER)
    ]


def test_an_action_that_takes_no_resource_type_on_star_is_fine() -> None:
    assert kinds(allow(["cloudhsm:DeleteHsm", "cloudhsm:DescribeClusters"], "*")) == []


def test_an_action_on_the_resource_type_it_takes_is_fine() -> None:
    assert kinds(allow("cloudhsm:CreateHsm", CLUSTER)) == []
    assert kinds(allow("cloudhsm:CreateHsm", "arn:aws:cloudhsm:*:123456789012:cluster/*")) == []


def test_unknown_actions_and_services_are_findings() -> None:
    assert kinds(allow(["cloudhsm:DeleteHsms", "nosuchservice:Do"], "*")) == [
        ("cloudhsm:DeleteHsms", UNKNOWN_ACTION, "cloudhsm:DeleteHsms"),
        ("nosuchservice:Do", UNKNOWN_ACTION, "nosuchservice:Do"),
    ]


def test_a_wildcard_must_expand_to_at_least_one_action() -> None:
    assert kinds(allow("cloudhsm:Frobnicate*", "*")) == [
        ("cloudhsm:Frobnicate*", UNKNOWN_ACTION, "cloudhsm:Frobnicate*")
    ]
    assert kinds(allow(["kms:GenerateDataKey*", "kms:ReEncrypt*"], KEY)) == []


def test_action_names_are_case_insensitive_as_in_iam() -> None:
    assert kinds(allow("CloudHSM:createhsm", CLUSTER)) == []


def test_a_resource_of_another_service_is_a_finding() -> None:
    queue = "arn:aws:sqs:us-east-1:123456789012:alerts"
    [(action, kind, subject)] = kinds(allow("sns:Publish", queue))
    assert (action, kind, subject) == ("sns:Publish", UNSUPPORTED_RESOURCE, queue)


def test_a_backup_arn_for_a_cluster_action_is_a_finding() -> None:
    backup = "arn:aws:cloudhsm:us-east-1:123456789012:backup/*"
    assert kinds(allow("cloudhsm:ModifyCluster", backup)) == [
        ("cloudhsm:ModifyCluster", UNSUPPORTED_RESOURCE, backup)
    ]


def test_every_named_action_answers_for_every_resource_of_its_statement() -> None:
    # CreateHsm is right on the cluster; DeleteHsm, in the same statement, is not.
    assert kinds(allow(["cloudhsm:CreateHsm", "cloudhsm:DeleteHsm"], [CLUSTER])) == [
        ("cloudhsm:DeleteHsm", NEEDS_STAR, CLUSTER)
    ]


def test_a_wildcard_answers_only_for_what_none_of_its_actions_takes() -> None:
    # A TLS-only Deny on s3:* over a bucket and its objects is what it should be...
    bucket = ["arn:aws:s3:::reports", "arn:aws:s3:::reports/*"]
    deny = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": bucket,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert kinds(deny) == []
    # ...but a wildcard none of whose actions takes the resource is a finding.
    topic = "arn:aws:sns:us-east-1:123456789012:alerts"
    assert [k for _, k, _ in kinds(allow("kms:GenerateDataKey*", topic))] == [UNSUPPORTED_RESOURCE]


def test_a_qualified_lambda_arn_matches_the_function_type() -> None:
    function = "arn:aws:lambda:us-east-1:123456789012:function:steps"
    assert kinds(allow("lambda:InvokeFunction", [function, f"{function}:*"])) == []


def test_not_action_names_must_exist_but_resources_are_not_paired() -> None:
    statement = {"Effect": "Deny", "NotAction": ["sts:GetCallerIdentity", "sts:Nope"]}
    statement["Resource"] = CLUSTER
    assert kinds(statement) == [("sts:Nope", UNKNOWN_ACTION, "sts:Nope")]


# -- condition keys ------------------------------------------------------------------


def test_a_resource_tag_condition_on_delete_hsm_is_a_finding() -> None:
    condition = {"StringEquals": {"aws:ResourceTag/managed-by": "cloudhsm-dr"}}
    assert kinds(allow("cloudhsm:DeleteHsm", "*", condition)) == [
        ("cloudhsm:DeleteHsm", UNSUPPORTED_CONDITION_KEY, "aws:ResourceTag/managed-by")
    ]


def test_tag_conditions_apply_where_the_reference_lists_them() -> None:
    on_cluster = {"StringEquals": {"aws:ResourceTag/managed-by": "cloudhsm-dr"}}
    assert kinds(allow("cloudhsm:CreateHsm", CLUSTER, on_cluster)) == []
    on_request = {
        "StringEquals": {"aws:RequestTag/managed-by": "cloudhsm-dr"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["managed-by"]},
    }
    backups = "arn:aws:cloudhsm:us-east-1:123456789012:backup/*"
    assert kinds(allow("cloudhsm:CreateCluster", backups, on_request)) == []


def test_global_keys_apply_to_every_action_and_a_misspelt_one_does_not() -> None:
    condition = {
        "Bool": {"aws:ViaAWSService": "true"},
        "StringEquals": {"aws:RequestedRegion": ["us-east-1"], "aws:SourceAccount": "1"},
    }
    assert kinds(allow("ec2:CreateNetworkInterface", "*", condition)) == []
    misspelt = {"StringEquals": {"aws:RequestedRegions": ["us-east-1"]}}
    assert [k for _, k, _ in kinds(allow("ec2:DescribeSubnets", "*", misspelt))] == [
        UNSUPPORTED_CONDITION_KEY
    ]


def test_service_keys_apply_only_to_the_actions_that_list_them() -> None:
    assert kinds(allow("kms:Decrypt", KEY, {"StringEquals": {"kms:ViaService": "x"}})) == []
    prefix = {"StringLike": {"s3:prefix": ["manifests/*"]}}
    assert kinds(allow("s3:ListBucket", "arn:aws:s3:::manifests", prefix)) == []
    objects = "arn:aws:s3:::manifests/*"
    assert kinds(allow("s3:GetObject", objects, prefix)) == [
        ("s3:GetObject", UNSUPPORTED_CONDITION_KEY, "s3:prefix")
    ]


# -- ARN formats ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "arn_format", "overlap"),
    [
        (CLUSTER, "arn:${Partition}:cloudhsm:${Region}:${Account}:cluster/${Id}", True),
        (CLUSTER, "arn:${Partition}:cloudhsm:${Region}:${Account}:backup/${Id}", False),
        ("arn:aws:cloudhsm:*", "arn:${Partition}:cloudhsm:${Region}:${Account}:backup/${Id}", True),
        ("arn:aws:s3:::b/*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),
        ("arn:aws:s3:::b", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False),
        ("arn:aws:s3:::b/*", "arn:${Partition}:s3:::${BucketName}", False),
        ("arn:aws:logs:r:1:log-group:/x:*", "arn:${P}:logs:${R}:${A}:log-group:${L}:log-stream:${S}", True),  # noqa: E501
        ("arn:aws:ssm:us-east-1:1:parameter/a/b", "arn:${P}:ssm:${R}:${A}:parameter/${N}", True),
        ("arn:aws:secretsmanager:r:1:secret:n-??????", "arn:${P}:secretsmanager:${R}:${A}:secret:${S}", True),  # noqa: E501
        ("arn:aws:sns:us-east-1:1:topic", "arn:${P}:sqs:${R}:${A}:${QueueName}", False),
        ("*", "arn:${Partition}:sqs:${Region}:${Account}:${QueueName}", True),
    ],
)  # fmt: skip
def test_arn_format_overlap(resource: str, arn_format: str, overlap: bool) -> None:
    assert arn_formats_overlap(resource, arn_format) is overlap


# -- templates -----------------------------------------------------------------------


def stack_of(resources: dict[str, Any]) -> StackTemplate:
    return StackTemplate("test", "Stack", "eu-west-1", "111122223333", {"Resources": resources})


ROLE_WITH_INLINE_POLICY = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ]
        },
        "Policies": [
            {
                "PolicyName": "inline",
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Sid": "Publish",
                            "Effect": "Allow",
                            "Action": "sns:Publish",
                            "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                        }
                    ]
                },
            }
        ],
    },
}


def test_the_gate_reads_inline_managed_and_resource_policies() -> None:
    document = {"Statement": {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}}
    stack = stack_of(
        {
            "Role": ROLE_WITH_INLINE_POLICY,
            "Managed": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": document}},  # noqa: E501
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": document}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }
    )  # fmt: skip
    assert sorted((s.logical_id, s.label) for s in iam_statements(stack)) == [
        ("Key", "0"),
        ("Managed", "0"),
        ("Role/inline", "Publish"),
        ("Role/trust", "0"),
    ]


def test_a_finding_names_config_stack_policy_statement_and_action() -> None:
    [finding] = iam_findings([stack_of({"Role": ROLE_WITH_INLINE_POLICY, "Queue": _QUEUE})])
    assert finding.line() == (
        "[test] Stack Role/inline statement Publish: sns:Publish: "
        "arn:aws:sqs:eu-west-1:111122223333:alerts is none of the resource types it "
        "supports (topic)"
    )


_QUEUE = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "alerts"}}


def test_placeholders_take_the_shape_of_each_resource_type() -> None:
    resolver = placeholder_resolver(
        stack_of({"Queue": _QUEUE, "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}})
    )
    assert resolver.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == (
        "arn:aws:sqs:eu-west-1:111122223333:alerts"
    )
    assert resolver.resolve({"Ref": "Topic"}) == "arn:aws:sns:eu-west-1:111122223333:topic"
    joined = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":x:", {"Ref": "AWS::Region"}]]}
    assert resolver.resolve(joined) == "arn:aws:x:eu-west-1"


def test_a_resource_type_without_a_placeholder_fails_loudly() -> None:
    resolver = placeholder_resolver(stack_of({"Thing": {"Type": "AWS::New::Thing"}}))
    with pytest.raises(TemplateResolutionError, match="no placeholder for AWS::New::Thing"):
        resolver.resolve({"Fn::GetAtt": ["Thing", "Arn"]})


# -- exceptions ----------------------------------------------------------------------

FINDING = Finding("example", "s", "Policy", "0", "cloudhsm:DeleteHsm", NEEDS_STAR, CLUSTER, "m")


def test_an_exception_excuses_the_findings_it_matches_and_no_other(tmp_path: Path) -> None:
    path = tmp_path / "exceptions.yaml"
    path.write_text(
        "- action: cloudhsm:DeleteHsm\n  kind: needs-star\n"
        "  reason: the reference data is wrong about this action\n"
        "- action: sns:Publish\n  reason: nothing in these templates matches this one\n"
    )
    exceptions = load_exceptions(path)
    other = Finding("example", "s", "Policy", "1", "sns:Publish2", NEEDS_STAR, "x", "m")
    assert unexcused([FINDING, other], exceptions) == [other]
    assert unused(exceptions, [FINDING, other]) == ["action=sns:Publish"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- action: a:B\n", "give a reason"),
        ("- action: a:B\n  reason: a good enough reason, at length\n  colour: red\n", "unknown"),
        ("- reason: a good enough reason, at length\n", "matches every finding"),
    ],
)
def test_an_exception_needs_a_reason_and_known_fields(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "exceptions.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=problem):
        load_exceptions(path)
