"""The verify-keys and capture-key-manifest handlers: input checks, client
configuration, and a whole run against moto (S3, Secrets Manager) and SoftHSM2."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.keycheck import capture_handler as capture_key_manifest
from lambdas.keycheck import verify_handler as verify_keys
from lambdas.keycheck.client_setup import CryptoUser, configure_client, target_arguments
from lambdas.keycheck.settings import KeyCheckSettings, KeyCluster
from lambdas.shared.errors import HsmUnreachable, InvalidInput, KeyManifestCaptureFailed
from sandbox.lambda_dispatch import LambdaContext
from sandbox.softhsm_keystore import CRYPTO_PASSWORD, CRYPTO_USER, SoftHsmKeyStore

SOURCE = "cluster-sourceclustera"
RESTORED = "cluster-restoredclust2"
BUCKET = "key-manifests"
SECRET = "hsmdr/key-verifier"


def context(name: str) -> LambdaContext:
    return LambdaContext(name, f"arn:aws:lambda:us-east-1:123456789012:function:{name}", 512, 300)


def test_verify_request_needs_a_cluster_and_checks_every_field() -> None:
    request = verify_keys.parse_request(
        {"cluster_id": RESTORED, "manifest_cluster_id": SOURCE, "at": "2025-03-01T02:00:00Z"},
        "us-east-1",
    )
    assert request.at == datetime(2025, 3, 1, 2, tzinfo=UTC)
    assert request.manifest_cluster_id == SOURCE and request.hsm_ips == ()
    bad = [
        ({}, "cluster_id"),
        ({"cluster_id": RESTORED, "hsm_ips": ["not-an-ip"]}, "hsm_ips"),
        ({"cluster_id": RESTORED, "at": "yesterday"}, "at"),
        ({"cluster_id": RESTORED, "at": "2025-03-01T02:00:00"}, "at"),
        ({"cluster_id": RESTORED, "manifest_key": "manifests/cluster-x/1.json"}, "manifest_key"),
    ]
    for event, field in bad:
        with pytest.raises(InvalidInput) as raised:
            verify_keys.parse_request(event, "us-east-1")
        assert raised.value.field == field


def test_capture_selects_configured_clusters_only() -> None:
    settings = KeyCheckSettings(BUCKET, SECRET, clusters=(KeyCluster(SOURCE, "us-east-1"),))
    assert capture_key_manifest.select_clusters({"source": "schedule"}, settings)[0] == list(
        settings.clusters
    )
    with pytest.raises(InvalidInput, match="cluster_ids"):
        capture_key_manifest.select_clusters({"cluster_ids": [RESTORED]}, settings)


def test_settings_round_trip_through_the_environment() -> None:
    settings = KeyCheckSettings(
        BUCKET, SECRET, clusters=(KeyCluster(SOURCE, "us-east-1"),), token_label="{cluster_id}"
    )
    assert KeyCheckSettings.from_env(settings.to_env()) == settings
    assert settings.token_label_for(RESTORED) == RESTORED


def test_configure_runs_both_tools_with_the_hsm_ips_and_the_trust_anchor(tmp_path: Path) -> None:
    # Given fake configure tools that record their arguments, and the package's etc/
    record = tmp_path / "calls"
    tools = []
    for name in ("configure-pkcs11", "configure-cli"):
        tool = tmp_path / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> {record}\n')
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
        tools.append(str(tool))
    dist = tmp_path / "etc.dist"
    dist.mkdir()
    (dist / "cloudhsm-pkcs11.cfg").write_text("{}")
    runtime = tmp_path / "run" / "etc"
    # When the client is configured for two HSMs
    configure_client(
        target_arguments(RESTORED, "us-east-1", ["10.0.1.5", "10.0.2.6"]),
        "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
        etc_dist=dist,
        etc_runtime=runtime,
        tools=tools,
    )
    # Then etc/ was copied to the writable place with the trust anchor, and each tool ran
    assert (runtime / "cloudhsm-pkcs11.cfg").exists()
    assert "BEGIN CERTIFICATE" in (runtime / "customerCA.crt").read_text()
    assert record.read_text().splitlines() == [
        f"{name} -a 10.0.1.5 10.0.2.6 --disable-key-availability-check --log-type term"
        for name in ("configure-pkcs11", "configure-cli")
    ]


def test_a_failing_configure_tool_is_hsm_unreachable(tmp_path: Path) -> None:
    tool = tmp_path / "configure-pkcs11"
    tool.write_text("#!/bin/sh\necho 'no HSM found in cluster' >&2\nexit 1\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "dist").mkdir()
    with pytest.raises(HsmUnreachable, match="no HSM found"):
        configure_client(
            target_arguments(RESTORED, "us-east-1", []),
            None,
            etc_dist=tmp_path / "dist",
            etc_runtime=tmp_path / "etc",
            tools=[str(tool)],
        )
    assert target_arguments(RESTORED, "eu-west-1", []) == [
        "--cluster-id",
        RESTORED,
        "--region",
        "eu-west-1",
    ]


def test_crypto_user_pin_is_cloudhsm_shaped() -> None:
    user = CryptoUser.from_secret_string(json.dumps({"username": "cu", "password": "pw"}))
    assert user.pin == "cu:pw" and user.customer_ca is None
    with pytest.raises(ValueError, match="username"):
        CryptoUser.from_secret_string("{}")


@pytest.fixture
def aws_keys(
    key_store: SoftHsmKeyStore, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SoftHsmKeyStore]:
    """Moto with the bucket and secret, and the handlers' environment (SoftHSM2 mode)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    settings = KeyCheckSettings(
        BUCKET,
        SECRET,
        clusters=(KeyCluster(SOURCE, "us-east-1"),),
        library_path=key_store.library,
        token_label="{cluster_id}",
        configure_client=False,
        users_source=f"file:{key_store.users_path_template}",
    )
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("secretsmanager").create_secret(
            Name=SECRET,
            SecretString=json.dumps({"username": CRYPTO_USER, "password": CRYPTO_PASSWORD}),
        )
        yield key_store


def test_capture_then_verify_through_the_handlers(aws_keys: SoftHsmKeyStore) -> None:
    # Given a seeded cluster and a restore of its backup
    aws_keys.cluster_seeded(SOURCE)
    captured: dict[str, Any] = capture_key_manifest.handler(
        {"source": "schedule"}, context("capture-key-manifest")
    )
    aws_keys.backup_taken(SOURCE, "backup-aaaaaaaaaaa")
    aws_keys.hsm_restored(RESTORED, "backup-aaaaaaaaaaa", frozenset({"key-missing"}))
    # When verify-keys checks the restore against the source's manifest
    report = verify_keys.handler(
        {"cluster_id": RESTORED, "manifest_cluster_id": SOURCE}, context("verify-keys")
    )
    # Then the manifest was stored and the damaged restore fails, naming the key
    [manifest] = captured["manifests"]
    assert captured["status"] == "SUCCEEDED" and manifest["keys"] == 8
    assert report["manifest_key"] == manifest["object_key"]
    assert report["status"] == "FAILED"
    assert [(f["code"], f["label"]) for f in report["findings"]] == [
        ("KEY_MISSING", "aes-payments-2")
    ]


def test_capture_of_an_unreachable_cluster_fails_the_run(aws_keys: SoftHsmKeyStore) -> None:
    # Given no token for the configured cluster
    with pytest.raises(KeyManifestCaptureFailed, match=SOURCE):
        capture_key_manifest.handler({"source": "schedule"}, context("capture-key-manifest"))


VAULT_ONE = "cluster-vaultclusteraa"
VAULT_TWO = "cluster-vaultclusterbb"
DEPLOYMENT = "hsmdr-sandbox"


def vault_tags(source: str = SOURCE, deployment: str = DEPLOYMENT) -> dict[str, str]:
    return {
        "managed-by": "cloudhsm-dr",
        "hsmdr:deployment": deployment,
        "hsmdr:vault": deployment,
        "hsmdr:source-cluster": source,
    }


def vault_settings(store: SoftHsmKeyStore) -> KeyCheckSettings:
    return KeyCheckSettings(
        BUCKET,
        SECRET,
        library_path=store.library,
        token_label="{cluster_id}",
        configure_client=False,
        users_source=f"file:{store.users_path_template}",
        vault_deployment=DEPLOYMENT,
    )


def test_the_vault_capture_files_under_the_source_and_finds_a_key_gone(
    aws_keys: SoftHsmKeyStore,
) -> None:
    # Given production's cluster backed up twice, a key deleted between the backups,
    # and each backup restored into a vault cluster of the recovery account
    aws_keys.cluster_seeded(SOURCE)
    aws_keys.backup_taken(SOURCE, "backup-aaaaaaaaaaa")
    aws_keys.hsm_restored(VAULT_ONE, "backup-aaaaaaaaaaa", frozenset())
    aws_keys.hsm_restored(VAULT_TWO, "backup-aaaaaaaaaaa", frozenset({"key-missing"}))
    settings = vault_settings(aws_keys)
    store = capture_key_manifest.ManifestStore.for_bucket(BUCKET)
    tags = {VAULT_ONE: vault_tags(), VAULT_TWO: vault_tags()}
    user = CryptoUser(CRYPTO_USER, CRYPTO_PASSWORD)

    def capture(cluster_id: str, at: datetime) -> dict[str, Any]:
        request = capture_key_manifest.parse_vault_capture(
            {"cluster_id": cluster_id, "manifest_cluster_id": SOURCE}, "us-east-1"
        )
        return capture_key_manifest.capture_vault(
            request, settings, user, store, tags.__getitem__, now=at
        )

    # When the vault captures each vault cluster in turn
    first = capture(VAULT_ONE, datetime(2026, 12, 1, 2, tzinfo=UTC))
    second = capture(VAULT_TWO, datetime(2026, 12, 2, 2, tzinfo=UTC))
    # Then both are filed under production's cluster, where a restore looks
    assert first["object_key"] == f"manifests/{SOURCE}/20261201T020000Z.json"
    assert second["object_key"] == f"manifests/{SOURCE}/20261202T020000Z.json"
    assert store.latest(SOURCE).notes[-1] == f"captured from vault cluster {VAULT_TWO}"
    # And the second names the key gone since the first
    assert first["comparison"]["status"] == "FIRST"
    assert second["comparison"]["code"] == "VAULT_KEYS_CHANGED"
    assert [m.split("'")[1] for m in second["comparison"]["missing"]] == ["aes-payments-2"]


def test_the_vault_capture_refuses_a_cluster_its_tags_do_not_name(
    aws_keys: SoftHsmKeyStore,
) -> None:
    aws_keys.cluster_seeded(SOURCE)
    settings = vault_settings(aws_keys)
    store = capture_key_manifest.ManifestStore.for_bucket(BUCKET)
    user = CryptoUser(CRYPTO_USER, CRYPTO_PASSWORD)
    request = capture_key_manifest.parse_vault_capture(
        {"cluster_id": SOURCE, "manifest_cluster_id": SOURCE}, "us-east-1"
    )
    # Given tags of another deployment's vault, of another source, or none at all
    for tags in (vault_tags(deployment="other"), vault_tags(source=RESTORED), {}):
        # Then nothing is read nor written
        with pytest.raises(InvalidInput, match="not tagged as a vault cluster"):
            capture_key_manifest.capture_vault(request, settings, user, store, lambda _, t=tags: t)
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_only_the_vault_capture_takes_a_manifest_cluster_id() -> None:
    settings = KeyCheckSettings(BUCKET, SECRET, clusters=(KeyCluster(SOURCE, "us-east-1"),))
    with pytest.raises(InvalidInput) as raised:
        capture_key_manifest.select_clusters(
            {"cluster_ids": [SOURCE], "manifest_cluster_id": RESTORED}, settings
        )
    assert raised.value.field == "manifest_cluster_id"
    for event, field in (
        ({"cluster_id": VAULT_ONE}, "manifest_cluster_id"),
        ({"cluster_ids": [VAULT_ONE], "manifest_cluster_id": SOURCE}, "cluster_id"),
        ({"cluster_id": VAULT_ONE, "manifest_cluster_id": SOURCE, "hsm_ips": ["x"]}, "hsm_ips"),
        ({"cluster_id": VAULT_ONE, "manifest_cluster_id": SOURCE, "source": "x"}, "source"),
    ):
        with pytest.raises(InvalidInput) as raised:
            capture_key_manifest.parse_vault_capture(event, "us-east-1")
        assert raised.value.field == field, event


def test_vault_settings_round_trip_through_the_environment() -> None:
    settings = KeyCheckSettings(BUCKET, SECRET, vault_deployment=DEPLOYMENT)
    assert KeyCheckSettings.from_env(settings.to_env()) == settings
