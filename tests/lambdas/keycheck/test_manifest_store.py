"""Manifests in S3: the timestamped object and latest.json, and which one a backup's
time picks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from lambdas.keycheck.manifest import HsmUser, KeyManifest, KeyRecord
from lambdas.keycheck.manifest_store import ManifestStore
from lambdas.shared.errors import KeyManifestNotFound

BUCKET = "manifests-test"
CLUSTER = "cluster-sourceclustera"
T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[ManifestStore]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield ManifestStore(BUCKET, client)


def manifest(at: datetime, label: str) -> KeyManifest:
    key = KeyRecord(label, "01", "SECRET_KEY", "AES", 256, "abcdef")
    return KeyManifest(CLUSTER, at, (key,), (HsmUser("admin", "admin"),))


def test_save_writes_the_timestamped_manifest_and_latest(store: ManifestStore) -> None:
    key = store.save(manifest(T0, "first"))
    store.save(manifest(T0 + timedelta(days=1), "second"))
    assert key == f"manifests/{CLUSTER}/20250301T020000Z.json"
    assert store.load(key).keys[0].label == "first"
    assert store.latest(CLUSTER).keys[0].label == "second"


def test_manifest_for_picks_the_newest_at_or_before_the_time(store: ManifestStore) -> None:
    for day, label in enumerate(["d0", "d1", "d2"]):
        store.save(manifest(T0 + timedelta(days=day), label))
    key, found = store.manifest_for(CLUSTER, T0 + timedelta(days=1, hours=5))
    assert found.keys[0].label == "d1"
    assert key.endswith("20250302T020000Z.json")


def test_no_manifest_before_the_time_is_a_named_error(store: ManifestStore) -> None:
    store.save(manifest(T0, "d0"))
    with pytest.raises(KeyManifestNotFound, match=f"no key manifest of {CLUSTER}"):
        store.manifest_for(CLUSTER, T0 - timedelta(minutes=1))
    with pytest.raises(KeyManifestNotFound, match="does not exist"):
        store.load(f"manifests/{CLUSTER}/20200101T000000Z.json")
