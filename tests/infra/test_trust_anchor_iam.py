"""Who may read customerCA.crt, and decrypt it when a customer key encrypts it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from stacks.config import ConfigError, parse_config
from tests.conftest import SANDBOX_CONFIG, config_data
from tests.infra.test_hsm_replacement_stack import role_statements
from tests.infra.test_on_demand_stack import actions
from tests.synthesis import synthesis

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def main_template(**restore: Any) -> dict[str, Any]:
    data = config_data()
    data["restore"].update(restore)
    return synthesis(data).template


def decrypts(template: dict[str, Any], service: str) -> list[dict[str, Any]]:
    return [s for s in role_statements(template, service) if "kms:Decrypt" in actions(s)]


def test_a_customer_key_is_decryptable_through_ssm_only_by_the_readers() -> None:
    template = main_template(trust_anchor_kms_key_arn=KEY)
    for service in ("copy-backups", "restore-cluster"):
        [statement] = [s for s in decrypts(template, service) if s["Resource"] == KEY]
        assert actions(statement) == {"kms:Decrypt"}
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}
        }
    assert not any(s["Resource"] == KEY for s in decrypts(template, "verify-backups"))


def test_without_a_customer_key_nobody_gets_decrypt_on_it() -> None:
    template = main_template()
    for service in ("copy-backups", "restore-cluster"):
        assert all(s["Resource"] != KEY for s in decrypts(template, service))


def test_a_malformed_key_arn_is_refused_with_its_field() -> None:
    data = yaml.safe_load(SANDBOX_CONFIG.read_text())
    data["restore"]["trust_anchor_kms_key_arn"] = "alias/my-key"
    with pytest.raises(ConfigError, match=r"restore\.trust_anchor_kms_key_arn"):
        parse_config(data)
