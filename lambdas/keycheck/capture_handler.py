"""Scheduled capture of the key manifests of the production clusters.

Event: {"source": "schedule"} captures every cluster the stack names; on-call may
narrow it: {"cluster_ids": ["cluster-..."]} (and, for one cluster, "hsm_ips").
Each manifest goes to S3 (manifests/{cluster_id}/{time}.json and latest.json).
A cluster that cannot be captured does not stop the others; the run then fails
(KeyManifestCaptureFailed) so the schedule's errors alarm pages.

The recovery account's capture (settings.vault_deployment set) takes one form only,
from the vault refresh while its HSM is ACTIVE: {"cluster_id": the vault cluster,
"manifest_cluster_id": the production cluster whose backup it holds, "hsm_ips": [...]}.
It re-reads the cluster's tags first and captures only a vault cluster of its own
deployment holding that production cluster's backup; the manifest is filed under the
production cluster's id (where a restore from the vault backup looks for it) and
compared with the vault's previous manifest of that cluster (vault_changes.py).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.keycheck.client_setup import CryptoUser, read_crypto_user
from lambdas.keycheck.manifest_store import ManifestStore
from lambdas.keycheck.settings import KeyCheckSettings, KeyCluster
from lambdas.keycheck.targets import prepare_target
from lambdas.keycheck.users import UserListError
from lambdas.keycheck.vault_changes import compare_vault_manifests
from lambdas.keycheck.verifier import capture_manifest
from lambdas.shared.errors import (
    CloudHsmDrError,
    InvalidInput,
    KeyManifestCaptureFailed,
    KeyManifestNotFound,
)
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.shared.protected import CLUSTER_ID_PATTERN
from lambdas.shared.vault_tags import is_vault_cluster_of

_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
TagReader = Callable[[str], Mapping[str, str]]


def select_clusters(event: Any, settings: KeyCheckSettings) -> tuple[list[KeyCluster], list[str]]:
    event = event or {}
    if not isinstance(event, dict):
        raise InvalidInput("event", "must be a JSON object")
    if "manifest_cluster_id" in event:
        raise InvalidInput(
            "manifest_cluster_id",
            "only the recovery account's vault capture files a manifest under another cluster",
        )
    wanted = event.get("cluster_ids")
    hsm_ips = event.get("hsm_ips", [])
    if not isinstance(hsm_ips, list) or not all(isinstance(ip, str) for ip in hsm_ips):
        raise InvalidInput("hsm_ips", "must be a list of IP addresses")
    if wanted is None:
        selected = list(settings.clusters)
    else:
        if not isinstance(wanted, list) or not all(isinstance(c, str) for c in wanted):
            raise InvalidInput("cluster_ids", "must be a list of cluster ids")
        known = {c.id: c for c in settings.clusters}
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise InvalidInput("cluster_ids", f"{unknown} are not key-verified by this deployment")
        selected = [known[c] for c in wanted]
    if hsm_ips and len(selected) != 1:
        raise InvalidInput("hsm_ips", "name exactly one cluster in cluster_ids with hsm_ips")
    return selected, hsm_ips


def capture_all(
    clusters: list[KeyCluster],
    hsm_ips: list[str],
    settings: KeyCheckSettings,
    user: CryptoUser,
    store: ManifestStore,
) -> dict[str, Any]:
    captured: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for cluster in clusters:
        try:
            connection, users = prepare_target(
                settings, cluster_id=cluster.id, region=cluster.region, hsm_ips=hsm_ips, user=user
            )
            manifest = capture_manifest(cluster.id, connection, users)
        except (CloudHsmDrError, UserListError) as error:
            errors.append(
                {"cluster_id": cluster.id, "error": type(error).__name__, "message": str(error)}
            )
            continue
        captured.append(
            {
                "cluster_id": cluster.id,
                "object_key": store.save(manifest),
                "captured_at": manifest.captured_at.isoformat(),
                "keys": len(manifest.keys),
                "users": len(manifest.users),
                "notes": list(manifest.notes),
            }
        )
    return {
        "status": "FAILED" if errors else "SUCCEEDED",
        "bucket": store.bucket,
        "manifests": captured,
        "errors": errors,
    }


@dataclasses.dataclass(frozen=True)
class VaultCaptureRequest:
    cluster_id: str  # the vault cluster, in the recovery account
    manifest_cluster_id: str  # the production cluster whose backup it holds
    hsm_ips: tuple[str, ...]
    region: str


def parse_vault_capture(event: Any, default_region: str) -> VaultCaptureRequest:
    if not isinstance(event, dict):
        raise InvalidInput("event", "must be a JSON object")
    ids = {}
    for field in ("cluster_id", "manifest_cluster_id"):
        value = event.get(field)
        if not isinstance(value, str) or not re.match(CLUSTER_ID_PATTERN, value):
            raise InvalidInput(
                field, f"{value!r} is not a cluster id (the vault capture needs both)"
            )
        ids[field] = value
    unknown = sorted(set(event) - {"cluster_id", "manifest_cluster_id", "hsm_ips", "region"})
    if unknown:
        raise InvalidInput(
            unknown[0], "the vault capture takes cluster_id, manifest_cluster_id, hsm_ips"
        )
    hsm_ips = event.get("hsm_ips", [])
    if not isinstance(hsm_ips, list) or not all(
        isinstance(ip, str) and _IPV4.match(ip) for ip in hsm_ips
    ):
        raise InvalidInput("hsm_ips", "must be a list of IPv4 addresses")
    region = event.get("region", default_region)
    if not isinstance(region, str):
        raise InvalidInput("region", "must be a region name")
    return VaultCaptureRequest(
        ids["cluster_id"], ids["manifest_cluster_id"], tuple(hsm_ips), region
    )


def capture_vault(
    request: VaultCaptureRequest,
    settings: KeyCheckSettings,
    user: CryptoUser,
    store: ManifestStore,
    tags_of: TagReader,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One vault cluster's manifest, filed under its production cluster, compared with
    the vault's previous one. Raises KeyManifestCaptureFailed when the HSM cannot be
    read, InvalidInput when the cluster is not this deployment's vault cluster of that
    production cluster (tags read again here, whatever the caller says)."""
    deployment = settings.vault_deployment
    assert deployment is not None
    tags = tags_of(request.cluster_id)
    if not is_vault_cluster_of(tags, deployment, request.manifest_cluster_id):
        raise InvalidInput(
            "cluster_id",
            f"{request.cluster_id} is not tagged as a vault cluster of {deployment} holding a "
            f"backup of {request.manifest_cluster_id}: not captured",
        )
    try:
        connection, users = prepare_target(
            settings,
            cluster_id=request.cluster_id,
            region=request.region,
            hsm_ips=request.hsm_ips,
            user=user,
        )
        captured = capture_manifest(request.cluster_id, connection, users, now=now)
    except (CloudHsmDrError, UserListError) as error:
        raise KeyManifestCaptureFailed(
            f"vault cluster {request.cluster_id}: {type(error).__name__}: {error}"
        ) from error
    manifest = dataclasses.replace(
        captured,
        cluster_id=request.manifest_cluster_id,
        notes=(*captured.notes, f"captured from vault cluster {request.cluster_id}"),
    )
    try:
        previous = store.latest(request.manifest_cluster_id)
    except KeyManifestNotFound:
        previous = None
    comparison = compare_vault_manifests(previous, manifest)
    return {
        "status": "SUCCEEDED",
        "bucket": store.bucket,
        "cluster_id": request.cluster_id,
        "manifest_cluster_id": request.manifest_cluster_id,
        "object_key": store.save(manifest),
        "captured_at": manifest.captured_at.isoformat(),
        "keys": len(manifest.keys),
        "users": len(manifest.users),
        "comparison": comparison.to_dict(),
    }


def read_cluster_tags(region: str) -> TagReader:
    def tags_of(cluster_id: str) -> dict[str, str]:
        import boto3

        client = boto3.client("cloudhsmv2", region_name=region)
        tags: dict[str, str] = {}
        for page in client.get_paginator("list_tags").paginate(ResourceId=cluster_id):
            tags.update({t["Key"]: t["Value"] for t in page.get("TagList", [])})
        return tags

    return tags_of


def _vault_handler(event: Any, settings: KeyCheckSettings) -> dict[str, Any]:
    request = parse_vault_capture(event, os.environ.get("AWS_REGION", "us-east-1"))
    result = capture_vault(
        request,
        settings,
        read_crypto_user(settings.crypto_user_secret),
        ManifestStore.for_bucket(settings.manifest_bucket),
        read_cluster_tags(request.region),
        now=datetime.now(UTC),
    )
    metrics.add_metric("KeyManifestsCaptured", MetricUnit.Count, 1)
    if result["comparison"]["code"]:
        logger.warning("vault keys changed", extra={"comparison": result["comparison"]})
    return result


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = KeyCheckSettings.from_env()
    if settings.vault_deployment is not None:
        return _vault_handler(event, settings)
    clusters, hsm_ips = select_clusters(event, settings)
    result = capture_all(
        clusters,
        hsm_ips,
        settings,
        read_crypto_user(settings.crypto_user_secret),
        ManifestStore.for_bucket(settings.manifest_bucket),
    )
    metrics.add_metric("KeyManifestsCaptured", MetricUnit.Count, len(result["manifests"]))
    if result["errors"]:
        logger.error("key manifest capture failed", extra={"errors": result["errors"]})
        summary = "; ".join(f"{e['cluster_id']}: {e['message']}" for e in result["errors"])
        raise KeyManifestCaptureFailed(summary)
    return result
