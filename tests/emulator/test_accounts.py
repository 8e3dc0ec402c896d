"""Several accounts: each call reaches the caller's account, and backups are shared
across accounts as AWS shares them (resource policy, full ARN, owner-only changes)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdas.keycheck.users import FileUserLister
from lambdas.keycheck.verifier import capture_manifest, check_keys
from sandbox.emulator import CloudHsmWorld
from sandbox.softhsm_keystore import CANARY_LABEL, SEEDED_KEYS, SoftHsmKeyStore
from tests.emulator.helpers import (
    DR_REGION,
    REGION,
    Network,
    assert_error,
    backups_of,
    client,
    seed,
)

RECOVERY = "210987654321"
OTHER = "333344445555"


def as_account(account: str, service: str, region: str = REGION) -> Any:
    """A client with credentials of `account`: an assumed role there, as moto names the
    caller's account from the credentials."""
    credentials = client("sts", region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/tester", RoleSessionName="tester"
    )["Credentials"]
    return client(
        service,
        region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def subnets_in(account: str, region: str = REGION) -> list[str]:
    ec2 = as_account(account, "ec2", region)
    vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate((f"{region}a", f"{region}b"))
    ]


def share_policy(backup_arn: str, account: str = RECOVERY) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["cloudhsm:CreateCluster", "cloudhsm:DescribeBackups"],
                    "Resource": backup_arn,
                }
            ],
        }
    )


class RecordingKeyStore:
    def __init__(self) -> None:
        self.restored: list[tuple[str, str]] = []

    def cluster_seeded(self, cluster_id: str) -> None:
        return None

    def backup_taken(self, cluster_id: str, backup_id: str) -> None:
        return None

    def backup_copied(self, source_backup_id: str, copy_backup_id: str) -> None:
        return None

    def hsm_restored(self, cluster_id: str, backup_id: str, damage: frozenset[str]) -> None:
        self.restored.append((cluster_id, backup_id))


@pytest.fixture
def vault(aws: CloudHsmWorld) -> CloudHsmWorld:
    return aws.add_account(RECOVERY)


@pytest.fixture
def shared(hsm: Any, network: Network, world: CloudHsmWorld, vault: CloudHsmWorld) -> str:
    """The production cluster's newest READY backup, shared with the recovery account."""
    cluster_id = seed(world, network)
    arn = str(backups_of(hsm, clusterIds=[cluster_id])[-1]["BackupArn"])
    hsm.put_resource_policy(ResourceArn=arn, Policy=share_policy(arn))
    return arn


def test_each_call_reaches_the_world_of_the_callers_account(
    hsm: Any, network: Network, world: CloudHsmWorld, vault: CloudHsmWorld
) -> None:
    """Given a production world with a cluster and a recovery world beside it
    When each account describes its clusters, and a third account never seen calls
    Then production sees its cluster, the recovery account and the new account see none
    of it, and the third account got an empty world of its own."""
    cluster_id = seed(world, network)

    production_sees = [c["ClusterId"] for c in hsm.describe_clusters()["Clusters"]]
    recovery_sees = as_account(RECOVERY, "cloudhsmv2").describe_clusters()["Clusters"]
    other_sees = as_account(OTHER, "cloudhsmv2").describe_clusters()["Clusters"]

    assert production_sees == [cluster_id]
    assert recovery_sees == other_sees == []
    assert sorted(world.worlds) == sorted([world.account_id, RECOVERY, OTHER])
    assert vault.clusters(REGION) == []


def test_a_world_alone_serves_every_caller(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a single world (no other account added)
    When a caller with another account's credentials describes clusters
    Then it sees the world's cluster, as a one-account sandbox always did."""
    cluster_id = seed(world, network)

    seen = as_account(RECOVERY, "cloudhsmv2").describe_clusters()["Clusters"]

    assert [c["ClusterId"] for c in seen] == [cluster_id]
    assert list(world.worlds) == [world.account_id]


def test_recovery_account_creates_its_own_cluster_from_a_shared_backup(
    shared: str, world: CloudHsmWorld, vault: CloudHsmWorld
) -> None:
    """Given a backup shared with the recovery account by resource policy
    When the recovery account creates a cluster from the backup's full ARN, adds an HSM
    and removes it
    Then the cluster is the recovery account's (not production's), its HSM got the shared
    backup's keys, and removing the HSM made a backup the recovery account owns."""
    keys = RecordingKeyStore()
    world.key_store = keys
    recovery = as_account(RECOVERY, "cloudhsmv2")
    subnets = subnets_in(RECOVERY)

    created = recovery.create_cluster(
        HsmType="hsm2m.medium", SubnetIds=subnets, SourceBackupId=shared
    )["Cluster"]
    world.settle()
    cluster_id = created["ClusterId"]
    hsm_id = recovery.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}a")["Hsm"][
        "HsmId"
    ]
    world.settle()
    recovery.delete_hsm(ClusterId=cluster_id, HsmId=hsm_id)
    world.settle()

    assert vault.cluster(cluster_id)["State"] == "ACTIVE"
    assert cluster_id not in [c["ClusterId"] for c in world.clusters(REGION)]
    assert keys.restored == [(cluster_id, shared.rsplit("/", 1)[-1])]
    owned = backups_of(recovery, clusterIds=[cluster_id])
    assert len(owned) == 1
    assert owned[0]["BackupArn"].split(":")[4] == RECOVERY
    assert owned[0]["BackupState"] == "READY"


def test_shared_backups_are_listed_only_once_the_share_is_promoted(
    shared: str, world: CloudHsmWorld
) -> None:
    """Given a backup shared by PutResourcePolicy
    When the recovery account lists shared backups before and after the share is
    promoted to a standard RAM share
    Then it sees none before (botocore's model: policy shares are not listed) and the
    backup after, and its own listing never holds production's backups."""
    recovery = as_account(RECOVERY, "cloudhsmv2")

    before = recovery.describe_backups(Shared=True)["Backups"]
    world.promote_policy_share(shared)
    after = recovery.describe_backups(Shared=True)["Backups"]
    own = recovery.describe_backups()["Backups"]
    not_shared_with_other = as_account(OTHER, "cloudhsmv2").describe_backups(Shared=True)

    assert before == []
    assert [b["BackupArn"] for b in after] == [shared]
    assert own == []
    assert not_shared_with_other["Backups"] == []


def test_the_recipient_cannot_delete_copy_tag_restore_or_reshare_a_shared_backup(
    shared: str, world: CloudHsmWorld
) -> None:
    """Given a backup shared with the recovery account
    When the recovery account deletes, copies, tags, restores, restores by bare id,
    reads or changes the policy of the shared backup
    Then every call is refused: ids name the caller's own backups (not found), the
    policy belongs to its owner (access denied); the backup is untouched."""
    recovery = as_account(RECOVERY, "cloudhsmv2")
    backup_id = shared.rsplit("/", 1)[-1]
    subnets = subnets_in(RECOVERY)
    not_found = "CloudHsmResourceNotFoundException"
    calls: list[tuple[str, Any]] = [
        (not_found, lambda: recovery.delete_backup(BackupId=backup_id)),
        (
            not_found,
            lambda: recovery.copy_backup_to_region(BackupId=backup_id, DestinationRegion=DR_REGION),
        ),
        (
            not_found,
            lambda: recovery.tag_resource(
                ResourceId=backup_id, TagList=[{"Key": "hsmdr:vault", "Value": "x"}]
            ),
        ),
        (not_found, lambda: recovery.restore_backup(BackupId=backup_id)),
        (
            not_found,
            lambda: recovery.modify_backup_attributes(BackupId=backup_id, NeverExpires=True),
        ),
        (
            not_found,
            lambda: recovery.create_cluster(
                HsmType="hsm2m.medium", SubnetIds=subnets, SourceBackupId=backup_id
            ),
        ),
        (
            "CloudHsmAccessDeniedException",
            lambda: recovery.put_resource_policy(
                ResourceArn=shared, Policy=share_policy(shared, OTHER)
            ),
        ),
        (
            "CloudHsmAccessDeniedException",
            lambda: recovery.delete_resource_policy(ResourceArn=shared),
        ),
        ("CloudHsmAccessDeniedException", lambda: recovery.get_resource_policy(ResourceArn=shared)),
    ]

    for code, call in calls:
        with pytest.raises(ClientError) as info:
            call()
        assert_error(info, code)

    assert world.backup(backup_id)["BackupState"] == "READY"
    assert "TagList" not in world.backup(backup_id)
    assert world.resource_policy(shared) == share_policy(shared)


def test_create_cluster_from_another_accounts_backup_needs_a_live_share(
    shared: str, hsm: Any, world: CloudHsmWorld, vault: CloudHsmWorld
) -> None:
    """Given a shared backup and an account it is not shared with
    When that account uses the ARN, and the recovery account uses it after production
    deleted the policy
    Then both get AccessDenied and no cluster is made in either account."""
    other_subnets = subnets_in(OTHER)
    recovery_subnets = subnets_in(RECOVERY)

    with pytest.raises(ClientError) as not_shared:
        as_account(OTHER, "cloudhsmv2").create_cluster(
            HsmType="hsm2m.medium", SubnetIds=other_subnets, SourceBackupId=shared
        )
    hsm.delete_resource_policy(ResourceArn=shared)
    with pytest.raises(ClientError) as unshared:
        as_account(RECOVERY, "cloudhsmv2").create_cluster(
            HsmType="hsm2m.medium", SubnetIds=recovery_subnets, SourceBackupId=shared
        )

    assert_error(not_shared, "CloudHsmAccessDeniedException", shared)
    assert_error(unshared, "CloudHsmAccessDeniedException", shared)
    assert vault.clusters(REGION) == []
    assert world.worlds[OTHER].clusters(REGION) == []


def test_production_cannot_touch_the_recovery_accounts_clusters_or_backups(
    shared: str, hsm: Any, world: CloudHsmWorld, vault: CloudHsmWorld
) -> None:
    """Given a recovery cluster made from a shared backup, and a recovery-owned backup
    When production deletes the cluster, deletes or restores from the backup by ARN
    Then it is refused (not found by id, access denied by ARN) and both are untouched."""
    recovery = as_account(RECOVERY, "cloudhsmv2")
    cluster_id = recovery.create_cluster(
        HsmType="hsm2m.medium", SubnetIds=subnets_in(RECOVERY), SourceBackupId=shared
    )["Cluster"]["ClusterId"]
    world.settle()
    hsm_id = recovery.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}a")["Hsm"][
        "HsmId"
    ]
    world.settle()
    recovery.delete_hsm(ClusterId=cluster_id, HsmId=hsm_id)
    world.settle()
    owned = backups_of(recovery, clusterIds=[cluster_id])[0]

    with pytest.raises(ClientError) as delete_cluster:
        hsm.delete_cluster(ClusterId=cluster_id)
    with pytest.raises(ClientError) as delete_backup:
        hsm.delete_backup(BackupId=owned["BackupId"])
    with pytest.raises(ClientError) as restore_from:
        hsm.create_cluster(
            HsmType="hsm2m.medium",
            SubnetIds=[
                world.cluster(world.clusters(REGION)[0]["ClusterId"])["Hsms"][0]["SubnetId"]
            ],
            SourceBackupId=owned["BackupArn"],
        )

    assert_error(delete_cluster, "CloudHsmResourceNotFoundException")
    assert_error(delete_backup, "CloudHsmResourceNotFoundException")
    assert_error(restore_from, "CloudHsmAccessDeniedException")
    assert vault.cluster(cluster_id)["State"] == "ACTIVE"
    assert vault.backup(owned["BackupId"])["BackupState"] == "READY"


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ({"Version": "2012-10-17"}, "no Statement"),
        (
            {"Statement": [{"Effect": "Allow", "Action": "cloudhsm:CreateCluster"}]},
            "no Principal",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]},
            "not a cloudhsm action",
        ),
        (
            {"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "cloudhsm:*"}]},
            "Effect",
        ),
    ],
)
def test_put_resource_policy_refuses_a_policy_that_is_not_a_resource_policy(
    hsm: Any, network: Network, world: CloudHsmWorld, policy: dict[str, Any], fragment: str
) -> None:
    """Given a READY backup
    When a policy without statements, principal, cloudhsm actions or a valid effect is put
    Then it is refused, naming what is wrong, and the backup keeps no policy."""
    cluster_id = seed(world, network)
    arn = backups_of(hsm, clusterIds=[cluster_id])[-1]["BackupArn"]

    with pytest.raises(ClientError) as info:
        hsm.put_resource_policy(ResourceArn=arn, Policy=json.dumps(policy))

    assert_error(info, "CloudHsmInvalidRequestException", fragment)
    assert world.resource_policy(arn) is None


def test_add_account_refuses_a_bad_or_taken_account_id(world: CloudHsmWorld) -> None:
    """Given a world
    When an account that is not 12 digits, or its own account, is added
    Then each is refused."""
    with pytest.raises(ValueError, match="12 digits"):
        world.add_account("vault")
    with pytest.raises(ValueError, match="already"):
        world.add_account(world.account_id)


def test_a_vault_cluster_gets_the_keys_of_the_backup_production_shared(
    hsm: Any,
    network: Network,
    world: CloudHsmWorld,
    vault: CloudHsmWorld,
    key_store: SoftHsmKeyStore,
) -> None:
    """Given production's cluster with keys in SoftHSM tokens, its newest backup shared
    with the recovery account
    When the recovery account creates a cluster from the backup's ARN and adds an HSM
    Then the recovery cluster's token holds every key of production's, KCVs equal."""
    world.key_store = key_store
    source = seed(world, network)
    arn = str(backups_of(hsm, clusterIds=[source])[-1]["BackupArn"])
    hsm.put_resource_policy(ResourceArn=arn, Policy=share_policy(arn))
    recovery = as_account(RECOVERY, "cloudhsmv2")
    restored = recovery.create_cluster(
        HsmType="hsm2m.medium", SubnetIds=subnets_in(RECOVERY), SourceBackupId=arn
    )["Cluster"]["ClusterId"]
    world.settle()
    recovery.create_hsm(ClusterId=restored, AvailabilityZone=f"{REGION}a")
    world.settle()

    users = FileUserLister(key_store.users_path_template)
    manifest = capture_manifest(source, key_store.connection(source), users)
    report = check_keys(
        manifest,
        cluster_id=restored,
        connection=key_store.connection(restored),
        users=users,
        canary_label=CANARY_LABEL,
    )

    assert vault.cluster(restored)["Hsms"][0]["State"] == "ACTIVE"
    assert report.status == "SUCCEEDED", report.to_dict()
    assert {k.label for k in manifest.keys} == {k.label for k in SEEDED_KEYS}


def test_production_promotes_its_policy_share_through_ram_and_unsharing_ends_it(
    shared: str, hsm: Any
) -> None:
    """Given a backup shared by PutResourcePolicy
    When production finds the RAM share the policy created, promotes it, tries to promote
    it again and an unknown share, then deletes the policy
    Then the share is CREATED_FROM_POLICY then STANDARD, the recovery account lists the
    backup only between promotion and unsharing, and the bad promotions are refused."""
    ram = client("ram", REGION)
    recovery = as_account(RECOVERY, "cloudhsmv2")
    [association] = ram.get_resource_share_associations(
        associationType="RESOURCE", resourceArn=shared
    )["resourceShareAssociations"]
    share_arn = association["resourceShareArn"]

    def feature_set() -> str:
        shares = ram.get_resource_shares(resourceOwner="SELF")["resourceShares"]
        return str(next(s for s in shares if s["resourceShareArn"] == share_arn)["featureSet"])

    created_from_policy = feature_set()
    before = recovery.describe_backups(Shared=True)["Backups"]
    promoted = ram.promote_resource_share_created_from_policy(resourceShareArn=share_arn)
    listed = [b["BackupArn"] for b in recovery.describe_backups(Shared=True)["Backups"]]
    standard = feature_set()
    with pytest.raises(ClientError) as again:
        ram.promote_resource_share_created_from_policy(resourceShareArn=share_arn)
    with pytest.raises(ClientError) as unknown:
        ram.promote_resource_share_created_from_policy(
            resourceShareArn=share_arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
        )
    hsm.delete_resource_policy(ResourceArn=shared)
    after = recovery.describe_backups(Shared=True)["Backups"]

    assert (created_from_policy, standard) == ("CREATED_FROM_POLICY", "STANDARD")
    assert before == [] and after == []
    assert promoted["returnValue"] is True
    assert listed == [shared]
    assert again.value.response["Error"]["Code"] == "OperationNotPermittedException"
    assert unknown.value.response["Error"]["Code"] == "UnknownResourceException"
