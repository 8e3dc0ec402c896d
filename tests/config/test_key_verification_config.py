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


REGIONAL = {
    "vpc_id": "vpc-0fedcba9876543210",
    "subnet_ids": ["subnet-0fedcba9876543210"],
    "hsm_security_group_id": "sg-0fedcba9876543210",
}


def test_no_regional_verifier_by_default() -> None:
    config = parse_config(config_with())
    assert config.key_verification is not None and config.key_verification.regions == {}
    assert config.regional_verifier(config.dr_regions[0]) is None


def test_a_dr_region_gets_a_regional_verifier() -> None:
    data = config_with()
    dr = data["dr_regions"][0]
    config = parse_config(config_with(regions={dr: REGIONAL}))
    verifier = config.regional_verifier(dr)
    assert verifier is not None and verifier.vpc_id == "vpc-0fedcba9876543210"
    assert config.regional_verifier(config.region) is None


@pytest.mark.parametrize(
    ("regional", "problem"),
    [
        ({"subnet_ids": []}, "key_verification.regions.{dr}.subnet_ids"),
        ({"hsm_security_group_id": "sg-x"}, "key_verification.regions.{dr}.hsm_security_group_id"),
        ({"surprise": 1}, "key_verification.regions.{dr}.surprise: unknown setting"),
        (
            {"secret_kms_key_arn": "arn:aws:kms:us-east-1:111122223333:key/abcd"},
            "key_verification.regions.{dr}.secret_kms_key_arn: the key is in us-east-1",
        ),
    ],
)
def test_bad_regional_values_name_their_field(regional: dict[str, Any], problem: str) -> None:
    dr = config_with()["dr_regions"][0]
    with pytest.raises(ConfigError) as raised:
        parse_config(config_with(regions={dr: {**REGIONAL, **regional}}), "kv.yaml")
    assert problem.format(dr=dr) in str(raised.value)


def test_only_dr_regions_get_a_regional_verifier() -> None:
    data = config_with()
    for region in (data["region"], "ap-south-1"):
        with pytest.raises(ConfigError) as raised:
            parse_config(config_with(regions={region: REGIONAL}), "kv.yaml")
        assert f"key_verification.regions.{region}: {region} is not one of dr_regions" in str(
            raised.value
        )
