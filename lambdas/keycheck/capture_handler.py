"""Scheduled capture of the key manifests of the production clusters.

Event: {"source": "schedule"} captures every cluster the stack names; on-call may
narrow it: {"cluster_ids": ["cluster-..."]} (and, for one cluster, "hsm_ips").
Each manifest goes to S3 (manifests/{cluster_id}/{time}.json and latest.json).
A cluster that cannot be captured does not stop the others; the run then fails
(KeyManifestCaptureFailed) so the schedule's errors alarm pages.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.keycheck.client_setup import CryptoUser, read_crypto_user
from lambdas.keycheck.manifest_store import ManifestStore
from lambdas.keycheck.settings import KeyCheckSettings, KeyCluster
from lambdas.keycheck.targets import prepare_target
from lambdas.keycheck.users import UserListError
from lambdas.keycheck.verifier import capture_manifest
from lambdas.shared.errors import CloudHsmDrError, InvalidInput, KeyManifestCaptureFailed
from lambdas.shared.observability import logger, metrics, tracer


def select_clusters(event: Any, settings: KeyCheckSettings) -> tuple[list[KeyCluster], list[str]]:
    event = event or {}
    if not isinstance(event, dict):
        raise InvalidInput("event", "must be a JSON object")
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


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = KeyCheckSettings.from_env()
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
