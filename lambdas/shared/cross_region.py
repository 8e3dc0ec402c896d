"""Clients for calls from one region's stack into another region (the primary region,
from a DR-region stack or on its behalf).

botocore's defaults (60 s to connect, 60 s to read, several attempts) are made for a
region that answers. In a regional outage, the one a DR-region stack exists for, such
a call hangs for minutes and outlives the Lambda's timeout, taking the whole run with
it. These calls get one attempt and short timeouts instead: the caller treats a region
that does not answer as down and goes on with what it has in its own region.
"""

from __future__ import annotations

from typing import Any

CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 10


def cross_region_config() -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": 1},
        user_agent_extra="cloudhsm-dr",
    )


def client(service: str, region: str) -> Any:
    """A boto3 client for `region` that gives up fast when the region does not answer."""
    import boto3

    return boto3.client(service, region_name=region, config=cross_region_config())
