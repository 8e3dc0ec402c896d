"""HSM lifecycle: CreateHsm and DeleteHsm, one-at-a-time, addresses, backups on
add/remove, quotas."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.emulator import CloudHsmWorld
from tests.emulator.helpers import (
    REGION,
    Network,
    assert_error,
    backups_of,
    client,
    cluster_of,
    create_uninitialized,
    fast_forward,
    hold,
    seed,
)

INVALID = "CloudHsmInvalidRequestException"
AZ_A = f"{REGION}a"


def test_create_hsm_goes_active_with_an_eni_from_its_subnet(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given an UNINITIALIZED cluster
    When CreateHsm is called for one of its AZs
    Then the HSM is CREATE_IN_PROGRESS, then ACTIVE, with an ENI that exists in EC2 and
    an address of the subnet outside the 4 reserved first and the last addresses."""
    cluster_id = create_uninitialized(hsm, network, world)

    created = hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=AZ_A)["Hsm"]
    world.settle()
    active = cluster_of(hsm, cluster_id)["Hsms"][0]

    assert created["State"] == "CREATE_IN_PROGRESS"
    assert re.fullmatch(r"hsm-[a-z2-7]{11}", created["HsmId"])
    assert active["State"] == "ACTIVE"
    assert active["HsmId"] == created["HsmId"]
    assert active["SubnetId"] == network.subnets[AZ_A]
    assert active["HsmType"] == "hsm2m.medium"
    subnet = ipaddress.IPv4Network(network.cidrs[network.subnets[AZ_A]])
    address = ipaddress.IPv4Address(active["EniIp"])
    assert address in subnet
    assert int(subnet.network_address) + 4 <= int(address) < int(subnet.broadcast_address)
    enis = client("ec2", REGION).describe_network_interfaces(NetworkInterfaceIds=[active["EniId"]])[
        "NetworkInterfaces"
    ]
    assert enis[0]["PrivateIpAddress"] == active["EniIp"]


def test_hsms_are_created_one_at_a_time(hsm: Any, network: Network, world: CloudHsmWorld) -> None:
    """Given an ACTIVE cluster restored from a backup, with one HSM being created
    When a second CreateHsm arrives before the first is ACTIVE
    Then it is refused with the service's "not yet been fully activated" message, and
    accepted once the first HSM is ACTIVE."""
    source_id = seed(world, network)
    backup_id = backups_of(hsm, clusterIds=[source_id])[-1]["BackupId"]
    cluster_id = hsm.create_cluster(
        HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:2], SourceBackupId=backup_id
    )["Cluster"]["ClusterId"]
    world.settle()
    hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=AZ_A)

    with pytest.raises(ClientError) as info:
        hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")
    world.settle()
    second = hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")["Hsm"]

    assert_error(info, INVALID, "already contains an HSM but has not yet been fully activated")
    assert second["State"] == "CREATE_IN_PROGRESS"


def test_an_uninitialized_cluster_takes_a_single_hsm(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given an UNINITIALIZED cluster whose first HSM is ACTIVE
    When a second HSM is requested
    Then it is refused until the cluster is initialized and activated."""
    cluster_id = create_uninitialized(hsm, network, world)
    hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=AZ_A)
    world.settle()

    with pytest.raises(ClientError) as info:
        hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")

    assert_error(info, INVALID, "initialize and activate")


def test_create_hsm_honours_a_free_requested_address_only(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster with one HSM in AZ a (10.0.0.0/24)
    When CreateHsm asks for a free address, a used one, a reserved one, one outside the
    subnet, or an AZ the cluster has no subnet in
    Then only the free address is accepted, and it is the HSM's EniIp."""
    cluster_id = seed(world, network, azs=2)
    used = next(
        h["EniIp"] for h in cluster_of(hsm, cluster_id)["Hsms"] if h["AvailabilityZone"] == AZ_A
    )
    free = "10.0.0.200" if used != "10.0.0.200" else "10.0.0.201"

    refusals = {}
    for address, zone in [
        (used, AZ_A),
        ("10.0.0.3", AZ_A),
        ("10.0.0.255", AZ_A),
        ("10.0.1.10", AZ_A),
        (None, f"{REGION}c"),
    ]:
        request = {"ClusterId": cluster_id, "AvailabilityZone": zone}
        if address:
            request["IpAddress"] = address
        with pytest.raises(ClientError) as info:
            hsm.create_hsm(**request)
        refusals[address] = info.value.response["Error"]["Message"]
    created = hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=AZ_A, IpAddress=free)["Hsm"]

    assert "already in use" in refusals[used]
    assert "not an available address" in refusals["10.0.0.3"]
    assert "not an available address" in refusals["10.0.0.255"]
    assert "not an available address" in refusals["10.0.1.10"]
    assert "no subnet in us-east-1c" in refusals[None]
    assert created["EniIp"] == free


def test_adding_an_hsm_to_an_active_cluster_makes_a_backup_first(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded ACTIVE cluster with one ACTIVE HSM and three READY backups
    When an HSM is added
    Then a fourth backup appears CREATE_IN_PROGRESS at once and is READY after settling,
    with the cluster's HsmType and Mode."""
    cluster_id = seed(world, network, azs=2)
    hold(world, "backup_create")

    hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")
    during = backups_of(hsm, clusterIds=[cluster_id])
    fast_forward(world)
    after = backups_of(hsm, clusterIds=[cluster_id])

    assert len(during) == 4
    assert during[-1]["BackupState"] == "CREATE_IN_PROGRESS"
    assert after[-1]["BackupState"] == "READY"
    assert (after[-1]["HsmType"], after[-1]["Mode"]) == ("hsm2m.medium", "FIPS")


@pytest.mark.parametrize("identifier", ["HsmId", "EniId", "EniIp"])
def test_delete_hsm_by_any_identifier_removes_it_and_its_eni_after_a_backup(
    hsm: Any, network: Network, world: CloudHsmWorld, identifier: str
) -> None:
    """Given a seeded ACTIVE cluster with one HSM
    When DeleteHsm names the HSM by HsmId, EniId or EniIp
    Then it goes DELETE_IN_PROGRESS and then disappears with its ENI, and the removal
    made a backup (even of the last HSM, so it can be restored later)."""
    cluster_id = seed(world, network)
    target = cluster_of(hsm, cluster_id)["Hsms"][0]
    hold(world, "hsm_delete")

    answer = hsm.delete_hsm(ClusterId=cluster_id, **{identifier: target[identifier]})
    during = cluster_of(hsm, cluster_id)["Hsms"]
    fast_forward(world)

    assert answer["HsmId"] == target["HsmId"]
    assert [h["State"] for h in during] == ["DELETE_IN_PROGRESS"]
    assert cluster_of(hsm, cluster_id)["Hsms"] == []
    enis = client("ec2", REGION).describe_network_interfaces(
        Filters=[{"Name": "network-interface-id", "Values": [target["EniId"]]}]
    )["NetworkInterfaces"]
    assert enis == []
    assert len(backups_of(hsm, clusterIds=[cluster_id], states=["READY"])) == 4


def test_delete_hsm_needs_a_known_identifier(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster
    When DeleteHsm names no HSM, or one that does not exist
    Then the first is an invalid request and the second CloudHsmResourceNotFoundException."""
    cluster_id = seed(world, network)

    with pytest.raises(ClientError) as nothing:
        hsm.delete_hsm(ClusterId=cluster_id)
    with pytest.raises(ClientError) as unknown:
        hsm.delete_hsm(ClusterId=cluster_id, HsmId="hsm-aaaaaaaaaaa")

    assert_error(nothing, INVALID, "HsmId, EniId or EniIp")
    assert_error(unknown, "CloudHsmResourceNotFoundException", "hsm-aaaaaaaaaaa")


def test_hsm_quotas_per_region_and_per_cluster(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given six HSMs in the region (the default quota), and a cluster quota lowered to 2
    When another HSM is requested in each case
    Then CloudHsmResourceLimitExceededException is raised."""
    full = seed(world, network, azs=3, hsms_per_subnet=2)
    with pytest.raises(ClientError) as region_limit:
        hsm.create_hsm(ClusterId=full, AvailabilityZone=AZ_A)
    world.quotas.hsms_per_region = 20
    world.quotas.hsms_per_cluster = 2
    pair = seed(world, network, azs=2)
    with pytest.raises(ClientError) as cluster_limit:
        hsm.create_hsm(ClusterId=pair, AvailabilityZone=AZ_A)

    assert_error(region_limit, "CloudHsmResourceLimitExceededException", "6 HSMs")
    assert_error(cluster_limit, "CloudHsmResourceLimitExceededException", "2 HSMs")


def test_an_hsm_still_being_created_can_be_deleted_and_repeat_deletes_are_harmless(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given an HSM in CREATE_IN_PROGRESS
    When it is deleted twice before the deletion completes
    Then both calls return its id, it never becomes ACTIVE, and it disappears."""
    cluster_id = create_uninitialized(hsm, network, world)
    hold(world, "hsm_create", "hsm_delete")
    hsm_id = hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=AZ_A)["Hsm"]["HsmId"]

    answers = [hsm.delete_hsm(ClusterId=cluster_id, HsmId=hsm_id)["HsmId"] for _ in range(2)]
    states = [h["State"] for h in cluster_of(hsm, cluster_id)["Hsms"]]
    fast_forward(world)

    assert answers == [hsm_id, hsm_id]
    assert states == ["DELETE_IN_PROGRESS"]
    assert cluster_of(hsm, cluster_id)["Hsms"] == []
