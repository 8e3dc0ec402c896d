"""Calls from a DR-region stack into another region (the primary) give up fast: one
attempt, short timeouts, so a region that is down cannot outlive the Lambda timeout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lambdas.backups.primary_watch import PrimaryWatch, last_report
from lambdas.shared import cross_region
from tests.lambdas.factories import NOW


def assert_fails_fast(client: Any) -> None:
    config = client.meta.config
    assert config.connect_timeout == cross_region.CONNECT_TIMEOUT_SECONDS <= 5
    assert config.read_timeout == cross_region.READ_TIMEOUT_SECONDS <= 15
    assert config.retries["total_max_attempts"] == 1


def test_a_cross_region_client_makes_one_attempt_with_short_timeouts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert_fails_fast(cross_region.client("cloudwatch", "us-east-1"))


def test_the_dr_copy_monitor_reads_the_primary_region_with_such_a_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[str, str]] = []

    class Down:
        def get_metric_data(self, **_: Any) -> Any:
            from botocore.exceptions import ConnectTimeoutError

            raise ConnectTimeoutError(endpoint_url="https://monitoring.us-east-1.amazonaws.com")

    def client(service: str, region: str) -> Any:
        asked.append((service, region))
        return Down()

    monkeypatch.setattr(cross_region, "client", client)
    watch = PrimaryWatch("us-east-1", silent_after=timedelta(hours=2))
    # A primary region that does not answer is a silent one
    assert last_report(watch, NOW) is None
    assert asked == [("cloudwatch", "us-east-1")]


def test_the_restore_looks_in_other_regions_with_such_a_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lambdas.restore.handler import _lookup_gateway

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-west-2")  # a DR-region stack
    assert_fails_fast(_lookup_gateway("us-east-1")._client)
    own = _lookup_gateway("us-west-2")._client.meta.config
    assert own.retries["total_max_attempts"] > 1  # its own region keeps its retries
