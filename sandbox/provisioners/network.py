"""EC2 security groups (the key verifier's, which the DR drill opens and closes rules on).

A group names its VPC. The deployment config's VPC (key_verification.vpc_id) does not
exist in moto, so the group goes into the sandbox VPC of the region (tagged
`Name=hsmdr-sandbox`), else the default VPC, with a note. Egress rules that name a
security group unknown to moto (the config's HSM group) are skipped with a note; the
group's default allow-all egress is replaced by the template's rules, as in AWS.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sandbox.provisioners.context import Properties, ProvisionContext, Provisioned


def security_group(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    ec2 = ctx.client("ec2")
    vpc_id = _vpc(ctx, logical_id, str(props.get("VpcId") or ""))
    name = props.get("GroupName") or ctx.generated_name(logical_id, 255)
    group_id = ec2.create_security_group(
        GroupName=name,
        Description=props.get("GroupDescription", logical_id),
        VpcId=vpc_id,
    )["GroupId"]
    tags = props.get("Tags") or []
    if tags:
        ec2.create_tags(Resources=[group_id], Tags=tags)
    if "SecurityGroupEgress" in props:
        _replace_egress(ctx, logical_id, group_id, props["SecurityGroupEgress"])
    return Provisioned(group_id, {"GroupId": group_id, "VpcId": vpc_id})


def _vpc(ctx: ProvisionContext, logical_id: str, wanted: str) -> str:
    ec2 = ctx.client("ec2")
    if wanted:
        try:
            return str(ec2.describe_vpcs(VpcIds=[wanted])["Vpcs"][0]["VpcId"])
        except ClientError:
            pass
    for filters in (
        [{"Name": "tag:Name", "Values": ["hsmdr-sandbox"]}],
        [{"Name": "isDefault", "Values": ["true"]}],
    ):
        found = ec2.describe_vpcs(Filters=filters)["Vpcs"]
        if found:
            chosen = str(found[0]["VpcId"])
            ctx.note(logical_id, f"VPC {wanted or '(none)'} is not in the sandbox: using {chosen}")
            return chosen
    return str(ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"])


def _replace_egress(
    ctx: ProvisionContext, logical_id: str, group_id: str, rules: list[dict[str, Any]]
) -> None:
    ec2 = ctx.client("ec2")
    everything = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[everything])
    for rule in rules:
        permission = _permission(rule, rule.get("DestinationSecurityGroupId"))
        try:
            ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[permission])
        except ClientError as error:
            ctx.note(logical_id, f"egress rule {rule.get('Description', '')!r} skipped: {error}")


def security_group_ingress(
    ctx: ProvisionContext, logical_id: str, props: Properties
) -> Provisioned:
    """One ingress rule on an existing group (here: a cluster's, from the verifier's).
    A group unknown to moto (the config's placeholder) is noted, not created."""
    return _rule(ctx, logical_id, props, ingress=True)


def security_group_egress(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    return _rule(ctx, logical_id, props, ingress=False)


def _rule(
    ctx: ProvisionContext, logical_id: str, props: Properties, *, ingress: bool
) -> Provisioned:
    ec2 = ctx.client("ec2")
    peer = props.get("SourceSecurityGroupId" if ingress else "DestinationSecurityGroupId")
    permission = _permission(props, peer)
    group_id = str(props["GroupId"])
    authorize = (
        ec2.authorize_security_group_ingress if ingress else ec2.authorize_security_group_egress
    )
    try:
        authorize(GroupId=group_id, IpPermissions=[permission])
    except ClientError as error:
        ctx.note(logical_id, f"rule on {group_id} not applied: {error}")
    return Provisioned(f"{group_id}-{logical_id}")


def _permission(rule: Properties, peer_group: str | None) -> dict[str, Any]:
    """A template rule (protocol, ports, CIDR or peer group) as EC2's IpPermission."""
    permission: dict[str, Any] = {"IpProtocol": str(rule["IpProtocol"])}
    for port in ("FromPort", "ToPort"):
        if port in rule:
            permission[port] = int(rule[port])
    if "CidrIp" in rule:
        permission["IpRanges"] = [{"CidrIp": rule["CidrIp"]}]
    if peer_group:
        permission["UserIdGroupPairs"] = [{"GroupId": peer_group}]
    return permission
