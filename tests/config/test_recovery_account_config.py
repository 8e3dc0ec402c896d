"""recovery_account: the vault's account, region, subnets and schedule are checked before
anything is synthesized, and each error names its field."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from stacks.config import ConfigError, parse_config
from tests.conftest import SANDBOX_CONFIG

RECOVERY = "210987654321"
SUBNETS = {"us-east-1": ["subnet-0a1b2c3d4e5f60718", "subnet-0b1c2d3e4f5a60728"]}


def config_with(**vault: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SANDBOX_CONFIG.read_text())
    data["recovery_account"] = {"account": RECOVERY, "subnets": SUBNETS, **vault}
    return data


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    return error.value.problems


def test_defaults_follow_the_deployment() -> None:
    # Given only an account and the vault region's subnets
    config = parse_config(config_with())
    vault = config.recovery_account
    assert vault is not None
    # Then the vault is in the deployment's region, twice its RPO, daily, keeping clusters
    assert vault.region == "us-east-1"
    assert vault.rpo_hours == 2 * config.rpo_hours
    assert vault.refresh_schedule == "rate(1 day)"
    assert vault.silent_after_hours == 48
    assert vault.vault_cluster == "keep"
    assert vault.dr_regions == []
    assert config.vault_config().escalation == config.escalation


def test_unset_deploys_no_vault() -> None:
    data: dict[str, Any] = yaml.safe_load(SANDBOX_CONFIG.read_text())
    assert parse_config(data).recovery_account is None


def test_own_escalation_replaces_the_deployments_for_the_vault() -> None:
    escalation = {
        "contacts": [{"name": "vault-oncall", "email": "vault@example.com"}],
        "severities": {
            "page": {
                "contacts": ["vault-oncall"],
                "escalate_after_minutes": 30,
                "escalate_to": ["vault-oncall"],
            },
            "notify": {"contacts": ["vault-oncall"]},
        },
    }
    config = parse_config(config_with(escalation=escalation))
    assert [c.name for c in config.vault_config().escalation.contacts] == ["vault-oncall"]
    assert config.escalation.contacts[0].name != "vault-oncall"


@pytest.mark.parametrize(
    ("vault", "top", "problem"),
    [
        ({"account": "12345"}, {}, "recovery_account.account: '12345' does not match"),
        ({"account": "123456789012"}, {}, "recovery_account.account: 123456789012 is the "
         "deployment's own account"),
        ({}, {"account": None}, "account: required with recovery_account"),
        ({"subnets": {}}, {}, "recovery_account.subnets: none for us-east-1, the vault region"),
        ({"region": "us-west-2"}, {}, "recovery_account.subnets: none for us-west-2"),
        ({"region": "eu-west-1", "subnets": {"eu-west-1": ["subnet-0c1d2e3f4a5b60738"]}}, {},
         "recovery_account.region: eu-west-1 holds no backup of protected_clusters.0"),
        ({"subnets": {**SUBNETS, "eu-west-1": ["subnet-0c1d2e3f4a5b60738"]}}, {},
         "recovery_account.subnets.eu-west-1: eu-west-1 is not the vault region"),
        ({"dr_regions": ["us-east-1"]}, {}, "recovery_account.dr_regions: us-east-1 is the "
         "vault region itself"),
        ({"dr_regions": ["us-west-2", "us-west-2"]}, {}, "recovery_account.dr_regions: lists "
         "us-west-2 more than once"),
        ({"dr_regions": ["us-gov-west-1"]}, {}, "recovery_account.dr_regions.0: us-gov-west-1 "
         "is in partition aws-us-gov"),
        ({"refresh_schedule": "rate(1 days)"}, {}, "recovery_account.refresh_schedule: "
         "rate(1 days): EventBridge Scheduler wants rate(1 day)"),
        ({"vault_cluster": "stop"}, {}, "recovery_account.vault_cluster: Input should be"),
        ({"silent_after_hours": 0}, {}, "recovery_account.silent_after_hours:"),
        ({"retention": {"keep_newest": 0}}, {}, "recovery_account.retention.keep_newest:"),
        ({"colour": "blue"}, {}, "recovery_account.colour: unknown setting"),
    ],
)  # fmt: skip
def test_refused_naming_the_field(vault: dict[str, Any], top: dict[str, Any], problem: str) -> None:
    data = config_with(**vault)
    data.update(top)
    if top.get("account", "") is None:
        del data["account"]
    found = problems_of(data)
    assert any(problem in p for p in found), found


VAULT_KEYS = {
    "vpc_id": "vpc-0a1b2c3d4e5f60718",
    "subnet_ids": ["subnet-0c1d2e3f4a5b60738"],
    "crypto_user_secret_name": "hsmdr/vault-key-verifier",
}


def test_vault_key_verification_is_optional_and_takes_its_own_secret() -> None:
    assert parse_config(config_with()).recovery_account.key_verification is None  # type: ignore[union-attr]
    config = parse_config(config_with(key_verification=dict(VAULT_KEYS)))
    keys = config.recovery_account.key_verification  # type: ignore[union-attr]
    assert keys is not None
    assert keys.crypto_user_secret_name == "hsmdr/vault-key-verifier"
    assert keys.canary_key_label == "hsmdr-canary" and keys.secret_kms_key_arn is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vpc_id": "vpc-nope"}, "recovery_account.key_verification.vpc_id"),
        ({"subnet_ids": []}, "recovery_account.key_verification.subnet_ids"),
        (
            {"subnet_ids": ["subnet-0c1d2e3f4a5b60738", "subnet-0c1d2e3f4a5b60738"]},
            "recovery_account.key_verification.subnet_ids",
        ),
        ({"crypto_user_secret_name": "no spaces"}, "recovery_account.key_verification.crypto"),
        ({"timeout_minutes": 16}, "recovery_account.key_verification.timeout_minutes"),
        ({"hsm_security_group_id": "sg-0a1b2c3d"}, "recovery_account.key_verification"),
        (
            {"secret_kms_key_arn": "arn:aws:kms:us-west-2:210987654321:key/abc"},
            "recovery_account.key_verification.secret_kms_key_arn",
        ),
    ],
)
def test_each_wrong_vault_key_setting_names_its_field(change: dict[str, Any], field: str) -> None:
    problems = problems_of(config_with(key_verification={**VAULT_KEYS, **change}))
    assert any(p.startswith(field) for p in problems), problems


def test_the_vault_secret_key_may_not_be_productions() -> None:
    data = config_with(
        key_verification={
            **VAULT_KEYS,
            "secret_kms_key_arn": f"arn:aws:kms:us-east-1:{config_with()['account']}:key/abc",
        }
    )
    [problem] = problems_of(data)
    assert problem.startswith("recovery_account.key_verification.secret_kms_key_arn")
    assert "production account" in problem
    # A key of the recovery account is fine
    data["recovery_account"]["key_verification"]["secret_kms_key_arn"] = (
        f"arn:aws:kms:us-east-1:{RECOVERY}:key/abc"
    )
    assert parse_config(data).recovery_account is not None


def test_the_refresh_deadline_makes_room_for_the_vault_capture() -> None:
    from stacks.constructs.vault.settings import refresh_timeout_minutes

    plain = refresh_timeout_minutes(parse_config(config_with()))
    keyed = parse_config(config_with(key_verification={**VAULT_KEYS, "timeout_minutes": 7}))
    # Three tries of the capture's timeout per protected cluster
    assert refresh_timeout_minutes(keyed) == plain + 3 * 7 * len(keyed.protected_clusters)
