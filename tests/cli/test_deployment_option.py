"""`--deployment NAME` (or $HSMDR_DEPLOYMENT): the CLI reads the deployment's validated
config from SSM, where the stacks store it, instead of a local YAML."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from hsmdr.cli import main
from sandbox.emulator import PROFILES, CloudHsmWorld
from sandbox.network import create_network
from sandbox.session import emulated_account
from stacks.config import load_config
from stacks.config.stored import settings, stored_value
from stacks.names import config_parameter
from tests.conftest import SANDBOX_CONFIG

NAME = "hsmdr-sandbox"
CLUSTER = "cluster-sandboxprimary"


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudHsmWorld]:
    """An emulated account (moto and the CloudHSM emulator) in which the stacks stored
    the sandbox config, as they would: the same serializer, in the main region and in
    the DR region; the operator's region is the main one."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "HSMDR_DEPLOYMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    world = CloudHsmWorld(profile=PROFILES["test"])
    with emulated_account(world):
        value = stored_value(load_config(SANDBOX_CONFIG))
        for region in ("us-east-1", "us-west-2"):
            boto3.client("ssm", region_name=region).put_parameter(
                Name=config_parameter(NAME), Value=value, Type="String"
            )
        yield world


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert isinstance(document, dict)
    return code, document


def seed(account: CloudHsmWorld) -> None:
    network = create_network("us-east-1", ["us-east-1a", "us-east-1b"])
    account.seed_cluster(
        "us-east-1",
        network.subnet_ids(["us-east-1a", "us-east-1b"]),
        cluster_id=CLUSTER,
        backup_ages=[timedelta(hours=30)],
    )


def test_a_command_runs_on_the_deployed_config_without_a_yaml(
    account: CloudHsmWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(account)
    with_file = run_json(capsys, "backup", "verify", "--config", str(SANDBOX_CONFIG))
    # The same verification, the config read from SSM instead of the file
    deployed = run_json(capsys, "backup", "verify", "--deployment", NAME)
    assert deployed[0] == with_file[0] == 1
    assert [f["code"] for f in deployed[1]["findings"]] == ["BACKUP_OLDER_THAN_RPO", "COPY_MISSING"]
    assert deployed[1]["findings"] == with_file[1]["findings"]
    # also before the command, or from the environment
    assert run_json(capsys, "--deployment", NAME, "cluster", "health")[0] == 0


def test_the_environment_names_the_deployment_and_config_wins_over_it(
    account: CloudHsmWorld, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(account)
    monkeypatch.setenv("HSMDR_DEPLOYMENT", NAME)
    code, document = run_json(capsys, "config", "show")
    assert code == 0 and document["source"] == f"deployment {NAME}"
    assert document["config"] == settings(load_config(SANDBOX_CONFIG))
    monkeypatch.setenv("HSMDR_DEPLOYMENT", "some-other")  # an explicit file wins
    code, document = run_json(capsys, "config", "show", "--config", str(SANDBOX_CONFIG))
    assert code == 0 and document["source"] == str(SANDBOX_CONFIG)


def test_config_show_prints_a_config_file_that_loads_back(
    account: CloudHsmWorld, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    assert main(["config", "show", "--deployment", NAME]) == 0
    written = tmp_path / "from-ssm.yaml"
    written.write_text(capsys.readouterr().out)
    assert load_config(written) == load_config(SANDBOX_CONFIG)


def test_in_a_regional_disaster_it_is_read_in_the_dr_region(
    account: CloudHsmWorld, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("ssm", region_name="us-east-1").delete_parameter(Name=config_parameter(NAME))
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    code, document = run_json(capsys, "config", "show", "--deployment", NAME)
    assert code == 0 and document["config"]["deployment_name"] == NAME


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["config", "show", "--deployment", "nope"],
            "--deployment nope: no parameter /hsmdr/nope/config in us-east-1: check the name",
        ),
        (["config", "show", "--deployment", "bad/name"], "is not a deployment name"),
        (
            ["--deployment", NAME, "config", "show", "--config", str(SANDBOX_CONFIG)],
            "--config and --deployment: give one of them, not both",
        ),
        (
            ["config", "show", "--config", "x.yaml", "--deployment", NAME],
            "argument --deployment: not allowed with argument --config",
        ),
        (["config", "show"], "give the deployment: --config PATH (its YAML) or --deployment"),
    ],
)
def test_a_wrong_deployment_is_a_usage_error(
    argv: list[str], expected: str, account: CloudHsmWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = run_json(capsys, *argv)
    assert code == 2 and document["error"] == "usage"
    assert expected in document["message"]


def test_no_region_to_read_it_in_is_a_usage_error(
    account: CloudHsmWorld, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    code, document = run_json(capsys, "config", "show", "--deployment", NAME)
    assert code == 2 and "no AWS region to read it in: set AWS_REGION" in document["message"]


def test_a_stored_config_this_version_rejects_is_a_config_error(
    account: CloudHsmWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    data = settings(load_config(SANDBOX_CONFIG))
    data["rpo_hours"] = -1
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=config_parameter(NAME), Value=json.dumps(data), Type="String", Overwrite=True
    )
    code, document = run_json(capsys, "config", "show", "--deployment", NAME)
    assert code == 2 and document["error"] == "config"
    assert document["message"] == (
        f"ssm:{config_parameter(NAME)} in us-east-1: rpo_hours: Input should be greater than 0"
    )
