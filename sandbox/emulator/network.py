"""The emulator's view of the VPC, read from (and written to) moto's EC2 backend.

CloudHSM lives in the customer's VPC: CreateCluster needs real subnets (their AZ, VPC
and CIDR), creates a security group, and every HSM gets an ENI with an address from
its subnet. Doing that in moto's EC2 backend keeps the sandbox consistent: a test that
describes network interfaces or security groups sees what CloudHSM would have made.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from typing import Any

# AWS reserves the first four addresses and the last one of every subnet.
_RESERVED_AT_START = 4
_RANDOM_TRIES = 64


@dataclass(frozen=True)
class SubnetInfo:
    subnet_id: str
    vpc_id: str
    availability_zone: str
    cidr: ipaddress.IPv4Network
    ipv6_cidr: ipaddress.IPv6Network | None

    def usable(self, address: ipaddress.IPv4Address) -> bool:
        first = int(self.cidr.network_address) + _RESERVED_AT_START
        last = int(self.cidr.broadcast_address) - 1
        return address in self.cidr and first <= int(address) <= last


class Ec2Bridge:
    def __init__(self, account_id: str, rng: random.Random) -> None:
        self._account_id = account_id
        self._rng = rng

    def _backend(self, region: str) -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[self._account_id][region]

    def subnet(self, region: str, subnet_id: str) -> SubnetInfo | None:
        backend = self._backend(region)
        for subnets_in_az in backend.subnets.values():
            found = subnets_in_az.get(subnet_id)
            if found is not None:
                return _subnet_info(found)
        return None

    def create_cluster_security_group(self, region: str, vpc_id: str, cluster_id: str) -> str:
        backend = self._backend(region)
        group = backend.create_security_group(
            name=f"cloudhsm-cluster-{cluster_id}-sg",
            description=f"Security group for CloudHSM cluster {cluster_id}",
            vpc_id=vpc_id,
        )
        # Clients reach HSMs on TCP 2223-2225; the group admits its own members.
        backend.authorize_security_group_ingress(
            group_name_or_id=group.id,
            ip_protocol="tcp",
            from_port="2223",
            to_port="2225",
            ip_ranges=[],
            source_groups=[{"GroupId": group.id}],
            vpc_id=vpc_id,
        )
        return str(group.id)

    def delete_security_group(self, region: str, group_id: str) -> None:
        try:
            self._backend(region).delete_security_group(group_id=group_id)
        except Exception:  # best effort: the test may have removed it already
            return

    def used_ips(self, region: str, subnet_id: str) -> set[str]:
        used: set[str] = set()
        for eni in self._backend(region).enis.values():
            if getattr(eni.subnet, "id", None) != subnet_id:
                continue
            if eni.private_ip_address:
                used.add(str(eni.private_ip_address))
            for item in eni.private_ip_addresses or []:
                if isinstance(item, dict) and item.get("PrivateIpAddress"):
                    used.add(str(item["PrivateIpAddress"]))
        return used

    def pick_free_ip(self, subnet: SubnetInfo, taken: set[str]) -> str | None:
        first = int(subnet.cidr.network_address) + _RESERVED_AT_START
        last = int(subnet.cidr.broadcast_address) - 1
        if last < first:
            return None
        for _ in range(_RANDOM_TRIES):
            candidate = str(ipaddress.IPv4Address(self._rng.randint(first, last)))
            if candidate not in taken:
                return candidate
        for number in range(first, last + 1):
            candidate = str(ipaddress.IPv4Address(number))
            if candidate not in taken:
                return candidate
        return None

    def pick_ipv6(self, subnet: SubnetInfo) -> str | None:
        if subnet.ipv6_cidr is None:
            return None
        offset = self._rng.randint(16, 2**32)
        return str(subnet.ipv6_cidr.network_address + offset)

    def create_eni(self, region: str, subnet_id: str, ip: str, group_id: str, hsm_id: str) -> str:
        backend = self._backend(region)
        eni = backend.create_network_interface(
            subnet=subnet_id,
            private_ip_address=ip,
            group_ids=[group_id],
            description=f"CloudHSM ENI for {hsm_id}",
        )
        return str(eni.id)

    def delete_eni(self, region: str, eni_id: str) -> None:
        try:
            self._backend(region).delete_network_interface(eni_id)
        except Exception:  # best effort: the test may have removed it already
            return


def _subnet_info(subnet: Any) -> SubnetInfo:
    ipv6: ipaddress.IPv6Network | None = None
    for association in subnet.ipv6_cidr_block_associations.values():
        block = association.get("ipv6CidrBlock")
        if block:
            ipv6 = ipaddress.IPv6Network(block, strict=False)
            break
    return SubnetInfo(
        subnet_id=str(subnet.id),
        vpc_id=str(subnet.vpc_id),
        availability_zone=str(subnet.availability_zone),
        cidr=ipaddress.IPv4Network(subnet.cidr_block, strict=False),
        ipv6_cidr=ipv6,
    )
