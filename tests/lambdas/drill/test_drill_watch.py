"""The drill watcher: days since the last successful DR drill, across regions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.drill.watch import DrillWatchSettings, newest_success, watch
from sandbox.lambda_dispatch import LambdaContext

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = DrillWatchSettings(
    period_days=92,
    regions=("us-east-1", "us-west-2"),
    namespace="CloudHsmDr",
    dimensions=(("service", "dr-drill"),),
)


def test_the_newest_success_in_any_region_counts_and_failures_do_not() -> None:
    points = {
        "us-east-1": [(NOW - timedelta(days=3), 0.0), (NOW - timedelta(days=40), 1.0)],
        "us-west-2": [(NOW - timedelta(days=10), 1.0)],
    }
    assert newest_success(points) == (NOW - timedelta(days=10), "us-west-2")
    report = watch(SETTINGS, points, NOW)
    assert report.days_since_success == 10.0 and not report.overdue
    assert report.to_dict()["status"] == "SUCCEEDED"


def test_no_success_in_the_window_is_overdue_by_more_than_the_period() -> None:
    report = watch(SETTINGS, {"us-east-1": [(NOW - timedelta(days=1), 0.0)]}, NOW)
    assert report.last_success is None
    assert report.days_since_success == 93.0 and report.overdue
    next_step = report.to_dict()["next_step"]
    assert "hsmdr drill start --config" in next_step and "docs/runbooks/dr-drill.md" in next_step


def test_a_success_older_than_the_period_is_overdue() -> None:
    report = watch(SETTINGS, {"us-east-1": [(NOW - timedelta(days=92, hours=2), 1.0)]}, NOW)
    assert report.overdue and report.days_since_success == pytest.approx(92.083, abs=0.001)


def test_settings_round_trip_through_the_lambda_environment() -> None:
    assert DrillWatchSettings.from_env(SETTINGS.to_env()) == SETTINGS


def test_handler_reads_drill_results_in_every_region_and_emits_the_age(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lambdas.drill import watch_handler as watch_drills

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "watch-drills")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "CloudHsmDr")
    for key, value in SETTINGS.to_env().items():
        monkeypatch.setenv(key, value)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with mock_aws():
        # Given a successful drill in the DR region 5 days ago, a failed one here since,
        # and another deployment's drill metric (other dimensions) that must not count
        _put("us-west-2", now - timedelta(days=5), 1.0, {"service": "dr-drill"})
        _put("us-east-1", now - timedelta(days=1), 0.0, {"service": "dr-drill"})
        _put("us-east-1", now - timedelta(hours=2), 1.0, {"service": "other"})
        # When the watcher runs
        context = LambdaContext(
            "watch-drills", "arn:aws:lambda:us-east-1:123456789012:function:w", 256, 60
        )
        result: dict[str, Any] = watch_drills.handler({"source": "schedule"}, context)
    # Then it finds the DR region's success and emits its age for the alarm
    assert result["last_successful_drill_region"] == "us-west-2"
    assert 5.0 <= result["days_since_successful_drill"] < 5.1
    assert result["status"] == "SUCCEEDED"
    [emf] = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if "DaysSinceSuccessfulDrill" in line
    ]
    assert emf["DaysSinceSuccessfulDrill"] == [result["days_since_successful_drill"]]
    # (Its `service` dimension comes from POWERTOOLS_SERVICE_NAME, read when the
    # function starts: tests/infra/test_monitoring.py checks it against the alarm.)


def _put(region: str, when: datetime, value: float, dimensions: dict[str, str]) -> None:
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="CloudHsmDr",
        MetricData=[
            {
                "MetricName": "DrillSucceeded",
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Timestamp": when,
                "Value": value,
            }
        ],
    )
