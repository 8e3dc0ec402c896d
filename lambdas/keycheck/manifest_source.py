"""Where the verifier reads key manifests: its own stack's bucket, or, for a DR
region's verifier, the deployment region's bucket, whose name an SSM parameter there
holds (the main stack writes it). Cross-region reads: while the deployment region is
down, a DR verifier has no manifest to compare with, and says so."""

from __future__ import annotations

from lambdas.keycheck.manifest_store import ManifestStore
from lambdas.keycheck.settings import KeyCheckSettings
from lambdas.shared.errors import KeyManifestNotFound


def manifest_store(settings: KeyCheckSettings) -> ManifestStore:
    if settings.manifest_bucket_parameter is None:
        return ManifestStore.for_bucket(settings.manifest_bucket)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    region = settings.manifest_region
    try:
        bucket = boto3.client("ssm", region_name=region).get_parameter(
            Name=settings.manifest_bucket_parameter
        )["Parameter"]["Value"]
    except (BotoCoreError, ClientError) as error:
        raise KeyManifestNotFound(
            f"the key manifests are kept in {region} and the bucket's name could not be read "
            f"there (SSM {settings.manifest_bucket_parameter}: {error}); while {region} is "
            "down no manifest can be compared with: check the keys against a copy of the "
            "manifest by hand (docs/runbooks/standby.md)"
        ) from error
    return ManifestStore.for_bucket(bucket, region)
