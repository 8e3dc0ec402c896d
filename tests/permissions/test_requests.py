"""What a call asks IAM for: the action, the resources and the request's tags."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.permissions.requests import describe

ACCOUNT = "123456789012"


@pytest.mark.parametrize(
    ("service", "operation", "params", "action", "resources"),
    [
        (
            "cloudhsmv2",
            "DeleteHsm",
            {"ClusterId": "cluster-a", "HsmId": "hsm-b"},
            "cloudhsm:DeleteHsm",
            ("*",),
        ),
        (
            "cloudhsmv2",
            "CreateHsm",
            {"ClusterId": "cluster-a", "AvailabilityZone": "z"},
            "cloudhsm:CreateHsm",
            (f"arn:aws:cloudhsm:us-east-1:{ACCOUNT}:cluster/cluster-a",),
        ),
        (
            "cloudhsmv2",
            "CreateCluster",
            {"SourceBackupId": "backup-c"},
            "cloudhsm:CreateCluster",
            (f"arn:aws:cloudhsm:us-east-1:{ACCOUNT}:backup/backup-c",),
        ),
        (
            "cloudhsmv2",
            "TagResource",
            {"ResourceId": "backup-c", "TagList": []},
            "cloudhsm:TagResource",
            (f"arn:aws:cloudhsm:us-east-1:{ACCOUNT}:backup/backup-c",),
        ),
        (
            "lambda",
            "Invoke",
            {"FunctionName": "f"},
            "lambda:InvokeFunction",
            (f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f",),
        ),
        (
            "ram",
            "PromoteResourceShareCreatedFromPolicy",
            {"resourceShareArn": f"arn:aws:ram:us-east-1:{ACCOUNT}:resource-share/s"},
            "ram:PromoteResourceShareCreatedFromPolicy",
            (f"arn:aws:ram:us-east-1:{ACCOUNT}:resource-share/s",),
        ),
        (
            "stepfunctions",
            "StartExecution",
            {"stateMachineArn": "arn:aws:states:x"},
            "states:StartExecution",
            ("arn:aws:states:x",),
        ),
        (
            "sqs",
            "SendMessage",
            {"QueueUrl": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/q", "MessageBody": "m"},
            "sqs:SendMessage",
            (f"arn:aws:sqs:us-east-1:{ACCOUNT}:q",),
        ),
        (
            "s3",
            "ListObjectsV2",
            {"Bucket": "b", "Prefix": "manifests/"},
            "s3:ListBucket",
            ("arn:aws:s3:::b",),
        ),
        (
            "s3",
            "PutObject",
            {"Bucket": "b", "Key": "reports/r.json"},
            "s3:PutObject",
            ("arn:aws:s3:::b/reports/r.json",),
        ),
        (
            "ssm",
            "GetParameter",
            {"Name": "/hsmdr/x"},
            "ssm:GetParameter",
            (f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/hsmdr/x",),
        ),
        (
            "dynamodb",
            "DeleteItem",
            {"TableName": "locks", "Key": {}},
            "dynamodb:DeleteItem",
            (f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/locks",),
        ),
        (
            "ec2",
            "AuthorizeSecurityGroupIngress",
            {"GroupId": "sg-1"},
            "ec2:AuthorizeSecurityGroupIngress",
            (f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-1",),
        ),
    ],
)
def test_each_call_names_its_action_and_resource(
    service: str, operation: str, params: dict[str, Any], action: str, resources: tuple[str, ...]
) -> None:
    request = describe(service, operation, params, "us-east-1", ACCOUNT)
    assert request.action == action
    assert request.resources == resources


def test_tags_of_a_create_call_are_request_tags() -> None:
    request = describe(
        "cloudhsmv2",
        "CopyBackupToRegion",
        {
            "BackupId": "backup-c",
            "DestinationRegion": "us-west-2",
            "TagList": [{"Key": "managed-by", "Value": "cloudhsm-dr"}],
        },
        "us-east-1",
        ACCOUNT,
    )
    assert request.request_tags == {"managed-by": "cloudhsm-dr"}


def test_s3_prefix_is_a_condition_key_of_the_listing() -> None:
    request = describe("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "m/"}, "us-east-1", ACCOUNT)
    assert request.keys == {"s3:prefix": "m/"}
