"""A workflow's report in the stack's reports bucket: `<prefix><date>-<execution>.json`
and `.html` side by side (the drill's, the restore's and the replacement's prefixes are
in their own packages), and writing them.

Writing is best effort for the caller: a recovery that worked is not failed by a report
that could not be stored, and a failure's alert must still go out. What happened is
kept in the report's `report_location` (the keys, or the error), which the alert and
the execution's output carry.
"""

from __future__ import annotations

import os
from typing import Any

from lambdas.shared.env import Env
from lambdas.shared.observability import logger


def execution_name(execution: str) -> str:
    """The execution's name from its ARN (a name stays a name)."""
    return execution.rsplit(":", 1)[-1] if execution.startswith("arn:") else execution


def report_stem(prefix: str, started_at: str, execution: str) -> str:
    """`<prefix><YYYY-MM-DD>-<execution name>`: sorted by date, found by execution."""
    return f"{prefix}{started_at[:10]}-{execution_name(execution) or 'unknown'}"


def report_location(prefix: str, started_at: str, execution: str) -> dict[str, str]:
    """Where the report goes: the function's reports bucket (HSMDR_REPORTS_BUCKET) and
    the two keys."""
    stem = report_stem(prefix, started_at, execution)
    return {
        "bucket": os.environ.get(Env.REPORTS_BUCKET, ""),
        "json_key": f"{stem}.json",
        "html_key": f"{stem}.html",
    }


def store_report(location: dict[str, str], json_text: str, html_text: str, s3: Any = None) -> str:
    """Write the JSON report and its HTML page where `location` says; return "" or why
    they could not be written. `s3` defaults to a client in the function's region."""
    if not location.get("bucket"):
        return f"{Env.REPORTS_BUCKET} is not set: no report written"
    try:
        if s3 is None:
            import boto3

            s3 = boto3.client("s3")
        for key, body, content_type in (
            (location["json_key"], json_text, "application/json"),
            (location["html_key"], html_text, "text/html; charset=utf-8"),
        ):
            s3.put_object(
                Bucket=location["bucket"],
                Key=key,
                Body=body.encode("utf-8"),
                ContentType=content_type,
            )
    except Exception as error:  # the caller's alert and output must still go out
        logger.warning("report not written", extra={"location": location, "error": repr(error)})
        return f"{type(error).__name__}: {error}"
    return ""
