"""The sandbox's VPCs: one per region, a /24 subnet per Availability Zone.

CloudHSM needs real subnets (the emulator reads them from moto's EC2), so every
zone the deployment config names gets one, plus the region's other zones as spares.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import boto3

ZONE_LETTERS = "abc"


@dataclass
class RegionNetwork:
    region: str
    vpc_id: str
    subnets: dict[str, str] = field(default_factory=dict)  # AZ -> subnet id

    def subnet_ids(self, zones: Iterable[str]) -> list[str]:
        return [self.subnets[z] for z in zones]


def create_network(region: str, zones: Iterable[str] = ()) -> RegionNetwork:
    ec2 = boto3.client("ec2", region_name=region)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": "hsmdr-sandbox"}])
    wanted = sorted({*zones, *(f"{region}{letter}" for letter in ZONE_LETTERS)})
    network = RegionNetwork(region, vpc_id)
    for index, zone in enumerate(wanted, start=1):
        subnet = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=zone
        )
        network.subnets[zone] = subnet["Subnet"]["SubnetId"]
    return network
