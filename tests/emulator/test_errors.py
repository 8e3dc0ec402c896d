"""Every documented error type reaches boto3 as its modelled exception class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.emulator import CloudHsmWorld
from tests.emulator.helpers import REGION, Network, backups_of, client, seed

Scenario = Callable[[Any, Network, CloudHsmWorld], Callable[[], Any]]


def _access_denied(hsm: Any, network: Network, world: CloudHsmWorld) -> Callable[[], Any]:
    cluster_id = seed(world, network)
    arn = backups_of(hsm, clusterIds=[cluster_id])[0]["BackupArn"]
    foreign = arn.replace(world.account_id, "210987654321")
    return lambda: hsm.get_resource_policy(ResourceArn=foreign)


def _internal_failure(hsm: Any, network: Network, world: CloudHsmWorld) -> Callable[[], Any]:
    cluster_id = seed(world, network, azs=2)
    world.faults.enable("internal-failure")
    return lambda: hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")


def _invalid_request(hsm: Any, network: Network, world: CloudHsmWorld) -> Callable[[], Any]:
    cluster_id = seed(world, network)
    return lambda: hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}c")


def _resource_limit(hsm: Any, network: Network, world: CloudHsmWorld) -> Callable[[], Any]:
    world.quotas.clusters_per_region = 0
    return lambda: hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:1])


def _not_found(hsm: Any, network: Network, world: CloudHsmWorld) -> Callable[[], Any]:
    return lambda: hsm.delete_backup(BackupId="backup-aaaaaaaaaaa")


def _service_failure(hsm: Any, network: Network, world: CloudHsmWorld) -> Callable[[], Any]:
    # The cluster's subnet disappears from EC2: the service cannot place the HSM's ENI.
    cluster_id = hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:1])[
        "Cluster"
    ]["ClusterId"]
    world.settle()
    client("ec2", REGION).delete_subnet(SubnetId=network.subnet_ids[0])
    return lambda: hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}a")


def _tag_error(hsm: Any, network: Network, world: CloudHsmWorld) -> Callable[[], Any]:
    cluster_id = seed(world, network)
    return lambda: hsm.tag_resource(
        ResourceId=cluster_id, TagList=[{"Key": "aws:cloudformation:stack", "Value": "x"}]
    )


@pytest.mark.parametrize(
    "case",
    [
        (_access_denied, "CloudHsmAccessDeniedException", 400),
        (_internal_failure, "CloudHsmInternalFailureException", 500),
        (_invalid_request, "CloudHsmInvalidRequestException", 400),
        (_resource_limit, "CloudHsmResourceLimitExceededException", 400),
        (_not_found, "CloudHsmResourceNotFoundException", 400),
        (_service_failure, "CloudHsmServiceException", 400),
        (_tag_error, "CloudHsmTagException", 400),
    ],
    ids=lambda case: case[1],
)
def test_each_error_type_is_raised_as_its_modelled_exception(
    no_retry_hsm: Any,
    network: Network,
    world: CloudHsmWorld,
    case: tuple[Scenario, str, int],
) -> None:
    """Given a situation where AWS answers with a given error type
    When the call is made through boto3
    Then boto3 raises client.exceptions.<that type> with a message and the HTTP status."""
    scenario, exception_name, status = case
    call = scenario(no_retry_hsm, network, world)

    with pytest.raises(getattr(no_retry_hsm.exceptions, exception_name)) as info:
        call()

    assert info.value.response["Error"]["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_ids_are_checked_before_lookups(hsm: Any, raw_hsm: Any, network: Network) -> None:
    """Given no cluster
    When an operation names a malformed cluster id (without client validation)
    Then it is an invalid request, while a well-formed unknown id is not found."""
    with pytest.raises(ClientError) as malformed:
        raw_hsm.delete_cluster(ClusterId="cluster-!!")
    with pytest.raises(ClientError) as unknown:
        hsm.delete_cluster(ClusterId="cluster-aaaaaaaaaaa")

    assert malformed.value.response["Error"]["Code"] == "CloudHsmInvalidRequestException"
    assert unknown.value.response["Error"]["Code"] == "CloudHsmResourceNotFoundException"
