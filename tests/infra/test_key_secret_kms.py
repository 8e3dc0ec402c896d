"""The crypto user's secret under a customer-managed key: the functions that read the
secret (capture-key-manifest, and verify-keys, which the DR drill runs) may decrypt
with that key, only through Secrets Manager; without the setting nobody gets it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import config_data
from tests.infra.test_stack import resources
from tests.synthesis import synthesis

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_VERIFICATION = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0"],
    "hsm_security_group_id": "sg-0123456789abcdef0",
    "crypto_user_secret_name": "hsmdr/key-verifier",
}
READERS = ("verify-keys", "capture-key-manifest")


def synthesize(**extra: Any) -> dict[str, Any]:
    data = config_data()
    data["key_verification"] = {**KEY_VERIFICATION, **extra}
    data["drills"]["verifier_cidrs"] = ["10.0.0.0/16"]
    return synthesis(data).template


def statements_of(template: dict[str, Any], service: str) -> list[dict[str, Any]]:
    [role] = [
        props["Role"]["Fn::GetAtt"][0]
        for props in (
            r["Properties"] for r in resources(template, "AWS::Lambda::Function").values()
        )
        if props["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME") == service
    ]
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.fixture(scope="module")
def with_key() -> dict[str, Any]:
    return synthesize(secret_kms_key_arn=KEY)


@pytest.mark.parametrize("service", READERS)
def test_secret_readers_decrypt_with_the_customer_key_through_secrets_manager_only(
    with_key: dict[str, Any], service: str
) -> None:
    # Given key_verification.secret_kms_key_arn, When the stack is synthesized
    decrypts = [s for s in statements_of(with_key, service) if s["Resource"] == KEY]
    # Then the function may decrypt with that key, as Secrets Manager in its region only
    assert decrypts == [
        {
            "Action": "kms:Decrypt",
            "Condition": {
                "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
            },
            "Effect": "Allow",
            "Resource": KEY,
        }
    ]


def test_without_the_setting_no_role_names_a_customer_key_for_the_secret() -> None:
    template = synthesize()
    for service in READERS:
        assert not [
            s
            for s in statements_of(template, service)
            if "kms:ViaService" in str(s.get("Condition"))
            and "secretsmanager" in str(s["Condition"])
        ]
