"""The restore workflow's input, checked field by field before anything is read or created."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lambdas.restore.settings import RestoreSettings
from lambdas.shared.errors import InvalidInput
from lambdas.shared.protected import (
    BACKUP_ID_PATTERN,
    CLUSTER_ID_PATTERN,
    REGION_PATTERN,
    ProtectedCluster,
)

SUBNET_ID_PATTERN = r"^subnet-[0-9a-f]{8,17}$"
# Tag values and SSM parameter names both accept these; Step Functions execution names too.
RESTORE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"
MAX_SUBNETS = 10  # CreateCluster's limit
MAX_HSMS_PER_CLUSTER = 28  # CloudHSM's quota
FIELDS = frozenset(
    {
        "source_cluster_id",
        "backup_id",
        "region",
        "subnet_ids",
        "hsm_count",
        "poll_seconds",
        "restore_id",
    }
)


@dataclass(frozen=True)
class RestoreRequest:
    region: str
    restore_id: str
    poll_seconds: int
    source_cluster_id: str | None = None
    backup_id: str | None = None
    subnet_ids: tuple[str, ...] | None = None  # None: the config's for the region
    hsm_count: int | None = None  # None: the source cluster's desired count

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["subnet_ids"] = None if self.subnet_ids is None else list(self.subnet_ids)
        return data


def named_cluster(event: Any, clusters: Iterable[ProtectedCluster]) -> Any:
    """The input with `source_cluster_id` given as a protected cluster's name (the
    config's `protected_clusters[].name`) replaced by that cluster's id: in the recovery
    account the operator may know the lost cluster by name only. Anything else as is."""
    if not isinstance(event, Mapping):
        return event
    given = event.get("source_cluster_id")
    if not isinstance(given, str) or re.fullmatch(CLUSTER_ID_PATTERN, given):
        return event
    ids = [c.id for c in clusters if c.name and c.name == given]
    return {**event, "source_cluster_id": ids[0]} if len(ids) == 1 else event


def parse_request(
    event: Any, settings: RestoreSettings, default_region: str, execution_name: str
) -> RestoreRequest:
    if not isinstance(event, Mapping):
        raise InvalidInput("input", "must be a JSON object")
    unknown = sorted(set(event) - FIELDS)
    if unknown:
        raise InvalidInput("input", f"unknown field(s) {unknown}; known: {sorted(FIELDS)}")
    source = _optional_id(event, "source_cluster_id", CLUSTER_ID_PATTERN, "cluster-igklspoyj5v")
    backup_id = _optional_id(event, "backup_id", BACKUP_ID_PATTERN, "backup-ro3lw6tr2lk")
    if source is None and backup_id is None:
        raise InvalidInput(
            "source_cluster_id", "give source_cluster_id (its latest READY backup) or backup_id"
        )
    region = event.get("region") or default_region
    if not isinstance(region, str) or not re.fullmatch(REGION_PATTERN, region):
        raise InvalidInput("region", f"{region!r} is not an AWS region")
    restore_id = event.get("restore_id") or execution_name
    if not isinstance(restore_id, str) or not re.fullmatch(RESTORE_ID_PATTERN, restore_id):
        raise InvalidInput("restore_id", f"{restore_id!r} does not match {RESTORE_ID_PATTERN}")
    return RestoreRequest(
        region=region,
        restore_id=restore_id,
        poll_seconds=_whole(event, "poll_seconds", settings.poll_seconds, 3600),
        source_cluster_id=source,
        backup_id=backup_id,
        subnet_ids=_subnets(event.get("subnet_ids")),
        hsm_count=None
        if event.get("hsm_count") is None
        else _whole(event, "hsm_count", 0, MAX_HSMS_PER_CLUSTER),
    )


def subnets_for(request: RestoreRequest, settings: RestoreSettings) -> tuple[str, ...]:
    """The subnets to restore into: the input's, else the config's for the region."""
    if request.subnet_ids is not None:
        return request.subnet_ids
    configured = settings.subnets.get(request.region)
    if not configured:
        raise InvalidInput(
            "subnet_ids",
            f"none given and the config's restore.subnets has none for {request.region}: "
            f"add restore.subnets.{request.region} (one subnet per Availability Zone) "
            "or pass subnet_ids",
        )
    return tuple(configured)


def _optional_id(event: Mapping[str, Any], name: str, pattern: str, example: str) -> str | None:
    value = event.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise InvalidInput(name, f"{value!r} is not a CloudHSM id like {example}")
    return value


def _whole(event: Mapping[str, Any], name: str, default: int, maximum: int) -> int:
    value = event.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(name, f"must be a whole number from 1 to {maximum}")
    return value


def _subnets(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_SUBNETS
        or not all(isinstance(s, str) and re.fullmatch(SUBNET_ID_PATTERN, s) for s in value)
    ):
        raise InvalidInput(
            "subnet_ids", f"must be a list of 1 to {MAX_SUBNETS} subnet ids like subnet-0a1b2c3d"
        )
    if len(set(value)) != len(value):
        raise InvalidInput("subnet_ids", "lists a subnet twice")
    return tuple(value)
