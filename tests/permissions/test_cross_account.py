"""Calls across accounts: each call is made in its caller's account, and a call on
another account's backup needs the caller's identity policy AND the backup's resource
policy, while the emulator refuses what a shared backup's recipient may never do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.emulator import PROFILES, CloudHsmWorld, install
from sandbox.permissions import (
    PermissionEnforcer,
    Principal,
    acting_as,
    bind_client,
    calling_account,
    enforcing,
    in_account,
)
from sandbox.permissions.policy import evaluate_cross_account

PRODUCTION = "123456789012"
RECOVERY = "210987654321"
REGION = "us-east-1"
EVERYTHING = {"Effect": "Allow", "Action": ["cloudhsm:*", "ec2:*"], "Resource": "*"}


def role_in(account: str, name: str, *statements: dict[str, Any]) -> str:
    """A role of `account` with `statements` as its only (inline) policy."""
    with in_account(account):
        iam = boto3.client("iam", region_name=REGION)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
        iam.put_role_policy(
            RoleName=name,
            PolicyName="only",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        )
    return str(arn)


def subnets_in(account: str) -> list[str]:
    with in_account(account):
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc_id = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
        return [
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.5.{i}.0/24", AvailabilityZone=zone)[
                "Subnet"
            ]["SubnetId"]
            for i, zone in enumerate((f"{REGION}a", f"{REGION}b"))
        ]


def hsm() -> Any:
    return boto3.client("cloudhsmv2", region_name=REGION)


def error_code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


class Accounts:
    def __init__(self, world: CloudHsmWorld, enforcer: PermissionEnforcer) -> None:
        self.world = world
        self.vault = world.add_account(RECOVERY)
        self.enforcer = enforcer
        self.production_subnets = subnets_in(PRODUCTION)
        self.recovery_subnets = subnets_in(RECOVERY)
        self.cluster_id = world.seed_cluster(
            REGION, self.production_subnets[:1], backup_ages=[timedelta(hours=2)]
        )
        [backup] = world.backups(REGION)
        self.backup_arn = str(backup["BackupArn"])

    def share(self) -> str:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{RECOVERY}:root"},
                    "Action": ["cloudhsm:CreateCluster", "cloudhsm:DescribeBackups"],
                    "Resource": self.backup_arn,
                }
            ],
        }
        hsm().put_resource_policy(ResourceArn=self.backup_arn, Policy=json.dumps(policy))
        return self.backup_arn


@pytest.fixture
def accounts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Accounts]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    world = CloudHsmWorld(profile=PROFILES["test"], rng_seed=11, account_id=PRODUCTION)
    with mock_aws(), install(world):
        enforcer = PermissionEnforcer(PRODUCTION, world)
        found = Accounts(world, enforcer)
        with enforcing(enforcer):
            yield found


def test_calls_are_made_in_the_account_of_the_principal_or_of_in_account() -> None:
    """Given no principal, an account set with in_account, and a principal inside it
    When the calling account is asked
    Then it is moto's default (None), then that account, then the principal's."""
    outside = calling_account()
    with in_account(RECOVERY):
        inside = calling_account()
        with acting_as(Principal.role(f"arn:aws:iam::{PRODUCTION}:role/r")):
            as_principal = calling_account()

    assert (outside, inside, as_principal) == (None, RECOVERY, PRODUCTION)


@pytest.mark.denials_expected
def test_a_recovery_role_with_every_cloudhsm_action_cannot_delete_copy_or_reshare(
    accounts: Accounts,
) -> None:
    """Given a backup shared with the recovery account, and a recovery role allowed
    cloudhsm:* on *
    When the role deletes it, copies it, puts a policy on it and creates a cluster from
    its bare id
    Then the service refuses the id calls (not its backup) and IAM refuses the policy
    (the owner's policy grants no PutResourcePolicy); the backup is untouched."""
    shared = accounts.share()
    backup_id = shared.rsplit("/", 1)[-1]
    role = role_in(RECOVERY, "vault-everything", EVERYTHING)

    codes = []
    with acting_as(Principal.role(role)):
        for call in (
            lambda: hsm().delete_backup(BackupId=backup_id),
            lambda: hsm().copy_backup_to_region(BackupId=backup_id, DestinationRegion="us-west-2"),
            lambda: hsm().put_resource_policy(ResourceArn=shared, Policy='{"Statement": []}'),
            lambda: hsm().create_cluster(
                HsmType="hsm2m.medium",
                SubnetIds=accounts.recovery_subnets,
                SourceBackupId=backup_id,
            ),
        ):
            with pytest.raises(ClientError) as info:
                call()
            codes.append(error_code(info))

    assert codes == [
        "CloudHsmResourceNotFoundException",
        "CloudHsmResourceNotFoundException",
        "AccessDeniedException",
        "CloudHsmResourceNotFoundException",
    ]
    [denial] = accounts.enforcer.denials
    assert denial.action == "cloudhsm:PutResourcePolicy"
    assert "no resource-based policy allows" in denial.message
    assert accounts.world.backup(backup_id)["BackupState"] == "READY"


@pytest.mark.denials_expected
def test_the_recipient_creates_a_cluster_from_the_shared_arn_only_while_shared(
    accounts: Accounts,
) -> None:
    """Given a recovery role allowed cloudhsm:* and ec2:* on *
    When it creates a cluster from the shared backup's ARN, then production unshares
    the backup and the role tries again
    Then the first cluster is the recovery account's, and the second call is refused by
    IAM (no resource-based policy) before the service sees it."""
    shared = accounts.share()
    role = role_in(RECOVERY, "vault-restorer", EVERYTHING)

    with acting_as(Principal.role(role)):
        created = hsm().create_cluster(
            HsmType="hsm2m.medium", SubnetIds=accounts.recovery_subnets, SourceBackupId=shared
        )["Cluster"]["ClusterId"]
    hsm().delete_resource_policy(ResourceArn=shared)
    with acting_as(Principal.role(role)), pytest.raises(ClientError) as info:
        hsm().create_cluster(
            HsmType="hsm2m.medium", SubnetIds=accounts.recovery_subnets, SourceBackupId=shared
        )

    assert [c["ClusterId"] for c in accounts.vault.clusters(REGION)] == [created]
    assert created not in [c["ClusterId"] for c in accounts.world.clusters(REGION)]
    assert error_code(info) == "AccessDeniedException"
    [denial] = accounts.enforcer.denials
    assert (denial.action, denial.resource) == ("cloudhsm:CreateCluster", shared)
    assert "no resource-based policy allows" in denial.message


@pytest.mark.denials_expected
def test_a_share_alone_is_not_enough_the_recipients_identity_policy_must_allow_too(
    accounts: Accounts,
) -> None:
    """Given a backup shared with the recovery account, and a recovery role allowed
    only ec2:* and cloudhsm:DescribeClusters
    When the role creates a cluster from the shared ARN
    Then IAM refuses it: across accounts the identity policy must allow as well."""
    shared = accounts.share()
    role = role_in(
        RECOVERY,
        "vault-reader",
        {"Effect": "Allow", "Action": ["ec2:*", "cloudhsm:DescribeClusters"], "Resource": "*"},
    )

    with acting_as(Principal.role(role)), pytest.raises(ClientError) as info:
        hsm().create_cluster(
            HsmType="hsm2m.medium", SubnetIds=accounts.recovery_subnets, SourceBackupId=shared
        )

    assert error_code(info) == "AccessDeniedException"
    [denial] = accounts.enforcer.denials
    assert "no identity-based policy allows" in denial.message
    assert accounts.vault.clusters(REGION) == []


@pytest.mark.denials_expected
def test_a_production_role_cannot_touch_the_recovery_accounts_clusters_or_backups(
    accounts: Accounts,
) -> None:
    """Given a recovery cluster made from a shared backup, and a production role
    allowed cloudhsm:* and ec2:* on *
    When the production role deletes that cluster by id and creates a cluster from a
    recovery-owned backup's ARN
    Then the id names nothing in production (not found) and IAM refuses the ARN (the
    recovery backup shares nothing); the recovery cluster is untouched."""
    shared = accounts.share()
    recovery_role = role_in(RECOVERY, "vault-restorer", EVERYTHING)
    production_role = role_in(PRODUCTION, "production-everything", EVERYTHING)
    with acting_as(Principal.role(recovery_role)):
        cluster_id = hsm().create_cluster(
            HsmType="hsm2m.medium", SubnetIds=accounts.recovery_subnets, SourceBackupId=shared
        )["Cluster"]["ClusterId"]
    accounts.world.settle()
    with acting_as(Principal.role(recovery_role)):
        hsm_id = hsm().create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}a")["Hsm"][
            "HsmId"
        ]
        accounts.world.settle()
        hsm().delete_hsm(ClusterId=cluster_id, HsmId=hsm_id)
    accounts.world.settle()
    [owned] = [b for b in accounts.vault.backups(REGION) if b.get("ClusterId") == cluster_id]

    with acting_as(Principal.role(production_role)):
        with pytest.raises(ClientError) as delete:
            hsm().delete_cluster(ClusterId=cluster_id)
        with pytest.raises(ClientError) as restore:
            hsm().create_cluster(
                HsmType="hsm2m.medium",
                SubnetIds=accounts.production_subnets,
                SourceBackupId=owned["BackupArn"],
            )

    assert error_code(delete) == "CloudHsmResourceNotFoundException"
    assert error_code(restore) == "AccessDeniedException"
    [denial] = accounts.enforcer.denials
    assert denial.resource == owned["BackupArn"]
    assert accounts.vault.cluster(cluster_id)["State"] == "ACTIVE"


def test_cross_account_evaluation_needs_both_sides_and_honours_an_explicit_deny() -> None:
    """Given a recovery role and a backup of production
    When identity and resource policies allow in each combination, and one denies
    Then only both allowing allows; a Deny in the resource policy wins."""
    principal = Principal.role(f"arn:aws:iam::{RECOVERY}:role/r")
    arn = f"arn:aws:cloudhsm:{REGION}:{PRODUCTION}:backup/backup-abcdefghijk"
    allow_identity = {"Statement": [{"Effect": "Allow", "Action": "cloudhsm:*", "Resource": "*"}]}

    def resource(effect: str) -> dict[str, Any]:
        return {
            "Statement": [
                {
                    "Effect": effect,
                    "Principal": {"AWS": RECOVERY},
                    "Action": "cloudhsm:CreateCluster",
                    "Resource": arn,
                }
            ]
        }

    def decide(identity: list[dict[str, Any]], policy: dict[str, Any] | None) -> bool:
        return evaluate_cross_account(
            principal,
            "cloudhsm:CreateCluster",
            arn,
            {},
            identity_policies=identity,
            resource_policy=policy,
        ).allowed

    assert decide([allow_identity], resource("Allow"))
    assert not decide([], resource("Allow"))
    assert not decide([allow_identity], None)
    assert not decide([allow_identity], resource("Deny"))


def test_a_bound_client_calls_in_its_account_unless_a_principal_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given a client bound to the recovery account, inside in_account(production)
    When it creates a queue, and again as a production role
    Then the first queue is the recovery account's and the second production's."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(), in_account(PRODUCTION):
        sqs = bind_client(boto3.client("sqs", region_name=REGION), RECOVERY)
        bound = sqs.create_queue(QueueName="bound")["QueueUrl"]
        with acting_as(Principal.role(f"arn:aws:iam::{PRODUCTION}:role/r")):
            as_role = sqs.create_queue(QueueName="as-role")["QueueUrl"]

    assert bound.split("/")[-2] == RECOVERY
    assert as_role.split("/")[-2] == PRODUCTION
