"""Names AWS defines, checked against data that ships with the libraries: regions from
botocore's partition data, Availability Zones against their region, IANA time zones
from zoneinfo (the tzdata package where the system has none), KMS key ARNs."""

from __future__ import annotations

import difflib
import re
import zoneinfo
from functools import lru_cache
from typing import Any

GLOBAL_SUFFIX = "-global"  # partitions.json lists "aws-global" and the like: not regions
KMS_KEY_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"key/(?P<key>[A-Za-z0-9-]+)"
)


@lru_cache(maxsize=1)
def partitions() -> dict[str, frozenset[str]]:
    """Every region botocore knows, by partition id (aws, aws-cn, aws-us-gov, ...)."""
    from botocore.loaders import create_loader

    loader = create_loader()
    found: dict[str, set[str]] = {}
    # partitions.json is the newer source; endpoints.json still lists older regions.
    for name, key in (("partitions", "id"), ("endpoints", "partition")):
        data: dict[str, Any] = loader.load_data(name)
        for partition in data.get("partitions", []):
            listed = partition.get("regions", {})
            regions = {r for r in listed if not r.endswith(GLOBAL_SUFFIX)}
            found.setdefault(partition[key], set()).update(regions)
    return {pid: frozenset(regions) for pid, regions in found.items()}


def partition_of(region: str) -> str | None:
    return next((pid for pid, regions in partitions().items() if region in regions), None)


def region_problem(region: str) -> str | None:
    """None for a region botocore knows; otherwise what is wrong, with a likely fix."""
    if partition_of(region) is not None:
        return None
    known = sorted(r for regions in partitions().values() for r in regions)
    close = difflib.get_close_matches(region, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"{region} is not an AWS region (botocore's partition data){hint}"


def check_region(region: str) -> str:
    problem = region_problem(region)
    if problem:
        raise ValueError(problem)
    return region


def zone_problem(zone: str, region: str) -> str | None:
    """A zone's name is its region's name and one letter: us-east-1a is in us-east-1."""
    home = zone[:-1]
    if home == region:
        return None
    if partition_of(home) is None:
        return f"zone {zone}: {home} is not an AWS region, so {zone} is no zone of {region}"
    return f"zone {zone} is in region {home}, not in {region}"


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(name: str) -> str:
    if name not in _time_zones():
        close = difflib.get_close_matches(name, sorted(_time_zones()), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Paris){hint}")
    return name


def kms_key_problem(arn: str, region: str) -> str | None:
    """A KMS key ARN (not an alias) in `region`: a key may belong to another account (a
    central security account), never to another region than what it encrypts."""
    match = KMS_KEY_ARN.fullmatch(arn)
    if match is None:
        return f"{arn!r} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID)"
    if match["region"] != region:
        return f"the key is in {match['region']}; it must be in {region}, where it is used"
    expected = _partition_name(region)
    if match["partition"] != expected:
        return f"the ARN names partition {match['partition']}; {region} is in {expected}"
    return None


def _partition_name(region: str) -> str:
    """The ARN partition of a region: the partition id (aws, aws-cn, aws-us-gov, ...)."""
    return partition_of(region) or "aws"
