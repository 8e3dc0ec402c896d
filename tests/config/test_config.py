from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lambdas.shared.settings import VerificationSettings
from stacks.config import ConfigError, load_config
from tests.conftest import EXAMPLE_CONFIG, SANDBOX_CONFIG


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def example() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    assert isinstance(data, dict)
    return data


def problems(tmp_path: Path, data: Any) -> list[str]:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert all(line.startswith(f"{path}: ") for line in str(raised.value).splitlines())
    return raised.value.problems


def test_shipped_configs_load_and_cluster_region_defaults_to_deployment() -> None:
    config = load_config(EXAMPLE_CONFIG)
    assert config.protected_clusters[0].region == config.region == "us-east-1"
    assert config.schedules.verify_backups == "rate(1 hour)"
    assert load_config(SANDBOX_CONFIG).protected_clusters[0].id == "cluster-sandboxprimary"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["protected_clusters"][0].update(id="cluster-bad!"),
            "protected_clusters.0.id: 'cluster-bad!' does not match",
        ),
        (
            lambda d: d["protected_clusters"][0].update(hsms_per_az={"us-west-2a": 1}),
            "protected_clusters.0: hsms_per_az: zone us-west-2a is in region us-west-2, not in "
            "us-east-1",
        ),
        (
            lambda d: d["protected_clusters"][0].update(hsms_per_az={"us-east-1a": 0}),
            "protected_clusters.0.hsms_per_az.us-east-1a: Input should be greater than or equal",
        ),
        (lambda d: d.update(rpo_hours=0), "rpo_hours: Input should be greater than 0"),
        (
            lambda d: d["schedules"].update(verify_backups="every hour"),
            "schedules.verify_backups: 'every hour' is not a schedule expression",
        ),
        (
            lambda d: d.update(notifications={"emails": ["oncall@example.com"]}),
            "notifications: replaced by escalation",
        ),
        (lambda d: d.update(rpo_hour=3), "rpo_hour: unknown setting"),
        (lambda d: d.update(dr_regions=["us-east-1"]), "dr_regions: us-east-1 is the deployment"),
        (
            lambda d: d["protected_clusters"].append(dict(d["protected_clusters"][0])),
            "duplicate cluster ids ['cluster-igklspoyj5v']",
        ),
        (
            lambda d: d["lambda"].update(log_retention_days=42),
            "lambda.log_retention_days: must be one of CloudWatch Logs' retention periods",
        ),
        (
            lambda d: d.update(protected_clusters=[]),
            "protected_clusters: List should have",
        ),
    ],
)
def test_bad_value_names_the_file_the_field_and_the_problem(
    tmp_path: Path, change: Any, expected: str
) -> None:
    data = example()
    change(data)
    assert any(expected in p for p in problems(tmp_path, data)), problems(tmp_path, data)


def test_unreadable_and_malformed_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.yaml")
    assert problems(tmp_path, "region: [unclosed\n")[0].startswith(
        "line 2, column 1: not valid YAML"
    )
    assert problems(tmp_path, "- a list\n") == ["the file must hold a mapping of settings"]


def test_settings_round_trip_through_the_lambda_environment() -> None:
    config = load_config(EXAMPLE_CONFIG)
    settings = config.verification_settings(alert_topic_arn="arn:aws:sns:us-east-1:1:t")
    assert VerificationSettings.from_env(settings.to_env()) == settings


def test_backup_settings_round_trip_through_the_lambda_environment() -> None:
    from lambdas.shared.settings import BackupSettings

    settings = load_config(SANDBOX_CONFIG).backup_settings()
    assert settings.dr_regions == ("us-west-2",)
    assert BackupSettings.from_env(settings.to_env()) == settings
