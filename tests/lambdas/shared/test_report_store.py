"""Where a workflow's report goes in the reports bucket, and writing it
(lambdas/shared/report_store.py): both objects or a reason, never an exception."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.shared.env import Env
from lambdas.shared.report_store import report_location, report_stem, store_report

ARN = "arn:aws:states:us-east-1:123456789012:execution:d-restore-cluster:restore-20260301"


class FakeS3:
    def __init__(self, error: Exception | None = None) -> None:
        self.puts: list[dict[str, Any]] = []
        self.error = error

    def put_object(self, **call: Any) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        self.puts.append(call)
        return {}


def test_the_key_is_the_prefix_the_start_day_and_the_execution_name() -> None:
    assert report_stem("reports/restores/", "2026-03-01T23:59:00+00:00", ARN) == (
        "reports/restores/2026-03-01-restore-20260301"
    )
    assert report_stem("reports/x/", "2026-03-01", "") == "reports/x/2026-03-01-unknown"


def test_both_objects_are_written_to_the_functions_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(Env.REPORTS_BUCKET, "reports-bucket")
    location = report_location("reports/restores/", "2026-03-01T10:00:00+00:00", ARN)
    s3 = FakeS3()
    assert store_report(location, '{"status": "SUCCEEDED"}', "<!DOCTYPE html>", s3) == ""
    assert [(p["Bucket"], p["Key"], p["ContentType"]) for p in s3.puts] == [
        ("reports-bucket", location["json_key"], "application/json"),
        ("reports-bucket", location["html_key"], "text/html; charset=utf-8"),
    ]
    assert s3.puts[0]["Body"] == b'{"status": "SUCCEEDED"}'


def test_a_refused_write_is_said_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(Env.REPORTS_BUCKET, "reports-bucket")
    location = report_location("reports/restores/", "2026-03-01", ARN)
    why = store_report(location, "{}", "<html>", FakeS3(RuntimeError("AccessDenied")))
    assert why == "RuntimeError: AccessDenied"


def test_no_bucket_configured_writes_nothing_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(Env.REPORTS_BUCKET, raising=False)
    location = report_location("reports/restores/", "2026-03-01", ARN)
    s3 = FakeS3()
    assert Env.REPORTS_BUCKET in store_report(location, "{}", "<html>", s3)
    assert s3.puts == []
