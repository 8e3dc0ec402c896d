"""Where a verifier reads manifests: its own bucket, or (a DR region's verifier) the
deployment region's bucket named by the SSM parameter there; an unreadable name is a
named error that says the deployment region may be down."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from lambdas.keycheck.manifest import HsmUser, KeyManifest, KeyRecord
from lambdas.keycheck.manifest_source import manifest_store
from lambdas.keycheck.settings import KeyCheckSettings, KeyEnv, KeySettingsError
from lambdas.shared.errors import KeyManifestNotFound

CLUSTER = "cluster-abcdefghijk"
PARAMETER = "/hsmdr/hsmdr-test/key-manifest-bucket"
DR = KeyCheckSettings(
    manifest_bucket="",
    crypto_user_secret="hsmdr/key-verifier",
    manifest_bucket_parameter=PARAMETER,
    manifest_region="us-east-1",
)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_a_dr_verifier_reads_the_deployment_regions_bucket(aws: None) -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="main-manifests")
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=PARAMETER, Value="main-manifests", Type="String"
    )
    at = datetime(2025, 3, 1, 2, tzinfo=UTC)
    saved = KeyManifest(
        CLUSTER,
        at,
        (KeyRecord("k", "01", "SECRET_KEY", "AES", 256, "ab"),),
        (HsmUser("a", "admin"),),
    )
    store = manifest_store(DR)
    assert store.bucket == "main-manifests"
    key = store.save(saved)
    assert store.manifest_for(CLUSTER, at)[0] == key


def test_an_unreadable_bucket_name_says_the_deployment_region_may_be_down(aws: None) -> None:
    with pytest.raises(KeyManifestNotFound, match=r"kept in us-east-1 .* while us-east-1 is down"):
        manifest_store(DR)


def test_the_dr_settings_round_trip_and_an_empty_bucket_needs_the_parameter() -> None:
    env = DR.to_env()
    assert env[KeyEnv.MANIFEST_BUCKET_PARAMETER] == PARAMETER
    assert KeyCheckSettings.from_env(env) == DR
    del env[KeyEnv.MANIFEST_BUCKET_PARAMETER]
    with pytest.raises(KeySettingsError, match=KeyEnv.MANIFEST_BUCKET_PARAMETER):
        KeyCheckSettings.from_env(env)
