"""The key_verification config section: optional, validated, defaults."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from stacks.config import ConfigError, parse_config
from tests.conftest import SANDBOX_CONFIG

SECTION = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0"],
    "hsm_security_group_id": "sg-0123456789abcdef0",
    "crypto_user_secret_name": "hsmdr/key-verifier",
}


def config_with(**section: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SANDBOX_CONFIG.read_text())
    data["key_verification"] = {**SECTION, **section}
    return data


def test_section_is_optional() -> None:
    data = yaml.safe_load(SANDBOX_CONFIG.read_text())
    config = parse_config(data)
    assert config.key_verification is None and config.key_clusters() == []


def test_defaults_capture_daily_every_cluster_of_the_region() -> None:
    config = parse_config(config_with())
    keys = config.key_verification
    assert keys is not None
    assert keys.capture_schedule == "rate(1 day)"
    assert keys.canary_key_label == "hsmdr-canary"
    assert [c.id for c in config.key_clusters()] == ["cluster-sandboxprimary"]


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"hsm_security_group_id": "sg-nope"}, "key_verification.hsm_security_group_id"),
        ({"subnet_ids": []}, "key_verification.subnet_ids"),
        (
            {"subnet_ids": ["subnet-0123456789abcdef0"] * 2},
            "key_verification.subnet_ids: lists a subnet twice",
        ),
        ({"capture_schedule": "daily"}, "key_verification.capture_schedule"),
        (
            {"clusters": ["cluster-notprotectedab"]},
            "key_verification.clusters: ['cluster-notprotectedab'] are not protected",
        ),
        ({"timeout_minutes": 20}, "key_verification.timeout_minutes"),
        ({"surprise": 1}, "key_verification.surprise: unknown setting"),
    ],
)
def test_bad_values_are_refused_with_their_path(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(config_with(**section), "kv.yaml")
    assert problem in str(raised.value)
