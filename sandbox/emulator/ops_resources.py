"""Resource policies (Get/Put/DeleteResourcePolicy) and tags (ListTags, TagResource,
UntagResource)."""

from __future__ import annotations

from typing import Any

from sandbox.emulator import ram_shares, sharing, validation
from sandbox.emulator.core import WorldCore
from sandbox.emulator.errors import (
    CloudHsmAccessDeniedException,
    CloudHsmInvalidRequestException,
)
from sandbox.emulator.ids import parse_arn
from sandbox.emulator.models import Backup, BackupState, tag_list
from sandbox.emulator.pagination import page

MAX_TAGS_PAGE = 100
DEFAULT_TAGS_PAGE = 50


def _policy_target(core: WorldCore, region: str, params: dict[str, Any]) -> Backup:
    """Only backups take resource policies (the API reference lists no other type), and
    only their owner may read or change them ("Cross-account use: No"): a backup shared
    with this account cannot be shared on."""
    raw = str(validation.require(params, "ResourceArn"))
    arn = parse_arn(raw)
    if arn is None:
        raise CloudHsmInvalidRequestException(f"Invalid ResourceArn {raw}")
    if arn.account_id != core.account_id:
        raise CloudHsmAccessDeniedException(f"You do not own {raw}")
    if arn.kind != "backup":
        raise CloudHsmInvalidRequestException(
            f"Resource policies can only be attached to backups, not to {arn.kind}s"
        )
    if arn.region != region:
        raise CloudHsmInvalidRequestException(f"{raw} is not in {region}")
    return core.backup(region, arn.resource_id)


def get_resource_policy(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    backup = _policy_target(core, region, params)
    policy = core.policies.get(backup.arn)
    return {} if policy is None else {"Policy": policy}


def put_resource_policy(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    backup = _policy_target(core, region, params)
    policy = str(validation.require(params, "Policy"))
    if backup.state != BackupState.READY:
        raise CloudHsmInvalidRequestException(
            f"Backup {backup.backup_id} is {backup.state.value}; only READY backups can be shared"
        )
    sharing.validated_policy(policy)
    core.policies[backup.arn] = policy
    ram_shares.policy_put(core, backup, policy)
    return {"ResourceArn": backup.arn, "Policy": policy}


def delete_resource_policy(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    backup = _policy_target(core, region, params)
    removed = core.policies.pop(backup.arn, None)
    ram_shares.policy_deleted(core, backup)  # the RAM share goes with the policy
    body: dict[str, Any] = {"ResourceArn": backup.arn}
    if removed is not None:
        body["Policy"] = removed
    return body


def list_tags(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    resource = core.resource(region, str(validation.require(params, "ResourceId")))
    chunk, token = page(
        tag_list(resource.tags),
        params,
        operation="ListTags",
        limit=MAX_TAGS_PAGE,
        default=DEFAULT_TAGS_PAGE,
    )
    body: dict[str, Any] = {"TagList": chunk}
    if token:
        body["NextToken"] = token
    return body


def tag_resource(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    resource = core.resource(region, str(validation.require(params, "ResourceId")))
    new_tags = validation.tags_from_list(validation.require(params, "TagList"))
    merged = {**resource.tags, **new_tags}
    validation.within_tag_limit(merged, core.quotas.tags_per_resource)
    resource.tags = merged
    return {}


def untag_resource(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    resource = core.resource(region, str(validation.require(params, "ResourceId")))
    keys = validation.tag_keys(validation.require(params, "TagKeyList"))
    resource.tags = {k: v for k, v in resource.tags.items() if k not in keys}
    return {}
