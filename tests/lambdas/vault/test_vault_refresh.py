"""The vault refresh's steps against the CloudHSM emulator with two accounts: production
shares its newest backup, the recovery account restores it into a vault cluster, adds
and removes one HSM, and tags the backup that makes as the vault's. The steps are driven
in the order the state machine runs them (stacks/constructs/vault/workflow.py); each
wait is the emulator settling, never the wall clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from lambdas.backups.share_job import share_backups
from lambdas.backups.share_ram import RamShares
from lambdas.backups.share_settings import ShareSettings
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.vault_tags import VAULT_KEY
from lambdas.vault import steps
from lambdas.vault.handler import after_stopped, run_step
from lambdas.vault.plan import REFRESH_KEY, NotOurVaultCluster, created_tag
from lambdas.vault.settings import VAULT_VERIFIER_SECURITY_GROUP, VaultSettings
from sandbox.emulator import PROFILES, CloudHsmWorld, install
from tests.emulator.helpers import client, make_network, seed

DEPLOYMENT = "hsmdr-test"
RECOVERY = "210987654321"
REGION = "us-east-1"
IN_TRANSIT = ("CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS")


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudHsmWorld]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    world = CloudHsmWorld(profile=PROFILES["test"], rng_seed=7)
    with mock_aws(), install(world):
        world.add_account(RECOVERY)
        yield world


def as_recovery(service: str, region: str = REGION) -> Any:
    credentials = client("sts", region).assume_role(
        RoleArn=f"arn:aws:iam::{RECOVERY}:role/vault", RoleSessionName="vault"
    )["Credentials"]
    return client(
        service,
        region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def recovery_subnets() -> list[str]:
    ec2 = as_recovery("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate((f"{REGION}a", f"{REGION}b"))
    ]


class Vault:
    """The recovery account's side: settings, gateways, and the steps in order."""

    def __init__(self, world: CloudHsmWorld, cluster_id: str, **settings: Any) -> None:
        self.world = world
        self.settings = VaultSettings(
            deployment_name=DEPLOYMENT,
            region=REGION,
            cluster_ids=(cluster_id,),
            subnet_ids=tuple(recovery_subnets()),
            poll_seconds=1,
            **settings,
        )
        self.hsm = as_recovery("cloudhsmv2")

    def gateway_for(self, region: str) -> CloudHsmGateway:
        return CloudHsmGateway(self.hsm if region == REGION else as_recovery("cloudhsmv2", region))

    def step(self, name: str, **event: Any) -> dict[str, Any]:
        return run_step({"step": name, **event}, self.settings, self.gateway_for, datetime.now(UTC))

    def refresh(self, execution: str = "arn:aws:states:us-east-1:1:execution:vault:run-1") -> Any:
        """The state machine's path: plan, then per refresh the cluster and HSM loops."""
        planned = self.step("plan", execution=execution)
        jobs = []
        for refresh in planned["refreshes"]:
            job = self.step(
                "create_cluster", job={"plan": planned["plan"], "refresh": refresh, "run": {}}
            )
            while job["run"]["cluster"]["status"] != "ACTIVE":
                self.world.settle()
                job = self.step("check_cluster", job=job)
            job = self.hsm_loop(job)
            while job["run"].get("backup", {}).get("status") != "READY":
                job = self.step("tag_backup", job=job)
                self.world.settle()
            jobs.append(self.step("finish_cluster", job=job))
        return planned, jobs

    def hsm_loop(self, job: dict[str, Any]) -> dict[str, Any]:
        while True:
            job = self.step("plan_hsm", job=job)
            action = job["run"]["next"]
            if action == "done":
                return job
            if action == "create":
                job = self.step("create_hsm", job=job)
            elif action in ("discard", "remove"):
                job = self.step("delete_hsm", job=job)
            self.world.settle()
            job = self.step("check_hsm", job=job)


@pytest.fixture
def shared(world: CloudHsmWorld) -> tuple[str, str]:
    """A production cluster whose newest backup production's share job shared (policy,
    then the RAM share's promotion, without which the vault would not list it)."""
    cluster_id = seed(world, make_network(REGION), hours=(2, 26))
    settings = ShareSettings(DEPLOYMENT, RECOVERY, ((cluster_id, REGION),), ())
    result = share_backups(
        settings,
        lambda r: CloudHsmGateway(client("cloudhsmv2", r)),
        lambda r: RamShares(client("ram", r)),
    )
    assert result.status == "SUCCEEDED", result.to_dict()
    arn = next(
        b["BackupArn"]
        for b in client("cloudhsmv2", REGION).describe_backups(SortAscending=False)["Backups"]
        if b["BackupId"] == result.shared[0]
    )
    return cluster_id, arn


def test_refresh_makes_a_vault_backup_the_recovery_account_owns(
    world: CloudHsmWorld, shared: tuple[str, str]
) -> None:
    cluster_id, arn = shared
    vault = Vault(world, cluster_id)
    planned, (job,) = vault.refresh()
    assert [r["shared_arn"] for r in planned["refreshes"]] == [arn]
    run = job["run"]
    # The vault backup is the recovery account's and tagged as the vault's
    owned = vault.hsm.describe_backups(Filters={"backupIds": [run["backup"]["backup_id"]]})
    (backup,) = owned["Backups"]
    assert backup["BackupArn"].split(":")[4] == RECOVERY
    tags = {t["Key"]: t["Value"] for t in backup["TagList"]}
    assert tags[VAULT_KEY] == DEPLOYMENT
    assert tags["hsmdr:source-backup"] == arn
    assert tags["hsmdr:source-cluster"] == cluster_id
    # and says when production made the backup it holds: the vault's data age
    (source,) = client("cloudhsmv2", REGION).describe_backups(
        Filters={"backupIds": [arn.rsplit("/", 1)[1]]}
    )["Backups"]
    assert tags["hsmdr:source-created"] == created_tag(source["CreateTimestamp"])
    # The vault cluster is kept, with no HSM left (no HSM charge)
    (cluster,) = vault.hsm.describe_clusters(Filters={"clusterIds": [run["cluster_id"]]})[
        "Clusters"
    ]
    assert cluster["Hsms"] == []
    assert job["run"]["cluster_kept"] is True
    # The HSM's billed life is on record: created, removed, then seen gone
    created, removed, gone = (
        datetime.fromisoformat(run[k]) for k in ("hsm_created_at", "removed_at", "hsm_gone_at")
    )
    assert created <= removed <= gone
    # Nothing newer is shared: the next plan has nothing to do
    assert vault.step("plan", execution="run-2")["refreshes"] == []


def test_delete_mode_deletes_the_vault_cluster_after_its_backup(
    world: CloudHsmWorld, shared: tuple[str, str]
) -> None:
    cluster_id, _ = shared
    vault = Vault(world, cluster_id, vault_cluster="delete")
    _, (job,) = vault.refresh()
    world.settle()
    found = vault.hsm.describe_clusters(Filters={"clusterIds": [job["run"]["cluster_id"]]})
    assert [c["State"] for c in found["Clusters"]] in ([], ["DELETED"])
    assert vault.step("plan", execution="run-2")["refreshes"] == []


def test_cleanup_deletes_only_the_hsm_this_refresh_created(
    world: CloudHsmWorld, shared: tuple[str, str]
) -> None:
    cluster_id, _ = shared
    vault = Vault(world, cluster_id)
    planned = vault.step("plan", execution="run-1")
    job = vault.step(
        "create_cluster",
        job={"plan": planned["plan"], "refresh": planned["refreshes"][0], "run": {}},
    )
    world.settle()
    job = vault.step("check_cluster", job=job)
    job = vault.step("create_hsm", job=vault.step("plan_hsm", job=job))
    hsm_id = job["run"]["hsm_id"]
    world.settle()
    # Another execution's job naming the same cluster is refused: the tags say run-1
    other = {**job, "plan": {**job["plan"], "refresh_id": "run-2"}}
    assert vault.step("cleanup", job=other)["deleted_hsm"] is None
    with pytest.raises(NotOurVaultCluster):
        vault.step("delete_hsm", job=other)
    # This execution's clean-up deletes the HSM it recorded
    assert vault.step("cleanup", job=job)["deleted_hsm"] == hsm_id
    world.settle()
    (cluster,) = vault.hsm.describe_clusters(Filters={"clusterIds": [job["run"]["cluster_id"]]})[
        "Clusters"
    ]
    assert cluster["Hsms"] == []
    tags = vault.hsm.list_tags(ResourceId=cluster["ClusterId"])["TagList"]
    assert {"Key": REFRESH_KEY, "Value": "run-1"} in tags


def test_maintain_copies_the_newest_vault_backup_to_the_vault_dr_region(
    world: CloudHsmWorld, shared: tuple[str, str]
) -> None:
    cluster_id, _ = shared
    vault = Vault(world, cluster_id, dr_regions=("us-west-2",))
    _, (job,) = vault.refresh()
    result = vault.step("maintain")
    assert result["copied"] == [
        {"backup_id": job["run"]["backup"]["backup_id"], "region": "us-west-2"}
    ]
    world.settle()
    assert vault.step("maintain")["copied"] == []  # the copy is there now


def test_unknown_step_and_missing_job_are_refused(world: CloudHsmWorld) -> None:
    vault = Vault(world, "cluster-abcdefghijk")
    from lambdas.shared.errors import InvalidInput

    with pytest.raises(InvalidInput, match="step"):
        vault.step("explode")
    with pytest.raises(InvalidInput, match="job"):
        vault.step("check_hsm")


def test_maintain_marks_a_golden_vault_backup(
    world: CloudHsmWorld, shared: tuple[str, str]
) -> None:
    cluster_id, _ = shared
    vault = Vault(world, cluster_id, golden_enabled=True, golden_period="monthly", golden_keep=2)
    _, (job,) = vault.refresh()
    backup_id = job["run"]["backup"]["backup_id"]
    result = vault.step("maintain")
    assert result["golden"] == [{"backup_id": backup_id, "action": "mark"}]
    (backup,) = vault.hsm.describe_backups(Filters={"backupIds": [backup_id]})["Backups"]
    assert backup["NeverExpires"] is True
    assert "hsmdr:golden" in {t["Key"] for t in backup["TagList"]}


class FakeStates:
    """Step Functions' answers about one stopped execution whose last job is `job`."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"input": "{}"}

    def get_paginator(self, name: str) -> Any:
        job = self.job

        class Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                output = json.dumps({"job": job})
                return [{"events": [{"id": 7, "stateExitedEventDetails": {"output": output}}]}]

        return Pages()


def test_a_stopped_refresh_cleans_up_the_hsm_it_created(
    world: CloudHsmWorld, shared: tuple[str, str]
) -> None:
    cluster_id, _ = shared
    vault = Vault(world, cluster_id)
    planned = vault.step("plan", execution="run-1")
    job = vault.step(
        "create_cluster",
        job={"plan": planned["plan"], "refresh": planned["refreshes"][0], "run": {}},
    )
    world.settle()
    job = vault.step(
        "create_hsm", job=vault.step("plan_hsm", job=vault.step("check_cluster", job=job))
    )
    world.settle()
    event = {"detail": {"executionArn": "arn:aws:states:us-east-1:1:execution:v:run-1",
                        "status": "TIMED_OUT"}}  # fmt: skip
    result = after_stopped(event, vault.settings, vault.gateway_for, FakeStates(job))
    assert result["cleanup"]["deleted_hsm"] == job["run"]["hsm_id"]
    world.settle()
    (cluster,) = vault.hsm.describe_clusters(Filters={"clusterIds": [job["run"]["cluster_id"]]})[
        "Clusters"
    ]
    assert cluster["Hsms"] == []


def hsm_rules(ec2: Any, group_id: str, *, egress: bool = False) -> list[str]:
    """The other groups a security group's TCP 2223-2225 rules name (a cluster's group
    admits its own members: CloudHSM's rule, not ours)."""
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    rules = group["IpPermissionsEgress" if egress else "IpPermissions"]
    return sorted(
        pair["GroupId"]
        for rule in rules
        if rule.get("FromPort") == 2223 and rule.get("ToPort") == 2225
        for pair in rule.get("UserIdGroupPairs", [])
        if pair["GroupId"] != group_id
    )


def hsm_created_with_a_verifier(
    world: CloudHsmWorld, cluster_id: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Vault, Any, str, dict[str, Any]]:
    """A refresh up to its HSM's creation (settled), with the vault verifier's group in
    the vault VPC: the vault, the recovery account's EC2 client, that group, the job."""
    vault = Vault(world, cluster_id)
    ec2 = as_recovery("ec2")
    monkeypatch.setattr(steps, "_ec2", lambda region: ec2)
    vpc_id = ec2.describe_subnets(SubnetIds=[vault.settings.subnet_ids[0]])["Subnets"][0]["VpcId"]
    verifier = ec2.create_security_group(GroupName="verifier", Description="v", VpcId=vpc_id)[
        "GroupId"
    ]
    monkeypatch.setenv(VAULT_VERIFIER_SECURITY_GROUP, verifier)
    planned = vault.step("plan", execution="run-1")
    job = vault.step(
        "create_cluster",
        job={"plan": planned["plan"], "refresh": planned["refreshes"][0], "run": {}},
    )
    world.settle()
    job = vault.step("check_cluster", job=job)
    job = vault.step("create_hsm", job=vault.step("plan_hsm", job=job))
    world.settle()
    return vault, ec2, verifier, job


def test_the_capture_network_opens_to_the_verifier_only_and_is_revoked_after(
    world: CloudHsmWorld, shared: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a refresh whose HSM is ACTIVE and the vault verifier's group in the vault VPC
    cluster_id, _ = shared
    vault, ec2, verifier, job = hsm_created_with_a_verifier(world, cluster_id, monkeypatch)
    job = vault.step("plan_hsm", job=vault.step("check_hsm", job=job))
    assert job["run"]["next"] == "remove"
    # Another execution's job naming this cluster opens nothing
    other = {**job, "plan": {**job["plan"], "refresh_id": "run-2"}}
    with pytest.raises(NotOurVaultCluster):
        vault.step("open_capture_network", job=other)
    # When this refresh opens the way in
    job = vault.step("open_capture_network", job=job)
    network = job["run"]["capture_network"]
    group = network["cluster_security_group"]
    # Then the cluster's group admits the verifier's, the verifier's reaches it, HSM
    # ports only, and the HSM's address is handed to the capture
    assert network["status"] == "OPEN" and network["hsm_ips"]
    assert hsm_rules(ec2, group) == [verifier]
    assert hsm_rules(ec2, verifier, egress=True) == [group]
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [group]}])["Tags"]
    assert {(t["Key"], t["Value"]) for t in tags} >= {(REFRESH_KEY, "run-1")}
    # When the capture failed, its record keeps the finding and revokes both rules
    failure = {"Error": "KeyManifestCaptureFailed", "Cause": "HsmUnreachable: no slot"}
    recorded = vault.step("record_capture", job=job, capture_error=failure)
    assert recorded["run"]["keys"]["code"] == "VAULT_KEYS_NOT_CAPTURED"
    assert recorded["run"]["capture_network"]["status"] == "CLOSED"
    assert hsm_rules(ec2, group) == [] and hsm_rules(ec2, verifier, egress=True) == []
    # And the refresh goes on: the HSM is removed, which makes the vault backup
    job = vault.step("delete_hsm", job=recorded)
    world.settle()
    job = vault.step("plan_hsm", job=vault.step("check_hsm", job=job))
    assert job["run"]["next"] == "done"


def test_the_cleanup_revokes_a_capture_network_left_open(
    world: CloudHsmWorld, shared: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster_id, _ = shared
    vault, ec2, verifier, job = hsm_created_with_a_verifier(world, cluster_id, monkeypatch)
    job = vault.step("open_capture_network", job=vault.step("check_hsm", job=job))
    group = job["run"]["capture_network"]["cluster_security_group"]
    # Given a failure right after the way in was opened (the Catch runs the clean-up)
    cleaned = vault.step("cleanup", job=job)
    # Then the rules are gone and so is the HSM
    assert cleaned["deleted_hsm"] == job["run"]["hsm_id"]
    assert hsm_rules(ec2, group) == [] and hsm_rules(ec2, verifier, egress=True) == []
