"""Security groups between a function in a VPC and a cluster's HSMs, as AWS applies them.

CloudHSM clients reach HSMs on TCP 2223-2225. A connection needs both sides: an egress
rule of one of the function's groups that covers those ports towards the cluster's
group (or a CIDR holding the HSMs' addresses), and an ingress rule of the cluster's
group that covers them from one of the function's groups (or a CIDR holding the
function's subnets). A group CloudHSM creates admits only its own members.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

HSM_PORTS = (2223, 2225)


def unreachable_reason(
    account: str,
    region: str,
    *,
    cluster_region: str,
    function_groups: Iterable[str],
    function_subnets: Iterable[str],
    cluster_group: str,
    hsm_ips: Iterable[str],
) -> str | None:
    """None when the function (in `region`) can open TCP 2223-2225 to the HSMs of a
    cluster in `cluster_region`; else why not. Groups of two regions never reference
    each other, so across regions only CIDR rules can match."""
    from moto.ec2.models import ec2_backends

    groups = list(function_groups)
    if not groups:
        return "the function is not in a VPC: it has no route to the HSMs' network interfaces"
    backend = ec2_backends[account][region]
    cluster_backend = ec2_backends[account][cluster_region]
    subnet_cidrs = [_subnet_cidr(backend, s) for s in function_subnets]
    ips = list(hsm_ips)
    egress = [
        rule
        for group_id in groups
        for rule in _rules(backend, group_id, egress=True)
        if _covers_ports(rule) and _reaches(rule, {cluster_group}, ips)
    ]
    if not egress:
        return (
            f"no egress rule of {', '.join(groups)} allows TCP {HSM_PORTS[0]}-{HSM_PORTS[1]} "
            f"to the cluster's security group {cluster_group}"
        )
    ingress = [
        rule
        for rule in _rules(cluster_backend, cluster_group, egress=False)
        if _covers_ports(rule) and _reaches(rule, set(groups), subnet_cidrs)
    ]
    if not ingress:
        return (
            f"no ingress rule of the cluster's security group {cluster_group} allows TCP "
            f"{HSM_PORTS[0]}-{HSM_PORTS[1]} from {', '.join(groups)}"
        )
    return None


def _rules(backend: Any, group_id: str, *, egress: bool) -> list[Any]:
    group = backend.get_security_group_from_id(group_id)
    if group is None:
        return []
    return list(group.egress_rules if egress else group.ingress_rules)


def _covers_ports(rule: Any) -> bool:
    if rule.ip_protocol == "-1":
        return True
    if rule.ip_protocol != "tcp" or rule.from_port is None:
        return False
    return int(rule.from_port) <= HSM_PORTS[0] and int(rule.to_port) >= HSM_PORTS[1]


def _reaches(rule: Any, groups: set[str], addresses: list[str]) -> bool:
    """Whether the rule's peer is one of `groups`, or a CIDR holding every address
    (an address is an IP or a subnet's CIDR)."""
    peer_group = (rule.source_group or {}).get("GroupId")
    if peer_group:
        return peer_group in groups
    cidr = (rule.ip_range or {}).get("CidrIp")
    if not cidr or not addresses:
        return False
    network = ipaddress.IPv4Network(cidr)  # security group rules of CloudHSM's VPCs: IPv4
    return all(ipaddress.IPv4Network(a, strict=False).subnet_of(network) for a in addresses)


def _subnet_cidr(backend: Any, subnet_id: str) -> str:
    for subnets in backend.subnets.values():
        if subnet_id in subnets:
            return str(subnets[subnet_id].cidr_block)
    return "255.255.255.255/32"  # unknown subnet: no CIDR rule can hold it
