"""Key-level check of a (restored) cluster against a key manifest.

Event:
    {"cluster_id": "cluster-...",            the cluster to check, e.g. a restored one
     "manifest_cluster_id": "cluster-...",   whose manifest (default: cluster_id)
     "manifest_key": "manifests/.../X.json", a manifest by its S3 key, or
     "at": "2025-01-31T02:00:00Z",           the newest manifest at or before then
                                             (a backup's CreateTimestamp; default: now)
     "hsm_ips": ["10.0.1.23"],               where the HSMs are (default: DescribeClusters)
     "region": "us-east-1"}                  the cluster's region (default: the function's)

Returns the report (status SUCCEEDED or FAILED, findings); an unreachable HSM or a
refused login is a finding, not an error, so a drill can branch on the status.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.keycheck.client_setup import read_crypto_user
from lambdas.keycheck.comparison import KeyCheckReport, failed_report, unreachable
from lambdas.keycheck.manifest_source import manifest_store
from lambdas.keycheck.settings import KeyCheckSettings
from lambdas.keycheck.targets import prepare_target
from lambdas.keycheck.verifier import check_keys
from lambdas.shared.errors import HsmUnreachable, InvalidInput
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.shared.protected import CLUSTER_ID_PATTERN, REGION_PATTERN

_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


@dataclass(frozen=True)
class VerifyKeysRequest:
    cluster_id: str
    manifest_cluster_id: str
    region: str
    manifest_key: str | None = None
    at: datetime | None = None
    hsm_ips: tuple[str, ...] = ()


def parse_request(event: Any, default_region: str) -> VerifyKeysRequest:
    if not isinstance(event, dict):
        raise InvalidInput("event", "must be a JSON object")
    cluster_id = _cluster_id(event, "cluster_id", required=True)
    assert cluster_id is not None
    source = _cluster_id(event, "manifest_cluster_id", required=False) or cluster_id
    region = event.get("region", default_region)
    if not isinstance(region, str) or not re.match(REGION_PATTERN, region):
        raise InvalidInput("region", f"{region!r} is not an AWS region")
    manifest_key = event.get("manifest_key")
    if manifest_key is not None and (
        not isinstance(manifest_key, str) or not manifest_key.startswith(f"manifests/{source}/")
    ):
        raise InvalidInput("manifest_key", f"must be one of {source}'s: manifests/{source}/...")
    at = _timestamp(event.get("at"))
    if manifest_key is not None and at is not None:
        raise InvalidInput("at", "give manifest_key or at, not both")
    hsm_ips = event.get("hsm_ips", [])
    if not isinstance(hsm_ips, list) or not all(
        isinstance(ip, str) and _IPV4.match(ip) for ip in hsm_ips
    ):
        raise InvalidInput("hsm_ips", "must be a list of IPv4 addresses")
    return VerifyKeysRequest(
        cluster_id=cluster_id,
        manifest_cluster_id=source,
        region=region,
        manifest_key=manifest_key,
        at=at,
        hsm_ips=tuple(hsm_ips),
    )


def verify(request: VerifyKeysRequest, settings: KeyCheckSettings) -> KeyCheckReport:
    """The whole check; raises KeyManifestNotFound when there is nothing to compare with."""
    store = manifest_store(settings)
    if request.manifest_key is not None:
        manifest_key, manifest = request.manifest_key, store.load(request.manifest_key)
    else:
        at = request.at or datetime.now(UTC)
        manifest_key, manifest = store.manifest_for(request.manifest_cluster_id, at)
    user = read_crypto_user(settings.crypto_user_secret)
    try:
        connection, users = prepare_target(
            settings,
            cluster_id=request.cluster_id,
            region=request.region,
            hsm_ips=request.hsm_ips,
            user=user,
        )
    except HsmUnreachable as error:
        return failed_report(
            manifest,
            cluster_id=request.cluster_id,
            manifest_key=manifest_key,
            finding=unreachable(str(error)),
            checked_at=datetime.now(UTC),
        )
    return check_keys(
        manifest,
        cluster_id=request.cluster_id,
        connection=connection,
        users=users,
        canary_label=settings.canary_label,
        manifest_key=manifest_key,
    )


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_request(event, os.environ.get("AWS_REGION", "us-east-1"))
    report = verify(request, KeyCheckSettings.from_env())
    metrics.add_metric("KeyCheckFindings", MetricUnit.Count, len(report.findings))
    result = report.to_dict()
    if report.status != "SUCCEEDED":
        logger.warning("key check found problems", extra={"findings": result["findings"]})
    return result


def _cluster_id(event: dict[str, Any], field: str, *, required: bool) -> str | None:
    value = event.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not re.match(CLUSTER_ID_PATTERN, value):
        raise InvalidInput(field, f"{value!r} is not a cluster id")
    return value


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("at", f"{value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise InvalidInput("at", "needs a time zone, e.g. 2025-01-31T02:00:00Z")
    return parsed
