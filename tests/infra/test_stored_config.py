"""The validated config each stack stores in SSM for `hsmdr --deployment NAME`: in the
main stack and every DR-region stack, readable back into the same config, on a tier
that holds it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from stacks.config import ConfigError, load_config, parse_config
from stacks.config.stored import (
    ADVANCED_LIMIT,
    COMPRESSED,
    STANDARD_LIMIT,
    config_from_stored,
    stored_value,
)
from stacks.names import config_parameter
from tests.conftest import EXAMPLE_CONFIG, REPO_ROOT, SANDBOX_CONFIG, Synthesized
from tests.infra.test_stack import resources


def config_parameters(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p["Properties"]
        for p in resources(template, "AWS::SSM::Parameter").values()
        if p["Properties"]["Name"] == config_parameter("hsmdr-sandbox")
    ]


def test_every_stack_stores_the_validated_config(synthesized: Synthesized) -> None:
    config = load_config(SANDBOX_CONFIG)
    assert set(synthesized.templates) == {"hsmdr-sandbox", "hsmdr-sandbox-dr-us-west-2"}
    for name, template in synthesized.templates.items():
        [parameter] = config_parameters(template)
        assert parameter["Type"] == "String", name
        # standard while it fits in 4 KB, advanced (8 KB) only when not, never refused
        assert parameter["Tier"] == "Intelligent-Tiering", name
        assert isinstance(parameter["Value"], str), name  # no token: readable as is
        assert config_from_stored(parameter["Value"], name) == config


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("sandbox.yaml", STANDARD_LIMIT),  # the free tier
        ("example.yaml", STANDARD_LIMIT),
        # every option set at once (DR-region key verifiers included) outgrows 4 KB:
        # Intelligent-Tiering stores it as an advanced parameter, still plain JSON
        ("all-options.yaml", ADVANCED_LIMIT),
    ],
)
def test_the_shipped_configs_round_trip_as_plain_json(path: str, limit: int) -> None:
    config = load_config(REPO_ROOT / "config" / path)
    value = stored_value(config)
    assert value.startswith("{") and len(value) <= limit
    assert config_from_stored(value, path) == config


def cluster_id(index: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"  # CloudHSM ids are base32
    return "cluster-" + "".join(alphabet[(index >> (5 * k)) & 31] for k in range(11))


def many_clusters(count: int) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    template = data["protected_clusters"][0]
    data["protected_clusters"] = [
        {**template, "id": cluster_id(index), "name": f"cluster number {index}"}
        for index in range(count)
    ]
    data.pop("drills", None)
    data.pop("key_verification", None)
    return data


def test_a_config_too_large_for_an_advanced_parameter_is_stored_compressed() -> None:
    config = parse_config(many_clusters(60))
    value = stored_value(config)
    assert value.startswith(COMPRESSED) and len(value) <= ADVANCED_LIMIT
    assert config_from_stored(value, "big") == config


def test_a_config_that_does_not_fit_even_compressed_is_refused_at_synthesis() -> None:
    import random

    data = many_clusters(1)
    # contacts with random addresses: nothing for compression to share
    rng = random.Random(7)
    names = [f"c{i}" for i in range(400)]
    data["escalation"]["contacts"] = [
        {"name": n, "email": f"{rng.getrandbits(64):x}@{rng.getrandbits(32):x}.example"}
        for n in names
    ]
    data["escalation"]["severities"]["page"]["contacts"] = names[:1]
    data["escalation"]["severities"]["page"]["escalate_to"] = names[1:2]
    data["escalation"]["severities"]["notify"]["contacts"] = names[2:3]
    with pytest.raises(ConfigError, match="more than the 8192 bytes an SSM parameter holds"):
        stored_value(parse_config(data))


def test_a_stored_value_that_is_not_a_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ssm: not JSON"):
        config_from_stored("not json", "ssm")
    with pytest.raises(ConfigError, match="ssm: the compressed value does not unpack"):
        config_from_stored(COMPRESSED + "AAAA", "ssm")
    with pytest.raises(ConfigError, match="ssm: rpo_hours"):
        config_from_stored('{"rpo_hours": -1}', "ssm")
