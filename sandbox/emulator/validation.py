"""Request checks the service makes beyond what botocore validates client-side.

Step Functions' aws-sdk clients run with parameter validation off, so the emulator
repeats the model's range checks (MaxResults and friends) itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.emulator.errors import (
    CloudHsmInvalidRequestException,
    CloudHsmResourceLimitExceededException,
    CloudHsmTagException,
)

MIN_RETENTION_DAYS = 7
MAX_RETENTION_DAYS = 379
DEFAULT_RETENTION_DAYS = 90


def require(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise CloudHsmInvalidRequestException(f"Missing required parameter {name}")
    return value


def retention_days(policy: Any) -> int:
    """BackupRetentionPolicy {Type: DAYS, Value: "7".."379"} -> days."""
    if not isinstance(policy, dict):
        raise CloudHsmInvalidRequestException("BackupRetentionPolicy must be a structure")
    if policy.get("Type", "DAYS") != "DAYS":
        raise CloudHsmInvalidRequestException("BackupRetentionPolicy Type must be DAYS")
    raw = str(policy.get("Value", ""))
    if not raw.isdigit():
        raise CloudHsmInvalidRequestException(
            f"BackupRetentionPolicy Value must be a number of days, got {raw!r}"
        )
    days = int(raw)
    if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise CloudHsmInvalidRequestException(
            f"BackupRetentionPolicy Value must be between {MIN_RETENTION_DAYS} and "
            f"{MAX_RETENTION_DAYS} days, got {days}"
        )
    return days


def one_of(value: str, allowed: Iterable[str], name: str) -> str:
    options = tuple(allowed)
    if value not in options:
        raise CloudHsmInvalidRequestException(
            f"Invalid {name} {value!r}; valid values: {', '.join(options)}"
        )
    return value


def tag_keys(keys: Iterable[str]) -> list[str]:
    checked = []
    for key in keys:
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise CloudHsmTagException(f"Invalid tag key {key!r}")
        if key.lower().startswith("aws:"):
            raise CloudHsmTagException(f"Tag keys starting with 'aws:' are reserved: {key}")
        checked.append(key)
    return checked


def tags_from_list(tag_list: Any) -> dict[str, str]:
    """TagList [{Key, Value}] -> ordered dict, refusing reserved keys and duplicates."""
    if tag_list is None:
        return {}
    if not isinstance(tag_list, list):
        raise CloudHsmTagException("TagList must be a list")
    tags: dict[str, str] = {}
    for item in tag_list:
        if not isinstance(item, dict) or "Key" not in item or "Value" not in item:
            raise CloudHsmTagException("Every tag needs a Key and a Value")
        (key,) = tag_keys([item["Key"]])
        value = str(item["Value"])
        if len(value) > 256:
            raise CloudHsmTagException(f"Tag value for {key} is longer than 256 characters")
        if key in tags:
            raise CloudHsmTagException(f"Duplicate tag key {key}")
        tags[key] = value
    return tags


def within_tag_limit(tags: dict[str, str], limit: int) -> None:
    if len(tags) > limit:
        raise CloudHsmResourceLimitExceededException(
            f"A resource can have at most {limit} tags; this request would give it {len(tags)}"
        )


def filters(params: dict[str, Any], allowed: Iterable[str]) -> dict[str, list[str]]:
    raw = params.get("Filters") or {}
    if not isinstance(raw, dict):
        raise CloudHsmInvalidRequestException("Filters must be a map of lists")
    names = tuple(allowed)
    result: dict[str, list[str]] = {}
    for name, values in raw.items():
        if name not in names:
            raise CloudHsmInvalidRequestException(
                f"Invalid filter {name!r}; valid filters: {', '.join(names)}"
            )
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise CloudHsmInvalidRequestException(f"Filter {name} must be a list of strings")
        result[name] = values
    return result
