"""The restore's input: every field checked before anything is read or created."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.restore.request import parse_request, subnets_for
from lambdas.restore.settings import RestoreSettings
from lambdas.shared.errors import InvalidInput

SETTINGS = RestoreSettings(
    primary_region="us-east-1",
    dr_regions=("us-west-2",),
    subnets={"us-west-2": ("subnet-0a0a0a0a", "subnet-0b0b0b0b")},
    poll_seconds=30,
)
SOURCE = "cluster-igklspoyj5v"


def parse(**fields: Any) -> Any:
    return parse_request(fields, SETTINGS, "us-east-1", "exec-name-1")


def test_defaults_come_from_the_stack_region_the_config_and_the_execution_name() -> None:
    request = parse(source_cluster_id=SOURCE)
    assert request.region == "us-east-1"
    assert request.restore_id == "exec-name-1"
    assert request.poll_seconds == 30
    assert request.subnet_ids is None and request.hsm_count is None


def test_every_field_is_taken_when_valid() -> None:
    request = parse(
        backup_id="backup-ro3lw6tr2lk",
        source_cluster_id=SOURCE,
        region="us-west-2",
        subnet_ids=["subnet-0a0a0a0a"],
        hsm_count=3,
        poll_seconds=5,
        restore_id="dr-2026-11-26",
    )
    assert request.to_dict() == {
        "region": "us-west-2",
        "restore_id": "dr-2026-11-26",
        "poll_seconds": 5,
        "source_cluster_id": SOURCE,
        "backup_id": "backup-ro3lw6tr2lk",
        "subnet_ids": ["subnet-0a0a0a0a"],
        "hsm_count": 3,
    }


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({}, "source_cluster_id", "give source_cluster_id"),
        ({"source_cluster_id": "cluster-bad!"}, "source_cluster_id", "is not a CloudHSM id"),
        ({"backup_id": "backup-1"}, "backup_id", "is not a CloudHSM id"),
        ({"backup_id": 7}, "backup_id", "is not a CloudHSM id"),
        ({"source_cluster_id": SOURCE, "region": "mars-1"}, "region", "not an AWS region"),
        ({"source_cluster_id": SOURCE, "restore_id": "a b"}, "restore_id", "does not match"),
        ({"source_cluster_id": SOURCE, "subnet_ids": "subnet-0a0a0a0a"}, "subnet_ids", "list"),
        ({"source_cluster_id": SOURCE, "subnet_ids": []}, "subnet_ids", "list"),
        ({"source_cluster_id": SOURCE, "subnet_ids": ["sn-1"]}, "subnet_ids", "list"),
        (
            {"source_cluster_id": SOURCE, "subnet_ids": ["subnet-0a0a0a0a"] * 2},
            "subnet_ids",
            "lists a subnet twice",
        ),
        ({"source_cluster_id": SOURCE, "hsm_count": 0}, "hsm_count", "from 1 to 28"),
        ({"source_cluster_id": SOURCE, "hsm_count": 29}, "hsm_count", "from 1 to 28"),
        ({"source_cluster_id": SOURCE, "hsm_count": True}, "hsm_count", "from 1 to 28"),
        ({"source_cluster_id": SOURCE, "poll_seconds": 0}, "poll_seconds", "from 1 to 3600"),
        ({"source_cluster_id": SOURCE, "cluster": SOURCE}, "input", "unknown field(s) ['cluster']"),
    ],
)
def test_bad_input_names_the_field(fields: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse(**fields)
    assert refused.value.field == field
    assert message in refused.value.problem


def test_input_must_be_an_object() -> None:
    with pytest.raises(InvalidInput, match="input: must be a JSON object"):
        parse_request(["cluster"], SETTINGS, "us-east-1", "x")


def test_subnets_given_win_over_the_config() -> None:
    request = parse(source_cluster_id=SOURCE, region="us-west-2", subnet_ids=["subnet-0c0c0c0c"])
    assert subnets_for(request, SETTINGS) == ("subnet-0c0c0c0c",)


def test_subnets_default_to_the_config_for_the_target_region() -> None:
    request = parse(source_cluster_id=SOURCE, region="us-west-2")
    assert subnets_for(request, SETTINGS) == ("subnet-0a0a0a0a", "subnet-0b0b0b0b")


def test_no_subnets_for_the_region_is_refused_naming_the_config_key() -> None:
    request = parse(source_cluster_id=SOURCE, region="us-east-1")
    with pytest.raises(InvalidInput) as refused:
        subnets_for(request, SETTINGS)
    assert refused.value.field == "subnet_ids"
    assert "restore.subnets.us-east-1" in refused.value.problem


def test_settings_round_trip_through_the_environment() -> None:
    env = SETTINGS.to_env()
    assert RestoreSettings.from_env(env) == SETTINGS
    assert SETTINGS.regions == ("us-east-1", "us-west-2")
