"""Config that used to validate and then crash the synth or mislead: each is refused
before anything is synthesized, with the field and the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config import ConfigError, load_config, parse_config
from stacks.config.history import (
    EVENTS_PER_POLL,
    HISTORY_EVENT_LIMIT,
    RESERVED_EVENTS,
    restore_budget,
)
from stacks.config.schedules import schedule_interval_minutes, schedule_problem
from tests.config.test_config import example, problems
from tests.conftest import SANDBOX_CONFIG

KEY_VERIFICATION = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0"],
    "hsm_security_group_id": "sg-0123456789abcdef0",
    "crypto_user_secret_name": "hsmdr/key-verifier",
}


def with_keys(data: dict[str, Any]) -> dict[str, Any]:
    data["key_verification"] = dict(KEY_VERIFICATION)
    data["drills"]["verifier_cidrs"] = ["10.0.0.0/24"]
    return data


def refused(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(data, "deploy.yaml")
    return raised.value.problems


def test_the_shipped_configs_load_as_they_are() -> None:
    # Given the example and the sandbox configs, When they load, Then nothing is refused
    assert load_config(SANDBOX_CONFIG).restore.poll_seconds == 1
    assert parse_config(example()).drills.require_key_verification is False


# 1. DR regions -------------------------------------------------------------------------


def test_a_dr_region_listed_twice_is_refused() -> None:
    data = example()
    data["dr_regions"] = ["us-west-2", "eu-west-1", "us-west-2"]
    assert "dr_regions: lists us-west-2 more than once" in refused(data)


def test_a_dr_region_in_another_partition_is_refused() -> None:
    data = example()
    data["dr_regions"] = ["us-gov-west-1"]
    found = refused(data)
    assert (
        "dr_regions.0: us-gov-west-1 is in partition aws-us-gov, us-east-1 in aws: CloudHSM "
        "copies backups within a partition only"
    ) in found


# 2. Schedule expressions, as EventBridge Scheduler reads them ---------------------------

BAD_SCHEDULES = [
    ("rate(0 minutes)", "the value must be a whole number of 1 or more"),
    ("rate(-5 minutes)", "the value must be a whole number of 1 or more"),
    ("rate(1 hours)", "EventBridge Scheduler wants rate(1 hour)"),
    ("rate(5 hour)", "EventBridge Scheduler wants rate(5 hours)"),
    ("rate(2 weeks)", "unknown unit 'weeks'"),
    ("rate(5  minutes)", "a rate is rate(N unit)"),
    ("cron(garbage)", "6 required, 1 provided"),
    ("cron(0 9 * * *)", "6 required, 5 provided"),
    ("cron(0 9 * * * *)", "One must be a question mark (?)"),
    ("cron(0 9 ? * ? *)", "One must be a question mark (?)"),
    ("cron(0 25 * * ? *)", "Invalid hour value '25'"),
    ("cron(0 9 32 * ? *)", "Invalid day-of-month value '32'"),
    ("cron(0 9 ? * MON-FUN *)", "Invalid day-of-week value 'MON-FUN'"),
    ("at(2030-01-01T09:00:00)", "runs once; this job recurs"),
    ("every hour", "is not a schedule expression"),
]
SCHEDULE_FIELDS = [
    ("schedules", "verify_backups"),
    ("schedules", "copy_backups"),
    ("schedules", "health_check"),
    ("drills", "schedule"),
    ("key_verification", "capture_schedule"),
]


@pytest.mark.parametrize(("expression", "reason"), BAD_SCHEDULES)
@pytest.mark.parametrize(("section", "field"), SCHEDULE_FIELDS)
def test_every_schedule_field_refuses_what_eventbridge_scheduler_refuses(
    section: str, field: str, expression: str, reason: str
) -> None:
    data = with_keys(example())
    data[section][field] = expression
    [problem] = refused(data)
    assert problem.startswith(f"{section}.{field}: ")
    assert reason in problem


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [
        ("rate(1 minute)", 1),
        ("rate(15 minutes)", 15),
        ("rate(1 hour)", 60),
        ("rate(6 hours)", 360),
        ("rate(1 day)", 1440),
        ("rate(7 days)", 7 * 1440),
        ("cron(0/15 * ? * MON-FRI *)", 1440),
        ("cron(0 9 L * ? *)", 1440),
        ("cron(30 2 ? JAN,APR,JUL,OCT 2#1 2026-2030)", 1440),
    ],
)
def test_valid_schedules_pass_and_say_how_often_they_fire(expression: str, minutes: int) -> None:
    assert schedule_problem(expression) is None
    assert schedule_interval_minutes(expression) == minutes


def test_a_zero_rate_no_longer_reaches_the_synth() -> None:
    # Given rate(0 minutes) on the health check (it divided by zero in the synth)
    data = example()
    data["schedules"]["health_check"] = "rate(0 minutes)"
    # Then validation stops it, naming the field
    assert refused(data) == [
        "schedules.health_check: rate(0 minutes): the value must be a whole number of 1 or more"
    ]


# 3. Regions and Availability Zones --------------------------------------------------------


def test_an_unknown_deployment_region_is_blamed_on_region_alone() -> None:
    # Given the deployment region mistyped, and a cluster that takes it as its own
    data = example()
    data["region"] = "us-east-9"
    # Then `region` is the one error: not the cluster's region, not its zones
    [problem] = refused(data)
    assert problem.startswith(
        "region: us-east-9 is not an AWS region (botocore's partition data); did you mean us-east-"
    )


def test_unknown_dr_cluster_restore_and_drill_regions_are_refused() -> None:
    data = example()
    data["dr_regions"] = ["us-west-9"]
    data["protected_clusters"][0]["region"] = "eu-west-9"
    data["restore"]["subnets"]["ap-south-9"] = ["subnet-0a1b2c3d4e5f60718"]
    found = refused(data)
    assert any(p.startswith("dr_regions.0: us-west-9 is not an AWS region") for p in found)
    assert any(p.startswith("protected_clusters.0.region: eu-west-9 is not") for p in found)
    assert any(p.startswith("restore.subnets.ap-south-9.[key]: ap-south-9 is not") for p in found)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("us-west-2a", "zone us-west-2a is in region us-west-2, not in us-east-1"),
        ("us-east-9a", "zone us-east-9a: us-east-9 is not an AWS region"),
    ],
)
def test_a_zone_of_another_region_is_named_with_its_region(zone: str, expected: str) -> None:
    data = example()
    data["protected_clusters"][0]["hsms_per_az"] = {"us-east-1a": 1, zone: 1}
    [problem] = refused(data)
    assert problem.startswith(f"protected_clusters.0: hsms_per_az: {expected}")


def test_regions_of_every_partition_botocore_knows_are_accepted() -> None:
    data = example()
    data["region"] = "us-gov-west-1"
    data["dr_regions"] = ["us-gov-east-1"]
    data["protected_clusters"][0]["hsms_per_az"] = {"us-gov-west-1a": 1}
    data["restore"]["subnets"] = {}
    data["drills"]["subnets"] = {"us-gov-east-1": ["subnet-0aaaaaaaaaaaaaaaa"]}
    assert parse_config(data).dr_regions == ["us-gov-east-1"]


# 4. Time zones ----------------------------------------------------------------------------


def test_a_time_zone_that_is_not_iana_is_refused() -> None:
    data = example()
    data["schedules"]["timezone"] = "Mars/Olympus"
    [problem] = refused(data)
    assert problem.startswith("schedules.timezone: 'Mars/Olympus' is not an IANA time zone")


def test_iana_time_zones_are_accepted() -> None:
    data = example()
    data["schedules"]["timezone"] = "Europe/Paris"
    assert parse_config(data).schedules.timezone == "Europe/Paris"


# 5. A file that is not UTF-8 ----------------------------------------------------------------


def test_a_file_that_is_not_utf8_is_named_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"deployment_name: prod\nregion: us-east-1\n# caf\xe9\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == (
        f"{path}: line 3: not UTF-8 text (byte 0xe9 at offset 45): save the file as UTF-8"
    )


def test_the_cli_reports_a_file_that_is_not_utf8_as_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hsmdr.cli import main

    path = tmp_path / "latin1.yaml"
    path.write_bytes("région: us-east-1\n".encode("latin-1"))
    code = main(["backup", "verify", "--config", str(path), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 2
    assert document["error"] == "config"
    assert document["message"].startswith(f"{path}: line 1: not UTF-8 text (byte 0xe9")


# 6. Poll intervals against the 25,000 history events of an execution ------------------------


@pytest.mark.parametrize(
    ("section", "minimum"),
    [
        # 4 x 45 + 60 minutes
        (("backups", "on_demand"), 6),
        # (2 x 3 + 2) x 45 minutes
        (("hsm_replacement",), 9),
        # 60 + (2 + 1 HSMs) x 3 x 2 x 45 minutes
        (("restore",), 21),
        # 60 + 3 x 2 x 45 + 90 minutes
        (("drills",), 11),
    ],
)
def test_a_poll_below_what_the_timeouts_need_is_refused_with_the_minimum(
    section: tuple[str, ...], minimum: int
) -> None:
    data = example()
    target = data
    for key in section:
        target = target.setdefault(key, {})
    target["poll_seconds"] = minimum - 1
    [problem] = refused(data)
    name = ".".join(section)
    assert problem.startswith(
        f"{name}.poll_seconds: {minimum - 1} is below the minimum of {minimum} s"
    )
    assert f"set poll_seconds to {minimum} or more, or shorten the timeouts" in problem
    # And the minimum itself is accepted
    target["poll_seconds"] = minimum
    parse_config(data)


def test_the_minimum_poll_keeps_the_longest_execution_inside_the_history() -> None:
    budget = restore_budget(1, 60, 45, 3, 3)
    polls = budget.polled_minutes * 60 / budget.minimum_poll_seconds
    assert polls * EVENTS_PER_POLL + RESERVED_EVENTS <= HISTORY_EVENT_LIMIT
    slower = restore_budget(1, 60, 45, 3, 3).polled_minutes * 60 / (budget.minimum_poll_seconds - 1)
    assert slower * EVENTS_PER_POLL + RESERVED_EVENTS > HISTORY_EVENT_LIMIT


def test_shorter_timeouts_allow_the_sandbox_one_second_poll() -> None:
    # Given the sandbox's one-second polls with AWS-like deadlines
    data = yaml.safe_load(SANDBOX_CONFIG.read_text())
    data["restore"]["hsm_timeout_minutes"] = 45
    # Then the restore's poll is refused; with the sandbox's own deadlines it is not
    [problem] = refused(data)
    assert problem.startswith("restore.poll_seconds: 1 is below the minimum")


# 7. Combinations that cannot work ----------------------------------------------------------


def test_required_key_verification_without_key_verification_is_refused() -> None:
    data = example()
    data["drills"]["require_key_verification"] = True
    [problem] = refused(data)
    assert problem.startswith(
        "drills.require_key_verification: true, but key_verification is not configured"
    )


def test_key_verification_is_required_by_default_exactly_when_it_is_configured() -> None:
    assert parse_config(example()).drills.require_key_verification is False
    assert parse_config(with_keys(example())).drills.require_key_verification is True


def test_a_drill_source_defaults_to_what_the_config_has() -> None:
    data = example()
    data["drills"].pop("source")
    assert parse_config(data).drills.source == "dr-copy"
    data["dr_regions"] = []
    data["restore"]["subnets"].pop("us-west-2")
    data["drills"]["subnets"] = {"us-east-1": ["subnet-0aaaaaaaaaaaaaaaa"]}
    assert parse_config(data).drills.source == "primary"
    # And dr-copy named without DR regions is refused
    data["drills"]["source"] = "dr-copy"
    [problem] = refused(data)
    assert problem.startswith("drills.source: dr-copy restores a copy from a DR region")


def test_drill_subnets_missing_for_a_dr_region_are_refused() -> None:
    data = example()
    data["dr_regions"] = ["us-west-2", "eu-west-1"]
    [problem] = refused(data)
    assert problem.startswith("drills.subnets: none for eu-west-1, where a dr-copy drill")


def test_key_checked_drills_in_a_dr_region_need_the_verifier_cidrs() -> None:
    data = with_keys(example())
    data["drills"]["verifier_cidrs"] = []
    [problem] = refused(data)
    assert problem.startswith(
        "drills.verifier_cidrs: the key verifier runs in us-east-1 and drills restore in us-west-2"
    )


def test_restore_subnets_where_no_backup_can_be_are_refused() -> None:
    data = example()
    data["restore"]["subnets"]["eu-west-1"] = ["subnet-0a1b2c3d4e5f60718"]
    [problem] = refused(data)
    assert problem.startswith("restore.subnets.eu-west-1: eu-west-1 is neither the deployment")


def test_a_subnet_listed_twice_for_a_restore_is_refused() -> None:
    data = example()
    data["restore"]["subnets"]["us-east-1"] = ["subnet-0a1b2c3d4e5f60718"] * 2
    assert refused(data) == ["restore.subnets.us-east-1: lists subnet-0a1b2c3d4e5f60718 twice"]


def test_a_trust_anchor_key_needs_its_parameter_and_its_region() -> None:
    data = example()
    data["restore"]["trust_anchor_kms_key_arn"] = "arn:aws:kms:us-west-2:111122223333:key/k-1"
    found = refused(data)
    assert any(p.startswith("restore.trust_anchor_kms_key_arn: set without") for p in found)
    assert (
        "restore.trust_anchor_kms_key_arn: the key is in us-west-2; it must be in us-east-1, "
        "where it is used"
    ) in found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = example()
    data["drills"]["require_key_verification"] = True
    data["restore"]["poll_seconds"] = 1
    found = problems(tmp_path, data)
    assert [p.split(":")[0] for p in found] == [
        "drills.require_key_verification",
        "restore.poll_seconds",
    ]


# 8. The crypto user's secret under a customer key ---------------------------------------------


def test_the_secret_key_must_be_a_kms_key_arn_in_the_deployment_region() -> None:
    data = with_keys(example())
    data["key_verification"]["secret_kms_key_arn"] = "alias/hsm-secrets"
    [problem] = refused(data)
    assert problem.startswith("key_verification.secret_kms_key_arn: 'alias/hsm-secrets' does")
    data["key_verification"]["secret_kms_key_arn"] = "arn:aws:kms:eu-west-1:111122223333:key/k-1"
    assert refused(data) == [
        "key_verification.secret_kms_key_arn: the key is in eu-west-1; it must be in "
        "us-east-1, where it is used"
    ]
    # And a key of another account (a central security account) is accepted
    data["key_verification"]["secret_kms_key_arn"] = "arn:aws:kms:us-east-1:999988887777:key/k-1"
    keys = parse_config(data).key_verification
    assert keys is not None and keys.secret_kms_key_arn is not None
