"""Fixtures: a fresh emulated world on the "test" profile inside moto, with a VPC."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from moto import mock_aws

from sandbox.emulator import PROFILES, CloudHsmWorld, install
from tests.emulator.helpers import DR_REGION, REGION, Network, client, make_network
from tests.softhsm_support import key_store, softhsm  # noqa: F401 - fixtures for the key tests


@pytest.fixture
def world() -> CloudHsmWorld:
    return CloudHsmWorld(profile=PROFILES["test"], rng_seed=7)


@pytest.fixture
def aws(world: CloudHsmWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudHsmWorld]:
    # moto's EC2 backend otherwise loads thousands of default AMIs per region per test.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws(), install(world):
        yield world


@pytest.fixture
def network(aws: CloudHsmWorld) -> Network:
    return make_network(REGION)


@pytest.fixture
def dr_network(aws: CloudHsmWorld) -> Network:
    return make_network(DR_REGION, cidr_prefix="10.1")


@pytest.fixture
def hsm(aws: CloudHsmWorld) -> Any:
    return client("cloudhsmv2", REGION)


@pytest.fixture
def hsm_dr(aws: CloudHsmWorld) -> Any:
    return client("cloudhsmv2", DR_REGION)


@pytest.fixture
def raw_hsm(aws: CloudHsmWorld) -> Any:
    """Like Step Functions' clients: no client-side validation and no retries."""
    return client(
        "cloudhsmv2",
        REGION,
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def no_retry_hsm(aws: CloudHsmWorld) -> Any:
    return client("cloudhsmv2", REGION, config=Config(retries={"total_max_attempts": 1}))
