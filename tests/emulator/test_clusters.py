"""Cluster lifecycle and validation: CreateCluster, InitializeCluster, ModifyCluster,
DeleteCluster, DescribeClusters."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from sandbox.emulator import CloudHsmWorld
from tests.emulator.helpers import (
    PEM_CA,
    PEM_CERT,
    REGION,
    Network,
    assert_error,
    backups_of,
    client,
    cluster_of,
    create_uninitialized,
    hold,
    make_network,
    seed,
)

INVALID = "CloudHsmInvalidRequestException"


def test_create_cluster_without_backup_ends_uninitialized(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given two subnets in two AZs of one VPC
    When CreateCluster is called without a source backup
    Then it is CREATE_IN_PROGRESS with the subnet mapping, VPC, defaults and a new
    security group, and becomes UNINITIALIZED."""
    subnets = network.subnet_ids[:2]
    created = hsm.create_cluster(
        HsmType="hsm2m.medium", SubnetIds=subnets, TagList=[{"Key": "env", "Value": "dr"}]
    )["Cluster"]

    assert re.fullmatch(r"cluster-[a-z2-7]{11}", created["ClusterId"])
    assert created["State"] == "CREATE_IN_PROGRESS"
    assert created["SubnetMapping"] == {f"{REGION}a": subnets[0], f"{REGION}b": subnets[1]}
    assert created["VpcId"] == network.vpc_id
    assert created["Mode"] == "FIPS"
    assert created["BackupRetentionPolicy"] == {"Type": "DAYS", "Value": "90"}
    assert created["TagList"] == [{"Key": "env", "Value": "dr"}]
    groups = client("ec2", REGION).describe_security_groups(GroupIds=[created["SecurityGroup"]])[
        "SecurityGroups"
    ]
    assert groups[0]["GroupName"] == f"cloudhsm-cluster-{created['ClusterId']}-sg"
    assert groups[0]["VpcId"] == network.vpc_id

    world.settle()
    assert cluster_of(hsm, created["ClusterId"])["State"] == "UNINITIALIZED"


def test_initialize_then_activation_makes_cluster_active_with_a_backup(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given an UNINITIALIZED cluster whose first HSM is ACTIVE (so it has a CSR)
    When InitializeCluster is called with a signed certificate and trust anchor
    Then it goes INITIALIZE_IN_PROGRESS, INITIALIZED, then ACTIVE (the emulated
    operator activation), keeps the signed certificate, and the activation backup is READY."""
    cluster_id = create_uninitialized(hsm, network, world)
    hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}a")
    world.settle()
    assert "ClusterCsr" in cluster_of(hsm, cluster_id)["Certificates"]

    answer = hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=PEM_CERT, TrustAnchor=PEM_CA)

    assert answer["State"] == "INITIALIZE_IN_PROGRESS"
    world.settle()
    cluster = cluster_of(hsm, cluster_id)
    assert cluster["State"] == "ACTIVE"
    assert cluster["Certificates"]["ClusterCertificate"] == PEM_CERT
    assert [b["BackupState"] for b in backups_of(hsm, clusterIds=[cluster_id])] == ["READY"]


def test_initialize_needs_an_active_hsm_and_an_uninitialized_cluster(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given an UNINITIALIZED cluster with no HSM, and a seeded ACTIVE cluster
    When InitializeCluster is called on either
    Then both are refused as invalid requests."""
    fresh = create_uninitialized(hsm, network, world)
    active = seed(world, network)

    with pytest.raises(ClientError) as no_hsm:
        hsm.initialize_cluster(ClusterId=fresh, SignedCert=PEM_CERT, TrustAnchor=PEM_CA)
    with pytest.raises(ClientError) as already:
        hsm.initialize_cluster(ClusterId=active, SignedCert=PEM_CERT, TrustAnchor=PEM_CA)

    assert_error(no_hsm, INVALID, "no ACTIVE HSM")
    assert_error(already, INVALID, "not UNINITIALIZED")


def test_without_auto_activation_the_cluster_waits_for_the_operator(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a world where activation is left to the operator
    When a cluster is initialized
    Then it stays INITIALIZED until world.activate_cluster() is called."""
    world.settings.auto_activate = False
    cluster_id = create_uninitialized(hsm, network, world)
    hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}a")
    world.settle()
    hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=PEM_CERT, TrustAnchor=PEM_CA)
    world.settle()
    assert cluster_of(hsm, cluster_id)["State"] == "INITIALIZED"

    world.activate_cluster(cluster_id)

    assert cluster_of(hsm, cluster_id)["State"] == "ACTIVE"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"HsmType": "hsm1.medium"}, "can no longer be created"),
        ({"HsmType": "hsm9.huge"}, "Invalid HsmType"),
        ({"SubnetIds": ["subnet-0123456789abcdef0"]}, "subnet-0123456789abcdef0"),
        ({"BackupRetentionPolicy": {"Type": "DAYS", "Value": "6"}}, "between 7 and 379"),
        ({"BackupRetentionPolicy": {"Type": "DAYS", "Value": "380"}}, "between 7 and 379"),
        ({"Mode": "SORT_OF_FIPS"}, "Invalid Mode"),
    ],
)
def test_create_cluster_rejects_invalid_requests(
    raw_hsm: Any, network: Network, overrides: dict[str, Any], fragment: str
) -> None:
    """Given a valid CreateCluster request
    When one parameter is made invalid (sent without client-side validation)
    Then the emulator answers CloudHsmInvalidRequestException naming the problem."""
    request: dict[str, Any] = {"HsmType": "hsm2m.medium", "SubnetIds": network.subnet_ids[:1]}
    request.update(overrides)

    with pytest.raises(ClientError) as info:
        raw_hsm.create_cluster(**request)

    assert_error(info, INVALID, fragment)


def test_create_cluster_needs_one_subnet_per_az_in_one_vpc(
    hsm: Any, network: Network, aws: CloudHsmWorld
) -> None:
    """Given two subnets in the same AZ, and subnets of two different VPCs
    When CreateCluster is called with either pair
    Then both are refused."""
    ec2 = client("ec2", REGION)
    same_az = ec2.create_subnet(
        VpcId=network.vpc_id, CidrBlock="10.0.9.0/24", AvailabilityZone=f"{REGION}a"
    )["Subnet"]["SubnetId"]
    other = make_network(REGION, cidr_prefix="10.5")

    with pytest.raises(ClientError) as az_clash:
        hsm.create_cluster(
            HsmType="hsm2m.medium", SubnetIds=[network.subnets[f"{REGION}a"], same_az]
        )
    with pytest.raises(ClientError) as vpc_clash:
        hsm.create_cluster(
            HsmType="hsm2m.medium",
            SubnetIds=[network.subnets[f"{REGION}a"], other.subnets[f"{REGION}b"]],
        )

    assert_error(az_clash, INVALID, "one subnet per Availability Zone")
    assert_error(vpc_clash, INVALID, "same VPC")


def test_restore_from_backup_goes_straight_to_active_with_source_certificates(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster with READY backups
    When a cluster is created from its newest backup and given an HSM
    Then it goes CREATE_IN_PROGRESS -> ACTIVE without initialization, records the source
    backup, carries the source's cluster certificate, and its HSM becomes ACTIVE."""
    source_id = seed(world, network)
    newest = backups_of(hsm, clusterIds=[source_id])[-1]

    created = hsm.create_cluster(
        HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[1:3], SourceBackupId=newest["BackupId"]
    )["Cluster"]
    assert created["State"] == "CREATE_IN_PROGRESS"
    world.settle()
    restored = cluster_of(hsm, created["ClusterId"])
    source = cluster_of(hsm, source_id)
    hsm.create_hsm(ClusterId=created["ClusterId"], AvailabilityZone=f"{REGION}b")
    world.settle()

    assert restored["State"] == "ACTIVE"
    assert restored["SourceBackupId"] == newest["BackupId"]
    assert (
        restored["Certificates"]["ClusterCertificate"]
        == source["Certificates"]["ClusterCertificate"]
    )
    assert [h["State"] for h in cluster_of(hsm, created["ClusterId"])["Hsms"]] == ["ACTIVE"]
    with pytest.raises(ClientError) as info:
        hsm.initialize_cluster(
            ClusterId=created["ClusterId"], SignedCert=PEM_CERT, TrustAnchor=PEM_CA
        )
    assert_error(info, INVALID)


def test_restore_accepts_the_backup_arn_but_not_another_accounts(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a READY backup
    When CreateCluster names it by full ARN, and then by an ARN of another account
    Then the first works and the second is CloudHsmAccessDeniedException."""
    source_id = seed(world, network)
    backup = backups_of(hsm, clusterIds=[source_id])[-1]
    foreign = backup["BackupArn"].replace(world.account_id, "210987654321")

    created = hsm.create_cluster(
        HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:1], SourceBackupId=backup["BackupArn"]
    )["Cluster"]
    with pytest.raises(ClientError) as info:
        hsm.create_cluster(
            HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:1], SourceBackupId=foreign
        )

    assert created["SourceBackupId"] == backup["BackupId"]
    assert_error(info, "CloudHsmAccessDeniedException")


@pytest.mark.parametrize(
    "case",
    [
        ("hsm2m.medium", "FIPS", "hsm2m.medium", "FIPS", True),
        ("hsm2m.medium", "FIPS", "hsm2m.medium", "NON_FIPS", False),
        ("hsm2m.medium", "NON_FIPS", "hsm2m.medium", "NON_FIPS", True),
        ("hsm2m.medium", "NON_FIPS", "hsm2m.medium", None, False),  # omitted Mode is FIPS
        ("hsm2m.medium", "FIPS", "hsm1.medium", "FIPS", False),
        ("hsm1.medium", "FIPS", "hsm1.medium", "FIPS", True),
        ("hsm1.medium", "FIPS", "hsm2m.medium", "FIPS", True),
        ("hsm1.medium", "FIPS", "hsm2m.medium", "NON_FIPS", False),
    ],
)
def test_restore_follows_mode_and_hsm_type_rules(
    hsm: Any,
    network: Network,
    world: CloudHsmWorld,
    case: tuple[str, str, str, str | None, bool],
) -> None:
    """Given a backup of a given HSM type and mode
    When a cluster of a given type and mode is created from it
    Then it is accepted exactly when the facts page's restore rules allow it."""
    backup_type, backup_mode, cluster_type, cluster_mode, allowed = case
    source_id = seed(world, network, hsm_type=backup_type, mode=backup_mode)
    backup_id = backups_of(hsm, clusterIds=[source_id])[-1]["BackupId"]
    request: dict[str, Any] = {
        "HsmType": cluster_type,
        "SubnetIds": network.subnet_ids[1:2],
        "SourceBackupId": backup_id,
    }
    if cluster_mode is not None:
        request["Mode"] = cluster_mode

    if allowed:
        assert hsm.create_cluster(**request)["Cluster"]["HsmType"] == cluster_type
    else:
        with pytest.raises(hsm.exceptions.CloudHsmInvalidRequestException):
            hsm.create_cluster(**request)


def test_restore_refuses_a_backup_pending_deletion(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a backup put in PENDING_DELETION by DeleteBackup
    When a cluster is created from it
    Then the request is refused because only READY backups can be restored."""
    source_id = seed(world, network)
    backup_id = backups_of(hsm, clusterIds=[source_id])[0]["BackupId"]
    hsm.delete_backup(BackupId=backup_id)

    with pytest.raises(ClientError) as info:
        hsm.create_cluster(
            HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:1], SourceBackupId=backup_id
        )

    assert_error(info, INVALID, "PENDING_DELETION")


def test_delete_cluster_needs_no_hsms_then_is_deleted_and_disappears(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster with one HSM
    When DeleteCluster is called before and after deleting the HSM
    Then the first call is refused; the second goes DELETE_IN_PROGRESS -> DELETED, removes
    the security group, and the record disappears a day later."""
    cluster_id = seed(world, network)
    group = cluster_of(hsm, cluster_id)["SecurityGroup"]
    with pytest.raises(ClientError) as info:
        hsm.delete_cluster(ClusterId=cluster_id)
    assert_error(info, INVALID, "still contains HSMs")
    hsm_id = cluster_of(hsm, cluster_id)["Hsms"][0]["HsmId"]
    hsm.delete_hsm(ClusterId=cluster_id, HsmId=hsm_id)
    world.settle()

    deleting = hsm.delete_cluster(ClusterId=cluster_id)["Cluster"]
    world.settle()

    assert deleting["State"] == "DELETE_IN_PROGRESS"
    assert cluster_of(hsm, cluster_id)["State"] == "DELETED"
    ec2 = client("ec2", REGION)
    remaining = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [group]}])
    assert remaining["SecurityGroups"] == []
    world.time_travel(timedelta(hours=25))
    assert hsm.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"] == []


def test_modify_cluster_changes_retention_within_limits(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster with a 90-day retention policy
    When ModifyCluster sets 30 days, then an out-of-range value
    Then 30 is stored and the bad value is refused."""
    cluster_id = seed(world, network)

    changed = hsm.modify_cluster(
        ClusterId=cluster_id, BackupRetentionPolicy={"Type": "DAYS", "Value": "30"}
    )["Cluster"]
    with pytest.raises(ClientError) as info:
        hsm.modify_cluster(
            ClusterId=cluster_id, BackupRetentionPolicy={"Type": "DAYS", "Value": "400"}
        )

    assert changed["BackupRetentionPolicy"]["Value"] == "30"
    assert_error(info, INVALID, "between 7 and 379")


def test_modify_cluster_migrates_hsm1_to_hsm2m_with_a_rollback_window(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given an ACTIVE hsm1.medium cluster
    When ModifyCluster asks for hsm2m.medium
    Then it is MODIFY_IN_PROGRESS, then ACTIVE as hsm2m with HSMs converted and a rollback
    expiration set; an unsupported change is refused."""
    cluster_id = seed(world, network, hsm_type="hsm1.medium")

    during = hsm.modify_cluster(ClusterId=cluster_id, HsmType="hsm2m.medium")["Cluster"]
    world.settle()
    after = cluster_of(hsm, cluster_id)

    assert during["State"] == "MODIFY_IN_PROGRESS"
    assert after["State"] == "ACTIVE"
    assert after["HsmType"] == "hsm2m.medium"
    assert {h["HsmType"] for h in after["Hsms"]} == {"hsm2m.medium"}
    assert "HsmTypeRollbackExpiration" in after
    other = seed(world, network)
    with pytest.raises(hsm.exceptions.CloudHsmInvalidRequestException):
        hsm.modify_cluster(ClusterId=other, HsmType="hsm1.medium")


def test_describe_clusters_filters_by_id_vpc_and_state(
    hsm: Any, network: Network, world: CloudHsmWorld, raw_hsm: Any
) -> None:
    """Given one ACTIVE seeded cluster and one cluster still being created
    When DescribeClusters filters by clusterIds, vpcIds and states
    Then each filter selects the right clusters and an unknown filter is refused."""
    active = seed(world, network)
    hold(world, "cluster_create")
    creating = hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:1])[
        "Cluster"
    ]["ClusterId"]

    def ids(**filters: list[str]) -> set[str]:
        return {c["ClusterId"] for c in hsm.describe_clusters(Filters=filters)["Clusters"]}

    assert ids(clusterIds=[active]) == {active}
    assert ids(vpcIds=[network.vpc_id]) == {active, creating}
    assert ids(vpcIds=["vpc-00000000"]) == set()
    assert ids(states=["CREATE_IN_PROGRESS"]) == {creating}
    assert ids(states=["ACTIVE", "CREATE_IN_PROGRESS"]) == {active, creating}
    with pytest.raises(ClientError) as info:
        raw_hsm.describe_clusters(Filters={"owners": ["me"]})
    assert_error(info, INVALID, "Invalid filter")


def test_describe_clusters_pages_by_25(
    hsm: Any, network: Network, world: CloudHsmWorld, raw_hsm: Any
) -> None:
    """Given 30 clusters (quota raised)
    When DescribeClusters is paged with the default and an explicit MaxResults
    Then pages hold 25 + 5 (default) or 10 + 10 + 10, and MaxResults 26 is refused (botocore
    checks only the minimum, so the emulator enforces the maximum)."""
    world.quotas.clusters_per_region = 30
    made = {
        hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:1])["Cluster"][
            "ClusterId"
        ]
        for _ in range(30)
    }

    first = hsm.describe_clusters()
    second = hsm.describe_clusters(NextToken=first["NextToken"])
    paged = list(hsm.get_paginator("describe_clusters").paginate(MaxResults=10))

    assert (len(first["Clusters"]), len(second["Clusters"])) == (25, 5)
    assert "NextToken" not in second
    assert [len(p["Clusters"]) for p in paged] == [10, 10, 10]
    assert {c["ClusterId"] for p in paged for c in p["Clusters"]} == made
    with pytest.raises(ParamValidationError):
        hsm.describe_clusters(MaxResults=0)
    with pytest.raises(ClientError) as info:
        hsm.describe_clusters(MaxResults=26)
    assert_error(info, INVALID, "MaxResults")
    with pytest.raises(ClientError) as unvalidated:
        raw_hsm.describe_clusters(MaxResults=0)
    assert_error(unvalidated, INVALID, "MaxResults")


def test_cluster_quota_is_four_per_region(hsm: Any, network: Network) -> None:
    """Given four clusters in a region
    When a fifth is created
    Then CloudHsmResourceLimitExceededException is raised."""
    for _ in range(4):
        hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:1])

    with pytest.raises(ClientError) as info:
        hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:1])

    assert_error(info, "CloudHsmResourceLimitExceededException", "4 clusters")
