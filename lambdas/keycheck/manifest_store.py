"""Key manifests in S3 (versioned, KMS-encrypted bucket made by the stack)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lambdas.keycheck.manifest import (
    KeyManifest,
    cluster_prefix,
    latest_object_key,
    newest_at_or_before,
)
from lambdas.shared.errors import KeyManifestNotFound


class ManifestStore:
    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self._s3 = client

    @classmethod
    def for_bucket(cls, bucket: str, region: str | None = None) -> ManifestStore:
        import boto3

        return cls(bucket, boto3.client("s3", region_name=region))

    def save(self, manifest: KeyManifest) -> str:
        """Writes the timestamped manifest, then `latest.json`; returns the former's key."""
        body = manifest.to_json().encode("utf-8")
        for key in (manifest.object_key, latest_object_key(manifest.cluster_id)):
            self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
            )
        return manifest.object_key

    def load(self, object_key: str) -> KeyManifest:
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=object_key)["Body"].read()
        except self._s3.exceptions.NoSuchKey as error:
            raise KeyManifestNotFound(f"s3://{self.bucket}/{object_key} does not exist") from error
        return KeyManifest.from_json(body)

    def latest(self, cluster_id: str) -> KeyManifest:
        return self.load(latest_object_key(cluster_id))

    def manifest_for(self, cluster_id: str, at: datetime) -> tuple[str, KeyManifest]:
        """The newest manifest of `cluster_id` captured at or before `at`, and its key:
        what a backup made at `at` should hold."""
        found = newest_at_or_before(self._object_keys(cluster_id), at)
        if found is None:
            raise KeyManifestNotFound(
                f"no key manifest of {cluster_id} was captured at or before {at.isoformat()} "
                f"(s3://{self.bucket}/{cluster_prefix(cluster_id)})"
            )
        return found, self.load(found)

    def _object_keys(self, cluster_id: str) -> list[str]:
        keys: list[str] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=cluster_prefix(cluster_id)):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys
