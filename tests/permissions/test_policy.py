"""IAM evaluation rules the sandbox applies, each against a small hand-made policy."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.permissions.policy import Principal, conditions_hold, evaluate

ACCOUNT = "123456789012"
ROLE = Principal.role(f"arn:aws:iam::{ACCOUNT}:role/worker")
CLUSTER = f"arn:aws:cloudhsm:us-east-1:{ACCOUNT}:cluster/cluster-abcdefghijk"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234"


def allow(action: str, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}]}


def test_an_action_no_policy_grants_is_implicitly_denied() -> None:
    decision = evaluate(ROLE, "cloudhsm:DeleteHsm", "*", {})
    assert not decision.allowed
    assert decision.reason == "because no identity-based policy allows the action"


def test_a_grant_on_a_cluster_arn_does_not_cover_a_call_authorized_on_star() -> None:
    policy = allow("cloudhsm:DeleteHsm", [CLUSTER])
    assert not evaluate(ROLE, "cloudhsm:DeleteHsm", "*", {}, identity_policies=[policy]).allowed
    star = allow("cloudhsm:DeleteHsm", "*")
    assert evaluate(ROLE, "cloudhsm:DeleteHsm", "*", {}, identity_policies=[star]).allowed


def test_explicit_deny_wins_over_any_allow() -> None:
    policies = [
        allow("cloudhsm:*", "*"),
        {
            "Statement": [
                {"Effect": "Deny", "Action": "cloudhsm:DeleteCluster", "Resource": CLUSTER}
            ]
        },
    ]
    decision = evaluate(ROLE, "cloudhsm:DeleteCluster", CLUSTER, {}, identity_policies=policies)
    assert not decision.allowed
    assert "explicit deny in a identity-based policy" in decision.reason


def test_wildcards_in_actions_are_case_insensitive_and_in_arns_case_sensitive() -> None:
    policy = allow("CloudHSM:describe*", "arn:aws:cloudhsm:*:*:cluster/cluster-*")
    assert evaluate(
        ROLE, "cloudhsm:DescribeClusters", CLUSTER, {}, identity_policies=[policy]
    ).allowed
    upper = CLUSTER.replace("cluster/cluster-", "cluster/CLUSTER-")
    assert not evaluate(
        ROLE, "cloudhsm:DescribeClusters", upper, {}, identity_policies=[policy]
    ).allowed


def test_tag_condition_needs_the_tag_in_the_request_context() -> None:
    policy = allow(
        "cloudhsm:CreateHsm",
        "*",
        Condition={"StringEquals": {"aws:ResourceTag/managed-by": "cloudhsm-dr"}},
    )
    tagged = {"aws:ResourceTag/managed-by": "cloudhsm-dr"}
    assert evaluate(ROLE, "cloudhsm:CreateHsm", CLUSTER, tagged, identity_policies=[policy]).allowed
    # An action without aws:ResourceTag in the reference carries no such key: the condition fails.
    assert not evaluate(ROLE, "cloudhsm:DeleteHsm", "*", {}, identity_policies=[policy]).allowed


@pytest.mark.parametrize(
    ("conditions", "context", "holds"),
    [
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
        ({"Bool": {"aws:SecureTransport": "false"}}, {}, False),
        ({"StringNotEquals": {"aws:SourceAccount": "1"}}, {}, True),
        ({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}, {}, True),
        ({"Null": {"aws:RequestTag/x": "true"}}, {}, True),
        ({"Null": {"aws:RequestTag/x": "false"}}, {"aws:RequestTag/x": "v"}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"]}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["a", "c"]}, False),
        ({"ForAnyValue:StringLike": {"aws:TagKeys": ["hsmdr:*"]}}, {"aws:TagKeys": ["x"]}, False),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:*:1:alarm:*"}},
            {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:1:alarm:a"},
            True,
        ),
        ({"StringEquals": {"AWS:SOURCEACCOUNT": "1"}}, {"aws:SourceAccount": "1"}, True),
    ],
)
def test_condition_operators(conditions: Any, context: Any, holds: bool) -> None:
    assert conditions_hold(conditions, context) is holds


def test_a_service_principal_needs_the_resource_policy() -> None:
    alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"
    cloudwatch = Principal.service("cloudwatch.amazonaws.com", ACCOUNT, alarm)
    context = {"aws:SourceArn": alarm, "aws:SourceAccount": ACCOUNT, "aws:SecureTransport": "true"}
    tls_only = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": TOPIC,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    }
    assert not evaluate(cloudwatch, "sns:Publish", TOPIC, context, resource_policy=tls_only).allowed
    allowing = {
        "Statement": [
            *tls_only["Statement"],
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": TOPIC,
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            },
        ]
    }
    assert evaluate(cloudwatch, "sns:Publish", TOPIC, context, resource_policy=allowing).allowed


def test_a_resource_policy_naming_the_account_delegates_to_identity_policies() -> None:
    topic_policy = allow("sns:Publish", TOPIC, Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    assert not evaluate(ROLE, "sns:Publish", TOPIC, {}, resource_policy=topic_policy).allowed
    topic_policy = allow("sns:Publish", TOPIC, Principal={"AWS": ROLE.arn})
    assert evaluate(ROLE, "sns:Publish", TOPIC, {}, resource_policy=topic_policy).allowed


def test_a_key_policy_must_allow_even_when_iam_does() -> None:
    identity = [allow("kms:GenerateDataKey", KEY)]
    service_only = allow("kms:*", "*", Principal={"Service": "cloudwatch.amazonaws.com"})
    decision = evaluate(
        ROLE,
        "kms:GenerateDataKey",
        KEY,
        {},
        identity_policies=identity,
        resource_policy=service_only,
        key_policy=True,
    )
    assert not decision.allowed
    assert decision.reason == "because no resource-based policy allows the action"
    delegating = allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    assert evaluate(
        ROLE,
        "kms:GenerateDataKey",
        KEY,
        {},
        identity_policies=identity,
        resource_policy=delegating,
        key_policy=True,
    ).allowed
    assert not evaluate(
        ROLE,
        "kms:GenerateDataKey",
        KEY,
        {},
        identity_policies=[],
        resource_policy=delegating,
        key_policy=True,
    ).allowed
