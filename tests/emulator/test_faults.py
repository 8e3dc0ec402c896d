"""Fault injection: every fault in FAULT_NAMES, through boto3."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.emulator import FAULT_NAMES, CloudHsmWorld
from tests.emulator.helpers import (
    DR_REGION,
    REGION,
    Network,
    backups_of,
    cluster_of,
    fast_forward,
    hold,
    seed,
)

DEGRADED_MESSAGE = "HSM creation failed. Please delete this HSM and try again."


def test_fault_names_are_the_documented_set() -> None:
    """Given the emulator package
    When FAULT_NAMES is read
    Then it lists exactly the supported faults."""
    assert set(FAULT_NAMES) == {
        "throttle",
        "internal-failure",
        "hsm-degraded",
        "az-unsupported",
        "backup-stuck",
        "copy-fails",
        "hsm-failure",
        "backups-stopped",
        "key-missing",
        "key-corrupt",
        "bad-pin",
    }


def test_throttle_next_calls_then_recovers(no_retry_hsm: Any, world: CloudHsmWorld) -> None:
    """Given the throttle fault for the next 2 calls
    When a client without retries calls three times
    Then two calls get ThrottlingException and the third succeeds; the fault is gone."""
    world.faults.enable("throttle", next=2)

    outcomes = []
    for _ in range(3):
        try:
            no_retry_hsm.describe_clusters()
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    assert outcomes == ["ThrottlingException", "ThrottlingException", "ok"]
    assert "throttle" not in world.faults.active()
    assert world.api_calls["DescribeClusters"] == 3


def test_throttle_is_retried_by_botocore(hsm: Any, world: CloudHsmWorld) -> None:
    """Given the throttle fault for the next call
    When a default boto3 client calls once
    Then botocore retries transparently: the call succeeds after two requests."""
    world.faults.enable("throttle", next=1)

    hsm.describe_backups()

    assert world.api_calls["DescribeBackups"] == 2


def test_throttle_every_nth_call_of_chosen_operations(
    no_retry_hsm: Any, world: CloudHsmWorld
) -> None:
    """Given the throttle fault on every 3rd DescribeClusters call
    When DescribeClusters is called six times and DescribeBackups three times
    Then calls 3 and 6 of DescribeClusters are throttled and DescribeBackups never is."""
    world.faults.enable("throttle", every=3, operations=["DescribeClusters"])

    throttled = []
    for index in range(1, 7):
        try:
            no_retry_hsm.describe_clusters()
        except no_retry_hsm.exceptions.ClientError:
            throttled.append(index)
    for _ in range(3):
        no_retry_hsm.describe_backups()

    assert throttled == [3, 6]


def test_internal_failure_fails_the_next_create_hsm_with_http_500(
    no_retry_hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster and the internal-failure fault
    When CreateHsm is called twice
    Then the first fails with CloudHsmInternalFailureException (HTTP 500) and the second
    works; other operations were never affected."""
    cluster_id = seed(world, network, azs=2)
    world.faults.enable("internal-failure")
    no_retry_hsm.describe_clusters()

    with pytest.raises(no_retry_hsm.exceptions.CloudHsmInternalFailureException) as info:
        no_retry_hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")
    retried = no_retry_hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")

    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert retried["Hsm"]["State"] == "CREATE_IN_PROGRESS"


def test_hsm_degraded_ends_the_next_hsm_degraded_for_good(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster and the hsm-degraded fault
    When an HSM is created, time passes, it is deleted and another is created
    Then the first ends DEGRADED with the service's message and never recovers; the
    replacement becomes ACTIVE."""
    cluster_id = seed(world, network, azs=2)
    world.faults.enable("hsm-degraded")

    bad = hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")["Hsm"]
    world.settle()
    world.time_travel(timedelta(hours=2))
    degraded = next(h for h in cluster_of(hsm, cluster_id)["Hsms"] if h["HsmId"] == bad["HsmId"])
    hsm.delete_hsm(ClusterId=cluster_id, HsmId=bad["HsmId"])
    world.settle()
    good = hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")["Hsm"]
    world.settle()

    assert (degraded["State"], degraded["StateMessage"]) == ("DEGRADED", DEGRADED_MESSAGE)
    states = {h["HsmId"]: h["State"] for h in cluster_of(hsm, cluster_id)["Hsms"]}
    assert states[good["HsmId"]] == "ACTIVE"
    assert bad["HsmId"] not in states


def test_az_unsupported_fails_late_in_that_az_only(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster over three AZs and az-unsupported for us-east-1c
    When an HSM is created in us-east-1c (twice) and in us-east-1b
    Then CreateHsm is accepted but the us-east-1c HSMs end DEGRADED every time; the
    us-east-1b one becomes ACTIVE."""
    cluster_id = seed(world, network, azs=3, hours=(2,))
    world.quotas.hsms_per_region = 10
    world.faults.enable("az-unsupported", az=f"{REGION}c")

    results = []
    for zone in (f"{REGION}c", f"{REGION}c", f"{REGION}b"):
        created = hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=zone)["Hsm"]
        world.settle()
        states = {h["HsmId"]: h["State"] for h in cluster_of(hsm, cluster_id)["Hsms"]}
        results.append((created["State"], states[created["HsmId"]]))
        if states[created["HsmId"]] == "DEGRADED":
            hsm.delete_hsm(ClusterId=cluster_id, HsmId=created["HsmId"])
            world.settle()

    assert results == [
        ("CREATE_IN_PROGRESS", "DEGRADED"),
        ("CREATE_IN_PROGRESS", "DEGRADED"),
        ("CREATE_IN_PROGRESS", "ACTIVE"),
    ]


def test_backup_stuck_leaves_new_backups_in_progress(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster and the backup-stuck fault
    When an HSM is added (which makes a backup) and the world settles
    Then settle returns and the new backup is still CREATE_IN_PROGRESS, even after hours."""
    cluster_id = seed(world, network, azs=2)
    world.faults.enable("backup-stuck")

    hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}b")
    world.settle()
    world.faults.disable("backup-stuck")
    world.time_travel(timedelta(hours=3))

    newest = backups_of(hsm, clusterIds=[cluster_id])[-1]
    assert newest["BackupState"] == "CREATE_IN_PROGRESS"
    assert cluster_of(hsm, cluster_id)["Hsms"][-1]["State"] == "ACTIVE"


def test_copy_fails_ends_the_copy_deleted(
    hsm: Any, hsm_dr: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a READY backup and the copy-fails fault
    When it is copied to another region
    Then the copy goes CREATE_IN_PROGRESS, then DELETED, and the source stays READY."""
    cluster_id = seed(world, network)
    source_id = backups_of(hsm, clusterIds=[cluster_id])[-1]["BackupId"]
    world.faults.enable("copy-fails")
    hold(world, "backup_copy")

    hsm.copy_backup_to_region(DestinationRegion=DR_REGION, BackupId=source_id)
    during = backups_of(hsm_dr, sourceBackupIds=[source_id])
    fast_forward(world)
    after = backups_of(hsm_dr, sourceBackupIds=[source_id])

    assert [b["BackupState"] for b in during] == ["CREATE_IN_PROGRESS"]
    assert [b["BackupState"] for b in after] == ["DELETED"]
    assert backups_of(hsm, backupIds=[source_id])[0]["BackupState"] == "READY"


def test_hsm_failure_degrades_an_active_hsm_now(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster with two ACTIVE HSMs
    When hsm-failure names the second HSM
    Then exactly that HSM is DEGRADED at once, and the one-shot fault is not listed active."""
    cluster_id = seed(world, network, azs=2)
    first, second = cluster_of(hsm, cluster_id)["Hsms"]

    world.faults.enable("hsm-failure", cluster_id=cluster_id, hsm_id=second["HsmId"])

    states = {h["HsmId"]: h["State"] for h in cluster_of(hsm, cluster_id)["Hsms"]}
    assert states == {first["HsmId"]: "ACTIVE", second["HsmId"]: "DEGRADED"}
    assert world.faults.active() == {}
    with pytest.raises(ValueError, match="unknown cluster"):
        world.faults.enable("hsm-failure", cluster_id="cluster-aaaaaaaaaaa")


def test_fault_board_validates_names_and_parameters(world: CloudHsmWorld) -> None:
    """Given a world
    When faults are enabled with unknown names or parameters, then valid ones
    Then the bad ones raise ValueError and active() lists the good ones until disabled."""
    with pytest.raises(ValueError, match="unknown fault"):
        world.faults.enable("lambda-crash:STEP")
    with pytest.raises(ValueError, match="takes no parameter"):
        world.faults.enable("copy-fails", count=2)
    with pytest.raises(ValueError, match="needs az"):
        world.faults.enable("az-unsupported")

    world.faults.enable("az-unsupported", az="us-east-1c")
    world.faults.enable("az-unsupported", az="us-east-1d")
    world.faults.enable("backups-stopped")
    active = world.faults.active()
    world.faults.disable("az-unsupported")

    assert active == {
        "az-unsupported": {"azs": ["us-east-1c", "us-east-1d"]},
        "backups-stopped": {},
    }
    assert world.faults.active() == {"backups-stopped": {}}


def test_internal_failure_can_target_another_operation_and_count(
    no_retry_hsm: Any, world: CloudHsmWorld
) -> None:
    """Given internal-failure for the next 2 DescribeBackups calls
    When DescribeBackups is called three times
    Then the first two fail and the third succeeds."""
    world.faults.enable("internal-failure", operation="DescribeBackups", count=2)

    failures = 0
    for _ in range(3):
        try:
            no_retry_hsm.describe_backups()
        except no_retry_hsm.exceptions.CloudHsmInternalFailureException:
            failures += 1

    assert failures == 2
