"""The CloudHSM gateway against the emulator, through real boto3 clients."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber

from lambdas.shared.errors import (
    BackupNotFound,
    CloudHsmAccessDenied,
    CloudHsmDrError,
    CloudHsmInvalidRequest,
    CloudHsmLimitExceeded,
    CloudHsmTagError,
    CloudHsmUnavailable,
    ClusterNotFound,
)
from lambdas.shared.gateway import CloudHsmGateway
from sandbox.emulator import PROFILES, CloudHsmWorld, Quotas
from sandbox.network import RegionNetwork, create_network
from sandbox.session import emulated_account

REGION = "us-east-1"
ZONES = [f"{REGION}a", f"{REGION}b"]


@pytest.fixture
def world() -> Iterator[CloudHsmWorld]:
    world = CloudHsmWorld(
        profile=PROFILES["test"], quotas=Quotas(clusters_per_region=40, hsms_per_region=80)
    )
    with emulated_account(world):
        yield world


@pytest.fixture
def network(world: CloudHsmWorld) -> RegionNetwork:
    return create_network(REGION, ZONES)


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore sleeps between retries (seconds, growing); the retries still happen,
    # the waiting between them is skipped so the suite stays fast.
    import botocore.endpoint

    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _: None))


@pytest.fixture
def gateway(world: CloudHsmWorld) -> CloudHsmGateway:
    return CloudHsmGateway.for_region(REGION)


def seed(world: CloudHsmWorld, network: RegionNetwork, backups: int = 3) -> str:
    return world.seed_cluster(
        REGION,
        network.subnet_ids(ZONES),
        backup_ages=[timedelta(hours=1 + 6 * i) for i in range(backups)],
    )


def test_backups_page_past_50_newest_first_with_one_call_per_page(
    world: CloudHsmWorld, network: RegionNetwork, gateway: CloudHsmGateway
) -> None:
    # Given a cluster with 120 READY backups
    cluster_id = seed(world, network, backups=120)
    world.api_calls.clear()
    # When every backup is listed
    backups = list(gateway.iter_backups(cluster_ids=[cluster_id], state="READY"))
    # Then all 120 come back, newest first, in 3 pages of at most 50
    assert len(backups) == 120
    stamps = [b.create_timestamp for b in backups]
    assert stamps == sorted(stamps, reverse=True)  # type: ignore[type-var]
    assert world.api_calls["DescribeBackups"] == 3


def test_latest_backup_costs_one_call_and_oldest_first_is_available(
    world: CloudHsmWorld, network: RegionNetwork, gateway: CloudHsmGateway
) -> None:
    cluster_id = seed(world, network, backups=60)
    world.api_calls.clear()
    latest = gateway.latest_backup(cluster_id, "READY")
    assert world.api_calls["DescribeBackups"] == 1
    oldest = next(gateway.iter_backups(cluster_ids=[cluster_id], newest_first=False))
    assert latest is not None and latest.create_timestamp and oldest.create_timestamp
    assert latest.create_timestamp - oldest.create_timestamp >= timedelta(hours=6 * 59 - 1)


def test_clusters_page_past_25_and_missing_ids_are_absent(
    world: CloudHsmWorld, network: RegionNetwork, gateway: CloudHsmGateway
) -> None:
    ids = [seed(world, network, backups=1) for _ in range(30)]
    world.api_calls.clear()
    found = gateway.find_clusters([*ids, "cluster-doesnotexist2"])
    assert sorted(found) == sorted(ids)
    assert world.api_calls["DescribeClusters"] == 2
    cluster = found[ids[0]]
    assert cluster.state == "ACTIVE"
    assert sorted(h.availability_zone for h in cluster.hsms) == ZONES
    with pytest.raises(ClusterNotFound, match="cluster-doesnotexist2"):
        gateway.get_cluster("cluster-doesnotexist2")


def test_filters_are_applied_server_side(
    world: CloudHsmWorld, network: RegionNetwork, gateway: CloudHsmGateway
) -> None:
    first, second = seed(world, network, 5), seed(world, network, 7)
    world.api_calls.clear()
    backups = list(gateway.iter_backups(cluster_ids=[second]))
    assert {b.cluster_id for b in backups} == {second} and len(backups) == 7
    assert world.api_calls["DescribeBackups"] == 1
    one = backups[3]
    assert gateway.get_backup(one.backup_id) == one
    assert list(gateway.iter_backups(cluster_ids=[first], never_expires=True)) == []
    with pytest.raises(BackupNotFound):
        gateway.get_backup("backup-doesnotexist2")


def test_throttling_bursts_are_retried_transparently(
    world: CloudHsmWorld, network: RegionNetwork, gateway: CloudHsmGateway
) -> None:
    # Given a burst of 3 throttling errors on the next calls
    cluster_id = seed(world, network)
    world.faults.enable("throttle", next=3)
    world.api_calls.clear()
    # When the gateway reads, Then it gets its answer after botocore's retries
    assert gateway.get_cluster(cluster_id).cluster_id == cluster_id
    assert world.api_calls["DescribeClusters"] == 4


def test_throttling_that_never_ends_becomes_cloudhsm_unavailable(
    world: CloudHsmWorld, network: RegionNetwork
) -> None:
    seed(world, network)
    world.faults.enable("throttle", every=1)
    world.api_calls.clear()
    gateway = CloudHsmGateway.for_region(REGION, max_attempts=3)
    with pytest.raises(CloudHsmUnavailable, match="ThrottlingException"):
        gateway.describe_clusters()
    assert world.api_calls["DescribeClusters"] == 3


def test_internal_failure_is_retried_then_mapped(
    world: CloudHsmWorld, network: RegionNetwork, gateway: CloudHsmGateway
) -> None:
    cluster_id = seed(world, network)
    world.faults.enable("internal-failure", operation="DescribeClusters", count=1)
    assert gateway.get_cluster(cluster_id).cluster_id == cluster_id
    world.faults.enable("internal-failure", operation="DescribeClusters", count=50)
    with pytest.raises(CloudHsmUnavailable, match="CloudHsmInternalFailureException"):
        gateway.get_cluster(cluster_id)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("CloudHsmAccessDeniedException", CloudHsmAccessDenied),
        ("CloudHsmInternalFailureException", CloudHsmUnavailable),
        ("CloudHsmInvalidRequestException", CloudHsmInvalidRequest),
        ("CloudHsmResourceNotFoundException", ClusterNotFound),
        ("CloudHsmServiceException", CloudHsmUnavailable),
        ("CloudHsmTagException", CloudHsmTagError),
        ("CloudHsmResourceLimitExceededException", CloudHsmLimitExceeded),
        ("ThrottlingException", CloudHsmUnavailable),
    ],
)
def test_every_cloudhsm_error_maps_to_a_domain_exception(
    code: str, expected: type[CloudHsmDrError]
) -> None:
    client = boto3.client(
        "cloudhsmv2",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stub:
        stub.add_client_error("describe_clusters", service_error_code=code, service_message="boom")
        with pytest.raises(expected) as raised:
            CloudHsmGateway(client).describe_clusters()
    # The class name is what Step Functions will Retry/Catch on.
    assert type(raised.value) is expected
    assert "boom" in str(raised.value)
