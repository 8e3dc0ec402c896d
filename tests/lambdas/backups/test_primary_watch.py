"""The DR copy monitor speaks for the copies only while the primary region is silent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
from moto import mock_aws

from lambdas.backups.primary_watch import PrimaryWatch, last_report, reporting
from tests.lambdas.factories import NOW

WATCH = PrimaryWatch("us-east-1", silent_after=timedelta(hours=2, minutes=10))


def test_the_watch_travels_through_the_environment() -> None:
    assert PrimaryWatch.from_env(WATCH.to_env()) == WATCH
    assert PrimaryWatch.from_env({}) is None


def test_reporting_means_a_report_within_the_window() -> None:
    assert reporting(NOW - timedelta(minutes=50), NOW, WATCH.silent_after)
    assert not reporting(NOW - timedelta(hours=3), NOW, WATCH.silent_after)
    assert not reporting(None, NOW, WATCH.silent_after)


@mock_aws
def test_the_last_report_is_read_from_the_verification_metric() -> None:
    client = boto3.client("cloudwatch", region_name="us-east-1")
    assert last_report(WATCH, NOW, client) is None
    client.put_metric_data(
        Namespace="CloudHsmDr",
        MetricData=[
            {
                "MetricName": "VerificationFindings",
                "Dimensions": [{"Name": "service", "Value": "verify-backups"}],
                "Value": 1.0,
                "Timestamp": NOW - timedelta(minutes=30),
            }
        ],
    )
    found = last_report(WATCH, NOW, client)
    assert found is not None and abs(found - (NOW - timedelta(minutes=30))) < timedelta(minutes=1)


class Unreachable:
    def get_metric_data(self, **_: Any) -> Any:
        from botocore.exceptions import EndpointConnectionError

        raise EndpointConnectionError(endpoint_url="https://monitoring.us-east-1.amazonaws.com")


def test_a_primary_region_that_does_not_answer_is_silent() -> None:
    assert last_report(WATCH, NOW, Unreachable()) is None
