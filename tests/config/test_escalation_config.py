"""The escalation matrix (contacts; who each severity reaches) and the drills section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stacks.config import load_config
from tests.config.test_config import example, problems
from tests.conftest import EXAMPLE_CONFIG, SANDBOX_CONFIG


def matrix(data: dict[str, Any]) -> dict[str, Any]:
    escalation: dict[str, Any] = data["escalation"]
    return escalation


def test_shipped_matrices_say_who_each_severity_and_the_escalation_reach() -> None:
    # Given the example config, When it loads, Then every topic has its audience
    audiences = load_config(EXAMPLE_CONFIG).escalation.audiences()
    assert {k: [c.name for c in v] for k, v in audiences.items()} == {
        "page": ["primary-oncall"],
        "notify": ["hsm-team"],
        "escalation": ["secondary-oncall"],
    }
    sandbox = load_config(SANDBOX_CONFIG).escalation
    assert sandbox.severities.page.escalate_after_minutes == 30
    assert sandbox.contact("oncall").endpoints() == [
        ("email", "oncall@example.com"),
        ("sms", "+15555550100"),
    ]


def test_drills_default_to_a_quarter_and_an_hour() -> None:
    drills = load_config(SANDBOX_CONFIG).drills
    assert (drills.period_days, drills.rto_minutes) == (92, 60)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda m: m["severities"].update(critical={"contacts": ["primary-oncall"]}),
            "escalation.severities: unknown severity 'critical': severities are exactly page "
            "and notify",
        ),
        (
            lambda m: m["severities"].pop("notify"),
            "escalation.severities.notify: Field required",
        ),
        (
            lambda m: m["severities"]["page"].update(contacts=["primary-oncall", "nobody"]),
            "escalation.severities.page.contacts.1: unknown contact 'nobody' (contacts: "
            "primary-oncall, secondary-oncall, hsm-team)",
        ),
        (
            lambda m: m["severities"]["page"].update(escalate_to=["nobody"]),
            "escalation.severities.page.escalate_to.0: unknown contact 'nobody'",
        ),
        (
            lambda m: m["severities"]["notify"].update(contacts=["hsm"]),
            "escalation.severities.notify.contacts.0: unknown contact 'hsm'",
        ),
        (
            lambda m: m["contacts"][0].update(email="not-an-email"),
            "escalation.contacts.0.email: 'not-an-email' does not match",
        ),
        (
            lambda m: m["contacts"][0].update(sms="5555550100"),
            "escalation.contacts.0.sms: '5555550100' does not match",
        ),
        (
            lambda m: m["contacts"][0].update(https="http://pager.example.com/hook"),
            "escalation.contacts.0.https: 'http://pager.example.com/hook' does not match",
        ),
        (
            lambda m: m["contacts"][1].pop("email"),
            "escalation.contacts.1: contact 'secondary-oncall' has no endpoint: give it email, "
            "sms or https",
        ),
        (
            lambda m: m["contacts"].append({"name": "hsm-team", "email": "x@example.com"}),
            "escalation.contacts: duplicate contact names ['hsm-team']",
        ),
        (
            lambda m: m["severities"]["notify"].update(escalate_after_minutes=60),
            "escalation.severities.notify: escalate_after_minutes: only page escalates",
        ),
        (
            lambda m: m["severities"]["page"].pop("escalate_to"),
            "escalation.severities.page.escalate_to: Field required",
        ),
        (
            lambda m: m["severities"]["page"].update(escalate_after_minutes=0),
            "escalation.severities.page.escalate_after_minutes: Input should be greater than",
        ),
        (
            lambda m: m["severities"]["page"].update(contacts=[]),
            "escalation.severities.page.contacts: List should have at least 1 item",
        ),
    ],
)
def test_bad_matrix_names_the_file_the_field_and_the_problem(
    tmp_path: Path, change: Any, expected: str
) -> None:
    # Given the example config with one mistake in its matrix
    data = example()
    change(matrix(data))
    # When it loads, Then the problem names the field and says what is wrong
    found = problems(tmp_path, data)
    assert any(p.startswith(expected) for p in found), found


def test_a_config_without_a_matrix_is_refused(tmp_path: Path) -> None:
    data = example()
    del data["escalation"]
    assert "escalation: Field required" in problems(tmp_path, data)


def test_the_old_notifications_section_says_where_it_went(tmp_path: Path) -> None:
    data = example()
    del data["escalation"]
    data["notifications"] = {"emails": ["oncall@example.com"]}
    assert problems(tmp_path, data) == [
        "notifications: replaced by escalation (contacts, and who each severity reaches): "
        "see config/example.yaml"
    ]


@pytest.mark.parametrize(
    ("drills", "expected"),
    [
        ({"period_days": 0}, "drills.period_days: Input should be greater than or equal to 1"),
        ({"rto_minutes": -5}, "drills.rto_minutes: Input should be greater than or equal to 1"),
    ],
)
def test_bad_drill_objectives_are_refused(
    tmp_path: Path, drills: dict[str, Any], expected: str
) -> None:
    data = example()
    data["drills"] = {**data.get("drills", {}), **drills}
    assert expected in problems(tmp_path, data)
