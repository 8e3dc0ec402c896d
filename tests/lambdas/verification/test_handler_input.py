from __future__ import annotations

import pytest

from lambdas.shared.errors import InvalidInput
from lambdas.verification.handler import parse_request
from stacks.config import load_config
from tests.conftest import SANDBOX_CONFIG

SETTINGS = load_config(SANDBOX_CONFIG).verification_settings()


def test_schedule_event_verifies_every_cluster() -> None:
    request = parse_request({"source": "schedule"}, SETTINGS)
    assert request.cluster_ids is None and request.publish_alert


def test_unknown_cluster_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_request({"cluster_ids": ["cluster-notprotected1"]}, SETTINGS)
    assert raised.value.field == "cluster_ids"
    assert "cluster-notprotected1" in str(raised.value)


def test_wrong_type_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"^publish_alert: "):
        parse_request({"publish_alert": "sometimes"}, SETTINGS)
