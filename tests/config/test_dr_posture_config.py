"""protected_clusters[].dr_posture: cold by default, pilot-light or warm-standby only in
a DR region with restore subnets, carried to the functions' environment."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from lambdas.shared.protected import ProtectedCluster
from stacks.config import ConfigError, parse_config
from tests.conftest import SANDBOX_CONFIG


def config_with(posture: dict[str, str], **top: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SANDBOX_CONFIG.read_text())
    data["protected_clusters"][0]["dr_posture"] = posture
    data.update(top)
    return data


def test_cold_everywhere_by_default() -> None:
    config = parse_config(yaml.safe_load(SANDBOX_CONFIG.read_text()))
    cluster = config.protected_clusters[0].runtime()
    assert cluster.posture("us-west-2") == "cold"
    assert config.pilot_light("us-west-2") == []
    assert "dr_posture" not in cluster.to_dict()


def test_pilot_light_round_trips_to_the_functions() -> None:
    data = config_with({"us-west-2": "pilot-light"})
    data.setdefault("restore", {}).setdefault("subnets", {})["us-west-2"] = [
        "subnet-0c1d2e3f4a5b60738"
    ]
    config = parse_config(data)
    assert [c.id for c in config.pilot_light("us-west-2")] == [config.protected_clusters[0].id]
    runtime = config.protected_clusters[0].runtime()
    assert ProtectedCluster.from_dict(runtime.to_dict()) == runtime
    assert runtime.pilot_light_regions() == ("us-west-2",)


def test_warm_standby_round_trips_and_keeps_a_standby() -> None:
    data = config_with({"us-west-2": "warm-standby"})
    data.setdefault("restore", {}).setdefault("subnets", {})["us-west-2"] = [
        "subnet-0c1d2e3f4a5b60738"
    ]
    config = parse_config(data)
    ids = [config.protected_clusters[0].id]
    assert [c.id for c in config.warm_standby("us-west-2")] == ids
    assert [c.id for c in config.standbys("us-west-2")] == ids
    assert config.pilot_light("us-west-2") == []
    runtime = config.protected_clusters[0].runtime()
    assert ProtectedCluster.from_dict(runtime.to_dict()) == runtime
    assert runtime.posture("us-west-2") == "warm-standby"
    assert runtime.standby_regions() == ("us-west-2",)
    assert runtime.pilot_light_regions() == ()


@pytest.mark.parametrize(
    ("posture", "problem"),
    [
        ({"eu-west-1": "cold"}, "dr_posture.eu-west-1: eu-west-1 is not one of dr_regions"),
        ({"us-west-2": "hot"}, "dr_posture.us-west-2: Input should be 'cold', 'pilot-light' "
         "or 'warm-standby'"),
        ({"us-west-2": "pilot-light"}, "pilot-light creates its standby cluster in "
         "restore.subnets.us-west-2, which is not set"),
        ({"us-west-2": "warm-standby"}, "warm-standby creates its standby cluster in "
         "restore.subnets.us-west-2, which is not set"),
    ],
)  # fmt: skip
def test_refused(posture: dict[str, str], problem: str) -> None:
    data = config_with(posture)
    data.get("restore", {}).get("subnets", {}).pop("us-west-2", None)
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert any(problem in p for p in error.value.problems), error.value.problems
