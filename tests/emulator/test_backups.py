"""Backups: daily schedule, retention, delete/restore, attributes, DescribeBackups
filters/sorting/pagination, CopyBackupToRegion."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.emulator import CloudHsmWorld
from tests.emulator.helpers import (
    DR_REGION,
    HELD,
    REGION,
    Network,
    age,
    assert_error,
    backups_of,
    fast_forward,
    hold,
    seed,
)

INVALID = "CloudHsmInvalidRequestException"
HOUR = timedelta(hours=1)


def test_daily_backups_catch_up_after_time_travel(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster whose backups are 2, 26 and 50 hours old
    When 30 hours, then 48 more hours, pass
    Then the service has made a backup 24 h after each previous one, at those past
    times: one now 8 h old, then three now 56, 32 and 8 h old, all READY."""
    cluster_id = seed(world, network)

    world.time_travel(timedelta(hours=30))
    after_30 = backups_of(hsm, clusterIds=[cluster_id])
    world.time_travel(timedelta(hours=48))
    after_78 = backups_of(hsm, clusterIds=[cluster_id])

    assert len(after_30) == 4
    assert abs(age(after_30[-1]["CreateTimestamp"]) - 8 * HOUR) < timedelta(minutes=1)
    ages = [age(b["CreateTimestamp"]) for b in after_78]
    expected = [128, 104, 80, 56, 32, 8]
    assert [round(a / HOUR) for a in ages] == expected
    assert {b["BackupState"] for b in after_78} == {"READY"}


def test_backups_stopped_leaves_the_newest_backup_stale(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster and the backups-stopped fault
    When 30 hours pass
    Then no daily backup was made: the newest backup is 32 hours old."""
    cluster_id = seed(world, network)
    world.faults.enable("backups-stopped")

    world.time_travel(timedelta(hours=30))

    newest = backups_of(hsm, clusterIds=[cluster_id])[-1]
    assert round(age(newest["CreateTimestamp"]) / HOUR) == 32


def test_retention_purges_old_backups_but_never_the_last_or_exempt_ones(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a cluster with a 7-day policy and backups 10 d, 9 d (NeverExpires) and 1 h
    old, and a lone cluster whose only backup is 30 d old
    When the service applies retention, and 4 more days pass
    Then the 10-day backup is PENDING_DELETION with a DeleteTimestamp 7 days after it
    expired, then DELETED; the exempt one and the lone last backup stay READY."""
    days = timedelta(days=1)
    cluster_id = seed(world, network, hours=(240, 216, 1), retention_days=7)
    lone_id = seed(world, network, hours=(720,), retention_days=7)
    old, exempt, _ = backups_of(hsm, clusterIds=[cluster_id])
    # The service has already purged the 9-day backup at seeding; exempting it and
    # restoring it shows NeverExpires protects it from then on.
    hsm.restore_backup(BackupId=exempt["BackupId"])
    hsm.modify_backup_attributes(BackupId=exempt["BackupId"], NeverExpires=True)

    purged = backups_of(hsm, backupIds=[old["BackupId"]])[0]
    lone = backups_of(hsm, clusterIds=[lone_id])
    world.time_travel(4 * days + HOUR)
    final = {b["BackupId"]: b for b in backups_of(hsm)}

    assert purged["BackupState"] == "PENDING_DELETION"
    expected_delete = old["CreateTimestamp"] + 14 * days
    assert abs(purged["DeleteTimestamp"] - expected_delete) < timedelta(seconds=5)
    assert final[old["BackupId"]]["BackupState"] == "DELETED"
    assert final[exempt["BackupId"]]["BackupState"] == "READY"
    assert [b["BackupState"] for b in lone] == ["READY"]


def test_delete_backup_then_restore_then_final_deletion(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a READY backup
    When it is deleted, deleted again, restored, restored again, deleted, and 7 days pass
    Then: PENDING_DELETION with DeleteTimestamp +7 d; refused; READY without
    DeleteTimestamp; refused; finally DELETED."""
    cluster_id = seed(world, network)
    backup_id = backups_of(hsm, clusterIds=[cluster_id])[0]["BackupId"]

    deleted = hsm.delete_backup(BackupId=backup_id)["Backup"]
    with pytest.raises(ClientError) as twice:
        hsm.delete_backup(BackupId=backup_id)
    restored = hsm.restore_backup(BackupId=backup_id)["Backup"]
    with pytest.raises(ClientError) as not_pending:
        hsm.restore_backup(BackupId=backup_id)
    hsm.delete_backup(BackupId=backup_id)
    world.time_travel(timedelta(days=7, hours=1))

    assert deleted["BackupState"] == "PENDING_DELETION"
    assert abs(-age(deleted["DeleteTimestamp"]) - timedelta(days=7)) < timedelta(minutes=1)
    assert_error(twice, INVALID, "only READY")
    assert restored["BackupState"] == "READY"
    assert "DeleteTimestamp" not in restored
    assert_error(not_pending, INVALID, "only PENDING_DELETION")
    assert backups_of(hsm, backupIds=[backup_id])[0]["BackupState"] == "DELETED"


def test_describe_backups_filters(
    hsm: Any, network: Network, world: CloudHsmWorld, raw_hsm: Any
) -> None:
    """Given two seeded clusters, one backup deleted and one marked NeverExpires
    When DescribeBackups filters by backupIds, clusterIds, states and neverExpires
    Then each returns exactly the matching backups; bad filters are refused."""
    first = seed(world, network)
    second = seed(world, network, hours=(5,))
    b1, b2, _ = backups_of(hsm, clusterIds=[first])
    hsm.delete_backup(BackupId=b1["BackupId"])
    hsm.modify_backup_attributes(BackupId=b2["BackupId"], NeverExpires=True)

    def ids(**filters: list[str]) -> set[str]:
        return {b["BackupId"] for b in backups_of(hsm, **filters)}

    assert ids(backupIds=[b2["BackupId"]]) == {b2["BackupId"]}
    assert len(ids(clusterIds=[first])) == 3
    assert len(ids(clusterIds=[second])) == 1
    assert ids(states=["PENDING_DELETION"]) == {b1["BackupId"]}
    assert len(ids(states=["READY", "PENDING_DELETION"])) == 4
    assert ids(neverExpires=["True"]) == {b2["BackupId"]}
    assert len(ids(neverExpires=["False"])) == 3
    for bad in ({"neverExpires": ["maybe"]}, {"states": ["GONE"]}, {"owners": ["x"]}):
        with pytest.raises(hsm.exceptions.CloudHsmInvalidRequestException):
            raw_hsm.describe_backups(Filters=bad)


def test_describe_backups_sorts_newest_first_unless_asked_ascending(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given backups 2, 26 and 50 hours old
    When DescribeBackups is called without and with SortAscending=True
    Then the default lists newest first and SortAscending lists oldest first."""
    seed(world, network)

    default = hsm.describe_backups()["Backups"]
    ascending = hsm.describe_backups(SortAscending=True)["Backups"]

    assert [round(age(b["CreateTimestamp"]) / HOUR) for b in default] == [2, 26, 50]
    assert [round(age(b["CreateTimestamp"]) / HOUR) for b in ascending] == [50, 26, 2]


def test_describe_backups_pages_by_50(
    hsm: Any, network: Network, world: CloudHsmWorld, raw_hsm: Any
) -> None:
    """Given 60 backups
    When DescribeBackups is paged with the default and with MaxResults=50, and with
    MaxResults=51 or a forged NextToken
    Then pages are 50 + 10 either way, the paginator sees all 60, and the bad requests
    are refused."""
    seed(world, network, hours=tuple(float(h) for h in range(1, 61)))

    first = hsm.describe_backups()
    rest = hsm.describe_backups(NextToken=first["NextToken"])
    explicit = list(hsm.get_paginator("describe_backups").paginate(MaxResults=50))

    assert (len(first["Backups"]), len(rest["Backups"])) == (50, 10)
    assert "NextToken" not in rest
    assert [len(p["Backups"]) for p in explicit] == [50, 10]
    assert len({b["BackupId"] for p in explicit for b in p["Backups"]}) == 60
    with pytest.raises(ClientError) as too_many:
        hsm.describe_backups(MaxResults=51)
    assert_error(too_many, INVALID, "between 1 and 50")
    with pytest.raises(ClientError) as forged:
        raw_hsm.describe_backups(NextToken="not-a-token")
    assert_error(forged, INVALID, "NextToken")


@pytest.mark.parametrize(
    ("quirk", "outcome"),
    [("off", {"READY", "PENDING_DELETION"}), ("first-only", {"READY"}), ("reject", None)],
)
def test_states_filter_quirk_is_a_world_setting(
    hsm: Any,
    network: Network,
    world: CloudHsmWorld,
    quirk: str,
    outcome: set[str] | None,
) -> None:
    """Given backups in READY and PENDING_DELETION and the one-state quirk setting
    When DescribeBackups filters on both states
    Then "off" returns both, "first-only" only the first state, "reject" refuses."""
    cluster_id = seed(world, network)
    hsm.delete_backup(BackupId=backups_of(hsm, clusterIds=[cluster_id])[0]["BackupId"])
    world.settings.backup_states_filter_quirk = quirk  # type: ignore[assignment]

    if outcome is None:
        with pytest.raises(hsm.exceptions.CloudHsmInvalidRequestException):
            hsm.describe_backups(Filters={"states": ["READY", "PENDING_DELETION"]})
    else:
        found = hsm.describe_backups(Filters={"states": ["READY", "PENDING_DELETION"]})
        assert {b["BackupState"] for b in found["Backups"]} == outcome


def test_copy_backup_to_region_appears_in_the_destination_and_becomes_ready(
    hsm: Any, hsm_dr: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a READY tagged backup in us-east-1
    When it is copied to us-west-2
    Then the answer has no id, only the source's CreateTimestamp/region/backup/cluster;
    the copy is found by sourceBackupIds CREATE_IN_PROGRESS, then READY, with CopyTimestamp,
    the source's HsmType, Mode, CreateTimestamp and tags, and no ClusterId."""
    cluster_id = seed(world, network)
    source = backups_of(hsm, clusterIds=[cluster_id])[-1]
    hsm.tag_resource(ResourceId=source["BackupId"], TagList=[{"Key": "tier", "Value": "gold"}])
    hold(world, "backup_copy")

    answer = hsm.copy_backup_to_region(DestinationRegion=DR_REGION, BackupId=source["BackupId"])
    during = backups_of(hsm_dr, sourceBackupIds=[source["BackupId"]])
    fast_forward(world)
    (copy,) = backups_of(hsm_dr, sourceBackupIds=[source["BackupId"]])

    assert answer["DestinationBackup"] == {
        "CreateTimestamp": source["CreateTimestamp"],
        "SourceRegion": REGION,
        "SourceBackup": source["BackupId"],
        "SourceCluster": cluster_id,
    }
    assert [b["BackupState"] for b in during] == ["CREATE_IN_PROGRESS"]
    assert copy["BackupState"] == "READY"
    assert copy["BackupArn"].startswith(f"arn:aws:cloudhsm:{DR_REGION}:{world.account_id}:backup/")
    assert (copy["SourceRegion"], copy["SourceCluster"]) == (REGION, cluster_id)
    # (time travel moved both back)
    (source_now,) = backups_of(hsm, backupIds=[source["BackupId"]])
    assert copy["CreateTimestamp"] == source_now["CreateTimestamp"]
    assert age(copy["CopyTimestamp"]) < HELD + timedelta(minutes=1)
    assert (copy["HsmType"], copy["Mode"]) == (source["HsmType"], source["Mode"])
    assert "ClusterId" not in copy
    assert copy["TagList"] == [{"Key": "tier", "Value": "gold"}]


def test_copies_have_no_retention_policy(
    hsm: Any, hsm_dr: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a copy of a backup of a cluster with a 7-day retention policy
    When 10 days pass
    Then the source backup has been purged but the copy is still READY."""
    cluster_id = seed(world, network, hours=(1,), retention_days=7)
    source_id = backups_of(hsm, clusterIds=[cluster_id])[0]["BackupId"]
    hsm.copy_backup_to_region(DestinationRegion=DR_REGION, BackupId=source_id)
    world.settle()

    world.time_travel(timedelta(days=10))

    assert backups_of(hsm, backupIds=[source_id])[0]["BackupState"] == "PENDING_DELETION"
    assert [b["BackupState"] for b in backups_of(hsm_dr)] == ["READY"]


@pytest.mark.parametrize(
    ("destination", "fragment"),
    [(REGION, "must differ"), ("us-gov-west-1", "GovCloud"), ("xx-north-9", "Unknown")],
)
def test_copy_backup_to_region_refuses_bad_destinations(
    raw_hsm: Any, network: Network, world: CloudHsmWorld, destination: str, fragment: str
) -> None:
    """Given a READY backup in us-east-1
    When it is copied to its own region, to GovCloud, or to an unknown region
    Then each copy is refused."""
    cluster_id = seed(world, network)
    backup_id = backups_of(raw_hsm, clusterIds=[cluster_id])[0]["BackupId"]

    with pytest.raises(ClientError) as info:
        raw_hsm.copy_backup_to_region(DestinationRegion=destination, BackupId=backup_id)

    assert_error(info, INVALID, fragment)


def test_copy_backup_to_region_needs_a_ready_source(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a backup in PENDING_DELETION
    When it is copied
    Then the copy is refused."""
    cluster_id = seed(world, network)
    backup_id = backups_of(hsm, clusterIds=[cluster_id])[0]["BackupId"]
    hsm.delete_backup(BackupId=backup_id)

    with pytest.raises(ClientError) as info:
        hsm.copy_backup_to_region(DestinationRegion=DR_REGION, BackupId=backup_id)

    assert_error(info, INVALID, "only READY")


def test_a_copy_restores_into_a_cluster_in_the_destination_region(
    hsm: Any, hsm_dr: Any, network: Network, dr_network: Network, world: CloudHsmWorld
) -> None:
    """Given a READY copy in us-west-2 of a us-east-1 backup
    When a us-west-2 cluster is created from the copy and given an HSM
    Then the cluster becomes ACTIVE carrying the source cluster's certificate, and its HSM
    becomes ACTIVE in the DR subnet."""
    cluster_id = seed(world, network)
    source = backups_of(hsm, clusterIds=[cluster_id])[-1]
    hsm.copy_backup_to_region(DestinationRegion=DR_REGION, BackupId=source["BackupId"])
    world.settle()
    (copy,) = backups_of(hsm_dr, sourceBackupIds=[source["BackupId"]])

    created = hsm_dr.create_cluster(
        HsmType="hsm2m.medium", SubnetIds=dr_network.subnet_ids[:2], SourceBackupId=copy["BackupId"]
    )["Cluster"]
    world.settle()
    hsm_dr.create_hsm(ClusterId=created["ClusterId"], AvailabilityZone=f"{DR_REGION}a")
    world.settle()

    restored = hsm_dr.describe_clusters()["Clusters"][0]
    original = hsm.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]
    assert restored["State"] == "ACTIVE"
    assert restored["SourceBackupId"] == copy["BackupId"]
    assert (
        restored["Certificates"]["ClusterCertificate"]
        == original["Certificates"]["ClusterCertificate"]
    )
    assert [(h["State"], h["SubnetId"]) for h in restored["Hsms"]] == [
        ("ACTIVE", dr_network.subnets[f"{DR_REGION}a"])
    ]
