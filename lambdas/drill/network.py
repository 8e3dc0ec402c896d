"""The EC2 calls the DR drill makes: read its subnets, and open (then close) the path
from the key verifier to the drill cluster's HSMs on TCP 2223-2225.

A restored cluster gets a new security group from CloudHSM. The drill tags it
`hsmdr:drill=<execution>` (IAM lets the drill role add ingress only to groups carrying
that tag), adds the ingress rule there, and adds the matching egress rule to the
verifier's own group (IAM: that one group only). Teardown revokes the egress rule
before DeleteCluster: a rule in another group that references the cluster's group
would keep CloudHSM from deleting it. The ingress rule goes with the cluster's group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lambdas.drill.plan import Subnet

_DUPLICATE = "InvalidPermission.Duplicate"
_GONE = ("InvalidPermission.NotFound", "InvalidGroup.NotFound")


class Ec2:
    def __init__(self, client: Any) -> None:
        self._ec2 = client

    @classmethod
    def for_region(cls, region: str) -> Ec2:
        import boto3
        from botocore.config import Config

        config = Config(retries={"mode": "adaptive", "total_max_attempts": 8})
        return cls(boto3.client("ec2", region_name=region, config=config))

    def subnets(self, subnet_ids: Sequence[str]) -> list[Subnet]:
        from botocore.exceptions import ClientError

        try:
            found = self._ec2.describe_subnets(SubnetIds=list(subnet_ids))["Subnets"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "InvalidSubnetID.NotFound":
                return []
            raise
        return [
            Subnet(s["SubnetId"], s["AvailabilityZone"], s["VpcId"], s.get("CidrBlock", ""))
            for s in found
        ]

    def tag_group(self, group_id: str, tags: dict[str, str]) -> None:
        self._ec2.create_tags(
            Resources=[group_id], Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        )

    def authorize_ingress(self, group_id: str, permission: dict[str, Any]) -> None:
        self._idempotent(
            lambda: self._ec2.authorize_security_group_ingress(
                GroupId=group_id, IpPermissions=[permission]
            ),
            _DUPLICATE,
        )

    def authorize_egress(self, group_id: str, permission: dict[str, Any]) -> None:
        self._idempotent(
            lambda: self._ec2.authorize_security_group_egress(
                GroupId=group_id, IpPermissions=[permission]
            ),
            _DUPLICATE,
        )

    def revoke_ingress(self, group_id: str, permission: dict[str, Any]) -> None:
        """A borrowed standby's group outlives the drill: its rule is taken back."""
        self._idempotent(
            lambda: self._ec2.revoke_security_group_ingress(
                GroupId=group_id, IpPermissions=[permission]
            ),
            *_GONE,
        )

    def revoke_egress(self, group_id: str, permission: dict[str, Any]) -> None:
        self._idempotent(
            lambda: self._ec2.revoke_security_group_egress(
                GroupId=group_id, IpPermissions=[permission]
            ),
            *_GONE,
        )

    def egress_present(self, group_id: str, permission: dict[str, Any]) -> bool:
        """Whether any part of `permission` (same protocol and ports, one of its groups
        or ranges) is still among the group's egress rules: read, never assumed."""
        from botocore.exceptions import ClientError

        try:
            groups = self._ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _GONE:
                return False
            raise
        wanted_groups = {p.get("GroupId") for p in permission.get("UserIdGroupPairs") or []}
        wanted_ranges = {r.get("CidrIp") for r in permission.get("IpRanges") or []}
        for rule in (g.get("IpPermissionsEgress") or [] for g in groups):
            for found in rule:
                same_ports = all(
                    found.get(k) == permission.get(k) for k in ("IpProtocol", "FromPort", "ToPort")
                )
                groups_now = {p.get("GroupId") for p in found.get("UserIdGroupPairs") or []}
                ranges_now = {r.get("CidrIp") for r in found.get("IpRanges") or []}
                if same_ports and (wanted_groups & groups_now or wanted_ranges & ranges_now):
                    return True
        return False

    @staticmethod
    def _idempotent(call: Any, *harmless: str) -> None:
        from botocore.exceptions import ClientError

        try:
            call()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in harmless:
                raise
