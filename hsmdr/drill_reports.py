"""The DR drill's reports as the drill stack stores them: the bucket its SSM parameter
names, the Markdown reports in it (newest first) and the JSON report next to each.
`hsmdr drill report` and the recovery document (hsmdr/inventory.py) read them."""

from __future__ import annotations

import json
from typing import Any

from hsmdr.outcome import UsageError


def report_bucket(ssm: Any, deployment_name: str) -> str:
    """The drill report bucket, from the SSM parameter the drill stack writes (a
    ParameterNotFound error means drills are not deployed)."""
    from stacks.names import dr_drill_report_parameter

    parameter = dr_drill_report_parameter(deployment_name)
    return str(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])


def report_objects(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """Every drill report's Markdown object in the bucket, newest first."""
    from lambdas.drill.report import REPORT_PREFIX

    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=REPORT_PREFIX)
    objects = [o for page in pages for o in page.get("Contents", []) if o["Key"].endswith(".md")]
    return sorted(objects, key=lambda o: (o["LastModified"], o["Key"]), reverse=True)


def stored_report(s3: Any, bucket: str, markdown_key: str) -> dict[str, Any]:
    """The JSON report the drill wrote next to its Markdown one."""
    body = s3.get_object(Bucket=bucket, Key=markdown_key.removesuffix(".md") + ".json")["Body"]
    stored: dict[str, Any] = json.loads(body.read())
    return stored


def find_report(s3: Any, bucket: str, execution: str | None) -> str:
    """The Markdown report of `execution` (name or ARN), or the newest one."""
    from lambdas.drill.report import REPORT_PREFIX

    objects = report_objects(s3, bucket)
    if execution:
        name = execution.rsplit(":", 1)[-1]
        objects = [o for o in objects if o["Key"].endswith(f"-{name}.md")]
        if not objects:
            raise UsageError(f"EXECUTION: no report of {name} in s3://{bucket}/{REPORT_PREFIX}")
    if not objects:
        raise UsageError(f"no drill report in s3://{bucket}/{REPORT_PREFIX} yet")
    return str(objects[0]["Key"])


def past_reports(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The newest drills' JSON reports, for the HTML report's trend."""
    from lambdas.drill.report_html import TREND_LIMIT

    return [stored_report(s3, bucket, o["Key"]) for o in report_objects(s3, bucket)[:TREND_LIMIT]]
