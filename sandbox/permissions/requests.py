"""What an API call asks IAM for: the action, the resource ARN and the request's tags.

IAM action names are the operation names except where a service names them otherwise
(below, from the Service Authorization Reference's API links). The resource is read
from the parameter each operation names it by; an operation whose resource the sandbox
cannot name is authorized against "*", so only a statement on "*" can allow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# botocore service name -> IAM prefix, where they differ
_PREFIX = {
    "cloudhsmv2": "cloudhsm",
    "stepfunctions": "states",
    "sfn": "states",
    "monitoring": "cloudwatch",
}
# (IAM prefix, operation) -> IAM action name, where they differ
_ACTION_NAMES = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "GetBucketEncryption"): "GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "PutEncryptionConfiguration",
    ("s3", "DeleteObjects"): "DeleteObject",
}
# Calls no IAM policy governs.
UNAUTHORIZED_OPERATIONS = frozenset({("sts", "GetCallerIdentity")})


@dataclass(frozen=True)
class AuthRequest:
    action: str
    resources: tuple[str, ...]  # every resource the call touches ("*" when none)
    region: str
    account: str
    request_tags: Mapping[str, str] = field(default_factory=dict)
    # service-specific keys read from the request (s3:prefix ...), where the call sets them
    keys: Mapping[str, str] = field(default_factory=dict)


def iam_prefix(service: str) -> str:
    return _PREFIX.get(service, service)


def describe(
    service: str, operation: str, params: Mapping[str, Any], region: str, account: str
) -> AuthRequest:
    prefix = iam_prefix(service)
    action = f"{prefix}:{_ACTION_NAMES.get((prefix, operation), operation)}"
    resolver = _RESOLVERS.get(prefix)
    resources: list[str] = resolver(operation, params, region, account) if resolver else []
    return AuthRequest(
        action=action,
        resources=tuple(resources) or ("*",),
        region=region,
        account=account,
        request_tags=_request_tags(prefix, operation, params),
        keys=_request_keys(prefix, params),
    )


def _request_tags(prefix: str, operation: str, params: Mapping[str, Any]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for entry in params.get("TagList", []) or params.get("Tags", []) or []:
        if isinstance(entry, Mapping) and "Key" in entry:
            tags[str(entry["Key"])] = str(entry.get("Value", ""))
    if isinstance(params.get("Tags"), Mapping):  # lambda, sqs, scheduler-style maps
        tags.update({str(k): str(v) for k, v in params["Tags"].items()})
    for spec in params.get("TagSpecifications", []) or []:
        for entry in spec.get("Tags", []):
            tags[str(entry["Key"])] = str(entry.get("Value", ""))
    if prefix == "cloudhsm" and operation == "UntagResource":
        tags = {}
    return tags


# Request parameters that are condition keys of their service (Service Authorization
# Reference, condition keys of each service).
_REQUEST_KEYS = {
    "s3": {"Prefix": "s3:prefix", "Delimiter": "s3:delimiter", "MaxKeys": "s3:max-keys"},
}


def _request_keys(prefix: str, params: Mapping[str, Any]) -> dict[str, str]:
    names = _REQUEST_KEYS.get(prefix, {})
    return {key: str(params[name]) for name, key in names.items() if name in params}


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _cloudhsm(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    def arn_of(identifier: str) -> str:
        if identifier.startswith("arn:"):
            return identifier
        kind = "backup" if identifier.startswith("backup-") else "cluster"
        return _arn("cloudhsm", region, account, f"{kind}/{identifier}")

    if op in ("DeleteHsm", "DescribeClusters", "DescribeBackups"):
        return []  # no resource type: authorized on "*"
    if op == "CreateCluster":
        return [arn_of(p["SourceBackupId"])] if p.get("SourceBackupId") else []
    for name in ("ClusterId", "BackupId", "ResourceId", "ResourceArn"):
        if p.get(name):
            return [arn_of(str(p[name]))]
    return []


def _sns(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    arn = p.get("TopicArn") or p.get("TargetArn") or p.get("ResourceArn")
    return [str(arn)] if arn else []


def _sqs(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    url = p.get("QueueUrl")
    if not url:
        return []
    parts = str(url).rstrip("/").split("/")
    return [_arn("sqs", region, parts[-2], parts[-1])]


def _dynamodb(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    names: list[str] = []
    if p.get("TableName"):
        names.append(str(p["TableName"]))
    names.extend(p.get("RequestItems", {}) or {})
    return [
        n if n.startswith("arn:") else _arn("dynamodb", region, account, f"table/{n}")
        for n in names
    ]


def _lambda(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    name = p.get("FunctionName")
    if not name:
        return []
    name = str(name)
    if name.startswith("arn:"):
        return [name]
    if ":" in name:  # account:function:name or name:qualifier
        parts = name.split(":")
        if len(parts) >= 3 and parts[1] == "function":
            return [_arn("lambda", region, parts[0], ":".join(parts[1:]))]
        return [_arn("lambda", region, account, f"function:{name}")]
    return [_arn("lambda", region, account, f"function:{name}")]


def _states(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    for name in ("executionArn", "stateMachineArn", "resourceArn", "mapRunArn"):
        if p.get(name):
            return [str(p[name])]
    return []


def _ssm(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    names = [p["Name"]] if p.get("Name") else list(p.get("Names", []) or [])
    if p.get("Path"):
        names.append(p["Path"])
    return [
        n
        if str(n).startswith("arn:")
        else _arn("ssm", region, account, f"parameter/{str(n).lstrip('/')}")
        for n in names
    ]


def _s3(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    bucket = p.get("Bucket")
    if not bucket:
        return []
    if p.get("Key") is not None:
        return [f"arn:aws:s3:::{bucket}/{p['Key']}"]
    if op == "DeleteObjects":
        return [f"arn:aws:s3:::{bucket}/{o['Key']}" for o in p.get("Delete", {}).get("Objects", [])]
    return [f"arn:aws:s3:::{bucket}"]


def _kms(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    key = p.get("KeyId")
    return [str(key)] if key else []  # resolved to the key's ARN by the enforcer


def _ec2(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    if p.get("GroupId"):
        return [_arn("ec2", region, account, f"security-group/{p['GroupId']}")]
    if op in ("CreateTags", "DeleteTags"):
        return [_arn("ec2", region, account, f"{_ec2_kind(r)}/{r}") for r in p.get("Resources", [])]
    return []


def _ec2_kind(resource_id: str) -> str:
    return {
        "sg": "security-group",
        "eni": "network-interface",
        "subnet": "subnet",
        "vpc": "vpc",
    }.get(resource_id.split("-", 1)[0], "instance")


def _secretsmanager(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    secret = p.get("SecretId")
    return [str(secret)] if secret else []  # resolved to the secret's ARN by the enforcer


def _scheduler(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    if not p.get("Name"):
        return []
    group = p.get("GroupName") or "default"
    kind = "schedule-group" if op.endswith("ScheduleGroup") else "schedule"
    name = p["Name"] if kind == "schedule-group" else f"{group}/{p['Name']}"
    return [_arn("scheduler", region, account, f"{kind}/{name}")]


def _events(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    rule = p.get("Rule") or (p.get("Name") if "Rule" in op else None)
    if not rule:
        return []
    bus = p.get("EventBusName") or "default"
    path = f"rule/{rule}" if bus == "default" else f"rule/{bus}/{rule}"
    return [_arn("events", region, account, path)]


def _cloudwatch(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    names = list(p.get("AlarmNames", []) or [])
    if p.get("AlarmName"):
        names.append(p["AlarmName"])
    return [_arn("cloudwatch", region, account, f"alarm:{n}") for n in names]


def _logs(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    group = p.get("logGroupName")
    return [_arn("logs", region, account, f"log-group:{group}")] if group else []


def _ram(op: str, p: Mapping[str, Any], region: str, account: str) -> list[str]:
    # A resource share named by ARN (promote, update, delete); listings name none.
    arn = p.get("resourceShareArn")
    return [str(arn)] if arn else []


_RESOLVERS = {
    "cloudhsm": _cloudhsm,
    "sns": _sns,
    "sqs": _sqs,
    "dynamodb": _dynamodb,
    "lambda": _lambda,
    "states": _states,
    "ssm": _ssm,
    "s3": _s3,
    "kms": _kms,
    "ec2": _ec2,
    "secretsmanager": _secretsmanager,
    "scheduler": _scheduler,
    "events": _events,
    "cloudwatch": _cloudwatch,
    "logs": _logs,
    "ram": _ram,
}
