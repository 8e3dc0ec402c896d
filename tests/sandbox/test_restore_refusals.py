"""The restore refuses bad input, and backups it cannot use, before it creates anything.

Every test here only reads the world, so they share one sandbox whose protected
cluster was lost (a module-scoped fixture: deploying is the slow part)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sandbox.restore_scenarios import subnets
from sandbox.session import Sandbox
from tests.conftest import Synthesized
from tests.sandbox.restore_support import (
    EAST,
    SOURCE,
    WEST,
    assert_refused,
    disaster,
    live_clusters,
    newest_original,
    restore,
)


@pytest.fixture(scope="module")
def sandbox(synthesized: Synthesized) -> Iterator[Sandbox]:
    lost = disaster(synthesized)
    yield lost
    lost.__exit__(None, None, None)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"source_cluster_id": "cluster-bad!"}, "InvalidInput", "is not a CloudHSM id"),
        ({"source_cluster_id": None, "backup_id": "backup-1"}, "InvalidInput", "backup_id"),
        ({"source_cluster_id": None}, "InvalidInput", "give source_cluster_id"),
        ({"restore_id": "no spaces"}, "InvalidInput", "restore_id"),
        ({"hsm_count": 0}, "InvalidInput", "hsm_count"),
        (
            {"source_cluster_id": None, "backup_id": "backup-unknownunkno"},
            "BackupNotFound",
            "backup-unknownunkno not found in us-east-1",
        ),
        ({"subnet_ids": None}, "InvalidInput", "restore.subnets.us-east-1"),
        (
            {"source_cluster_id": "cluster-nobackupsyet"},
            "BackupNotFound",
            "no backup of cluster-nobackupsyet",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_created(
    sandbox: Sandbox, fields: dict[str, Any], error: str, message: str
) -> None:
    assert_refused(sandbox, restore(sandbox, **fields), error, message)


def test_subnets_not_one_per_az_are_refused(sandbox: Sandbox) -> None:
    network = sandbox.networks[EAST]
    ec2 = boto3.client("ec2", region_name=EAST)
    extra = ec2.create_subnet(
        VpcId=network.vpc_id, CidrBlock="10.0.9.0/24", AvailabilityZone="us-east-1a"
    )["Subnet"]["SubnetId"]
    report = restore(sandbox, subnet_ids=[network.subnets["us-east-1a"], extra])
    assert_refused(sandbox, report, "InvalidInput", "both in us-east-1a", "one subnet per")


def test_a_backup_from_another_region_without_a_copy_names_the_copy_command(
    sandbox: Sandbox,
) -> None:
    # The backups made as the cluster was lost were never copied to us-west-2.
    backup_id = newest_original(sandbox)
    report = restore(sandbox, region=WEST, source_cluster_id=None, backup_id=backup_id)
    assert report["execution_arn"].split(":")[3] == WEST  # refused by the DR stack
    assert report["status"] == "FAILED" and report["error"] == "BackupNotInRegion"
    assert f"{backup_id} is in us-east-1, not in us-west-2" in report["cause"]
    assert "copy-backup-to-region --region us-east-1" in report["cause"]
    assert live_clusters(sandbox, WEST) == []


def test_the_config_subnets_are_used_when_the_input_has_none(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sandbox's subnet ids exist only once it runs, so the config cannot name them:
    # the step reads settings whose restore.subnets are this sandbox's.
    from lambdas.restore.handler import identify
    from lambdas.restore.settings import RestoreSettings
    from lambdas.shared.env import Env

    function = sandbox.deployment.function("restore-cluster")
    for name, value in function.environment.items():
        monkeypatch.setenv(name, value)
    settings = RestoreSettings.from_env()
    configured = {**settings.subnets, EAST: tuple(subnets(sandbox, EAST)[:2])}
    monkeypatch.setenv(
        Env.RESTORE_SETTINGS,
        RestoreSettings(**{**settings.__dict__, "subnets": configured}).to_env()[
            Env.RESTORE_SETTINGS
        ],
    )
    monkeypatch.setenv("AWS_REGION", EAST)
    job = identify({"input": {"source_cluster_id": SOURCE}, "execution_name": "manual-1"})
    assert job["plan"]["zones"] == ["us-east-1a", "us-east-1b"]
    assert job["plan"]["subnet_ids"] == list(configured[EAST])
    assert job["plan"]["hsm_count"] == 2  # the config's hsms_per_az
    assert sandbox.world.api_calls["CreateCluster"] == 0
