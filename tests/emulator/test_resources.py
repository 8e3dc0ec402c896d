"""Resource policies (Get/Put/DeleteResourcePolicy) and tags (ListTags, TagResource,
UntagResource)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.emulator import CloudHsmWorld
from tests.emulator.helpers import Network, assert_error, backups_of, cluster_of, seed

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                "Action": ["cloudhsm:CreateCluster", "cloudhsm:DescribeBackups"],
                "Resource": "*",
            }
        ],
    }
)


def test_put_get_delete_resource_policy_on_a_backup(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a READY backup without a policy
    When a policy is put, read, deleted and read again
    Then Put echoes ARN and policy, Get returns it, Delete returns it once and Get then
    returns no policy."""
    cluster_id = seed(world, network)
    arn = backups_of(hsm, clusterIds=[cluster_id])[-1]["BackupArn"]

    before = hsm.get_resource_policy(ResourceArn=arn)
    put = hsm.put_resource_policy(ResourceArn=arn, Policy=POLICY)
    got = hsm.get_resource_policy(ResourceArn=arn)
    deleted = hsm.delete_resource_policy(ResourceArn=arn)
    after = hsm.get_resource_policy(ResourceArn=arn)

    assert "Policy" not in before
    assert (put["ResourceArn"], put["Policy"]) == (arn, POLICY)
    assert got["Policy"] == POLICY
    assert deleted["Policy"] == POLICY
    assert "Policy" not in after


def test_resource_policies_are_refused_where_aws_would(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster and its backups
    When a policy is put on the cluster, with invalid JSON, on a backup pending deletion,
    on another account's backup, or on an unknown backup
    Then each is refused with the matching error type."""
    cluster_id = seed(world, network)
    first, _, newest = backups_of(hsm, clusterIds=[cluster_id])
    hsm.delete_backup(BackupId=first["BackupId"])
    cluster_arn = newest["BackupArn"].replace(
        f"backup/{newest['BackupId']}", f"cluster/{cluster_id}"
    )
    unknown_arn = newest["BackupArn"].replace(newest["BackupId"], "backup-aaaaaaaaaaa")
    cases = [
        (cluster_arn, POLICY, "CloudHsmInvalidRequestException", "only be attached to backups"),
        (newest["BackupArn"], "{not json", "CloudHsmInvalidRequestException", "not valid JSON"),
        (first["BackupArn"], POLICY, "CloudHsmInvalidRequestException", "only READY"),
        (
            newest["BackupArn"].replace(world.account_id, "210987654321"),
            POLICY,
            "CloudHsmAccessDeniedException",
            "",
        ),
        (unknown_arn, POLICY, "CloudHsmResourceNotFoundException", "backup-aaaaaaaaaaa"),
    ]

    for arn, policy, code, fragment in cases:
        with pytest.raises(ClientError) as info:
            hsm.put_resource_policy(ResourceArn=arn, Policy=policy)
        assert_error(info, code, fragment)


def test_tags_on_clusters_and_backups(hsm: Any, network: Network, world: CloudHsmWorld) -> None:
    """Given a cluster seeded with the tag env=prod, and one of its backups
    When tags are listed, added, overwritten and removed
    Then ListTags, DescribeClusters and DescribeBackups all show the current tags."""
    cluster_id = seed(world, network, tags={"env": "prod"})
    backup_id = backups_of(hsm, clusterIds=[cluster_id])[-1]["BackupId"]

    listed = hsm.list_tags(ResourceId=cluster_id)["TagList"]
    hsm.tag_resource(
        ResourceId=cluster_id,
        TagList=[{"Key": "env", "Value": "dr"}, {"Key": "owner", "Value": "sec"}],
    )
    hsm.untag_resource(ResourceId=cluster_id, TagKeyList=["owner"])
    hsm.tag_resource(ResourceId=backup_id, TagList=[{"Key": "kept", "Value": "yes"}])

    assert listed == [{"Key": "env", "Value": "prod"}]
    assert hsm.list_tags(ResourceId=cluster_id)["TagList"] == [{"Key": "env", "Value": "dr"}]
    assert cluster_of(hsm, cluster_id)["TagList"] == [{"Key": "env", "Value": "dr"}]
    backup = backups_of(hsm, backupIds=[backup_id])[0]
    assert backup["TagList"] == [{"Key": "kept", "Value": "yes"}]


def test_list_tags_is_paginated(hsm: Any, network: Network, world: CloudHsmWorld) -> None:
    """Given a cluster with five tags
    When ListTags is paged two at a time
    Then three pages of 2, 2 and 1 tags come back in order."""
    cluster_id = seed(world, network, tags={f"k{i}": str(i) for i in range(5)})

    pages = list(hsm.get_paginator("list_tags").paginate(ResourceId=cluster_id, MaxResults=2))

    assert [len(p["TagList"]) for p in pages] == [2, 2, 1]
    assert [t["Key"] for p in pages for t in p["TagList"]] == [f"k{i}" for i in range(5)]


def test_tag_errors(hsm: Any, network: Network, world: CloudHsmWorld) -> None:
    """Given a seeded cluster with 49 tags
    When an aws: tag is added or removed, two more tags are added, or an unknown
    resource is tagged
    Then CloudHsmTagException, CloudHsmResourceLimitExceededException and
    CloudHsmResourceNotFoundException are raised."""
    cluster_id = seed(world, network, tags={f"k{i}": "v" for i in range(49)})

    with pytest.raises(ClientError) as reserved:
        hsm.tag_resource(ResourceId=cluster_id, TagList=[{"Key": "aws:owner", "Value": "x"}])
    with pytest.raises(ClientError) as reserved_untag:
        hsm.untag_resource(ResourceId=cluster_id, TagKeyList=["aws:owner"])
    with pytest.raises(ClientError) as too_many:
        hsm.tag_resource(
            ResourceId=cluster_id,
            TagList=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
        )
    with pytest.raises(ClientError) as unknown:
        hsm.list_tags(ResourceId="cluster-aaaaaaaaaaa")

    assert_error(reserved, "CloudHsmTagException", "reserved")
    assert_error(reserved_untag, "CloudHsmTagException", "reserved")
    assert_error(too_many, "CloudHsmResourceLimitExceededException", "at most 50 tags")
    assert_error(unknown, "CloudHsmResourceNotFoundException", "cluster-aaaaaaaaaaa")
