"""Small helpers shared by the emulator tests."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sandbox.emulator import CloudHsmWorld

# One botocore session for the whole run: it caches the parsed service models, which
# boto3's default session (reset by every mock_aws) would parse again for each test.
SESSION = boto3.session.Session()

REGION = "us-east-1"
DR_REGION = "us-west-2"


@dataclass
class Network:
    region: str
    vpc_id: str
    subnets: dict[str, str]  # AZ -> subnet id
    cidrs: dict[str, str]  # subnet id -> CIDR

    @property
    def subnet_ids(self) -> list[str]:
        return list(self.subnets.values())


def client(service: str, region: str = "us-east-1", **kwargs: Any) -> Any:
    return SESSION.client(service, region_name=region, **kwargs)


def make_network(region: str, cidr_prefix: str = "10.0") -> Network:
    ec2 = client("ec2", region)
    vpc_id = ec2.create_vpc(CidrBlock=f"{cidr_prefix}.0.0/16")["Vpc"]["VpcId"]
    subnets: dict[str, str] = {}
    cidrs: dict[str, str] = {}
    for index, letter in enumerate("abc"):
        cidr = f"{cidr_prefix}.{index}.0/24"
        subnet = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{region}{letter}"
        )["Subnet"]
        subnets[f"{region}{letter}"] = subnet["SubnetId"]
        cidrs[subnet["SubnetId"]] = cidr
    return Network(region=region, vpc_id=vpc_id, subnets=subnets, cidrs=cidrs)


PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBsignedbyourCA\n-----END CERTIFICATE-----\n"
PEM_CA = "-----BEGIN CERTIFICATE-----\nMIIBourrootCA\n-----END CERTIFICATE-----\n"


def seed(
    world: CloudHsmWorld,
    network: Network,
    *,
    azs: int = 1,
    hours: tuple[float, ...] = (2, 26, 50),
    **kwargs: Any,
) -> str:
    return world.seed_cluster(
        region=network.region,
        subnet_ids=network.subnet_ids[:azs],
        backup_ages=[timedelta(hours=h) for h in hours],
        **kwargs,
    )


def backups_of(client: Any, **filters: list[str]) -> list[dict[str, Any]]:
    pages = client.get_paginator("describe_backups").paginate(Filters=filters, SortAscending=True)
    return [backup for page in pages for backup in page["Backups"]]


def cluster_of(client: Any, cluster_id: str) -> dict[str, Any]:
    clusters = client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"]
    assert len(clusters) == 1
    return dict(clusters[0])


def age(moment: datetime) -> timedelta:
    return datetime.now(UTC) - moment


def assert_error(info: pytest.ExceptionInfo[Any], code: str, *fragments: str) -> None:
    error = info.value.response["Error"]
    assert error["Code"] == code
    for fragment in fragments:
        assert fragment in error["Message"]


def create_uninitialized(client: Any, network: Network, world: CloudHsmWorld) -> str:
    cluster_id = str(
        client.create_cluster(HsmType="hsm2m.medium", SubnetIds=network.subnet_ids[:2])["Cluster"][
            "ClusterId"
        ]
    )
    world.settle()
    return cluster_id


# How long a held lifecycle step lasts: far longer than any test takes to look at it.
HELD = timedelta(hours=1)


def hold(world: CloudHsmWorld, *steps: str) -> None:
    """Make these lifecycle steps (DurationProfile fields) last an emulated hour, so a
    test reads the in-progress state however loaded the machine is; `fast_forward`
    then finishes them without waiting."""
    world.profile = replace(world.profile, **dict.fromkeys(steps, HELD))


def fast_forward(world: CloudHsmWorld) -> None:
    """Travel in time, transition by transition, until nothing is pending (settle()
    without waiting on the wall clock; timestamps move back with the travel)."""
    while (change := world.next_change_in()) is not None:
        world.time_travel(max(change, timedelta(0)) + timedelta(milliseconds=1))
