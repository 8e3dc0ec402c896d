"""The HSM replacement's report in the main stack's reports bucket: the synthesized state
machine's last step writes `reports/replacements/<date>-<execution>.json` and `.html`, on
success and on failure, with the function's own role (the sandbox enforces IAM, the
bucket policy and the key policy). Each test reads both objects back and holds them to
what the run recorded (the execution's output, its ARN, the HSMs it created)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambdas.replacement.report import PHASES, REPORT_PREFIX
from sandbox.replacement_scenarios import hsms, replace_after_failure
from sandbox.session import Sandbox
from stacks.names import reports_bucket_parameter
from tests.synthesis import Synthesized

CLUSTER = "cluster-sandboxprimary"


@pytest.fixture
def sandbox(synthesized: Synthesized) -> Iterator[Sandbox]:
    with Sandbox(profile="test", template=synthesized.template) as sandbox:
        sandbox.seed_protected_clusters()
        yield sandbox


def stored(execution_arn: str) -> tuple[dict[str, Any], str, str]:
    """This execution's JSON report, HTML page and key stem, from the reports bucket
    the main stack's SSM parameter names."""
    ssm = boto3.client("ssm", region_name="us-east-1")
    bucket = ssm.get_parameter(Name=reports_bucket_parameter("hsmdr-sandbox"))["Parameter"]
    s3 = boto3.client("s3", region_name="us-east-1")
    listed = s3.list_objects_v2(Bucket=bucket["Value"], Prefix=REPORT_PREFIX).get("Contents", [])
    name = execution_arn.rsplit(":", 1)[-1]
    keys = sorted(o["Key"] for o in listed if o["Key"].endswith((f"-{name}.json", f"-{name}.html")))
    assert len(keys) == 2, keys  # the JSON and the HTML
    stem = keys[0].removesuffix(".html")

    def body(key: str) -> str:
        return str(s3.get_object(Bucket=bucket["Value"], Key=key)["Body"].read().decode())

    return json.loads(body(f"{stem}.json")), body(f"{stem}.html"), stem


def failed_hsm(sandbox: Sandbox) -> str:
    sandbox.apply_faults(["hsm-failure"])
    [hsm_id] = [i for i, h in hsms(sandbox, CLUSTER).items() if h["state"] == "DEGRADED"]
    return hsm_id


def test_a_replacement_with_a_discarded_hsm_writes_its_report(sandbox: Sandbox) -> None:
    # Given a failed HSM, and a first replacement that ends DEGRADED at creation
    failed = failed_hsm(sandbox)
    sandbox.apply_faults(["hsm-degraded"])
    # When the health check's replacement runs to its end
    run = replace_after_failure(sandbox)
    assert run["status"] == "SUCCEEDED", (run["error"], run["cause"])
    assert run["denied_calls"] == []
    result = run["result"]
    discarded, kept = result["created_hsm_ids"]
    # Then its report is in the bucket under reports/replacements/<date>-<execution>
    document, page, stem = stored(run["execution_arn"])
    assert (
        stem
        == f"{REPORT_PREFIX}{result['started_at'][:10]}-" + run["execution_arn"].rsplit(":", 1)[-1]
    )
    assert result["report_location"]["html_key"] == f"{stem}.html"
    # holding what the run recorded: status, execution, the HSMs, every phase in order
    assert document["status"] == "SUCCEEDED"
    assert document["execution"] == run["execution_arn"]
    assert document["failed_hsm"]["hsm_id"] == failed
    assert document["replacement_hsm"]["hsm_id"] == kept
    assert document["discarded_hsm_ids"] == [discarded]
    assert [s["step"] for s in document["steps"]] == [name for name, _s, _e in PHASES]
    assert all(s["ended_at"] for s in document["steps"])
    timeline = {h["hsm_id"]: h for h in document["hsm_timeline"]}
    assert timeline[discarded]["degraded_at"] and timeline[discarded]["removed_at"]
    assert timeline[kept]["active_at"] and "degraded_at" not in timeline[kept]
    assert document["capacity_restored_seconds"] == pytest.approx(
        (_at(timeline[kept]["active_at"]) - _at(document["started_at"])).total_seconds(),
        abs=1.0,
    )
    # The page: self-contained, the execution, the discarded HSM drawn as such
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert run["execution_arn"] in page and "SUCCEEDED" in page
    assert f"HSM {discarded}" in page and "DEGRADED HSM, discarded" in page
    assert "time to restored capacity" in page
    # The notify message says where the report is
    [done] = [a for a in run["alerts"] if "HSM replaced" in a["subject"]]
    assert f"{stem}.html" in done["message"]


def test_a_failed_replacement_writes_its_report_too(sandbox: Sandbox) -> None:
    # Given a failed HSM in a zone that no longer takes HSMs
    failed = failed_hsm(sandbox)
    zone = hsms(sandbox, CLUSTER)[failed]["availability_zone"]
    sandbox.world.faults.enable("az-unsupported", az=zone)
    # When the replacement gives up
    run = replace_after_failure(sandbox)
    assert run["status"] == "FAILED" and run["error"] == "ReplacementFailed"
    assert run["denied_calls"] == []
    # Then its report says so, with the execution and what it tried
    document, page, _stem = stored(run["execution_arn"])
    assert document["status"] == "FAILED" and document["error"] == "ReplacementFailed"
    assert document["execution"] == run["execution_arn"]
    assert document["cluster_id"] == CLUSTER and document["attempts"] == 3
    create = next(s for s in document["steps"] if s["step"] == PHASES[1][0])
    assert create["ended_at"] is None  # the phase it failed in
    assert "FAILED" in page and "ReplacementFailed" in page and run["execution_arn"] in page
    [alert] = [a for a in run["alerts"] if "replacement FAILED" in a["subject"]]
    assert "Report (JSON and HTML): s3://" in alert["message"]


def _at(iso: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(iso)
