"""The restore's report in the stack's reports bucket: the final step of the synthesized
state machine writes `reports/restores/<date>-<execution>.json` and `.html`, on success
and on failure, with the function's own role (the sandbox enforces IAM, the bucket
policy and the key policy). Each test reads both objects back and holds them to what
the run recorded (the execution's output and ARN)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambdas.restore.report import REPORT_PREFIX
from sandbox.session import Sandbox
from stacks.names import reports_bucket_parameter
from tests.sandbox.restore_support import EAST, SOURCE, WEST, disaster, restore
from tests.synthesis import Synthesized


@pytest.fixture
def sandbox(synthesized: Synthesized) -> Iterator[Sandbox]:
    lost = disaster(synthesized)
    yield lost
    lost.__exit__(None, None, None)


def stored(region: str, execution_arn: str) -> tuple[dict[str, Any], str, str]:
    """The JSON report, the HTML page and the key stem of this execution, from the
    reports bucket of the stack in `region` (named by its SSM parameter there)."""
    ssm = boto3.client("ssm", region_name=region)
    bucket = ssm.get_parameter(Name=reports_bucket_parameter("hsmdr-sandbox"))["Parameter"]
    s3 = boto3.client("s3", region_name=region)
    listed = s3.list_objects_v2(Bucket=bucket["Value"], Prefix=REPORT_PREFIX).get("Contents", [])
    name = execution_arn.rsplit(":", 1)[-1]
    keys = sorted(o["Key"] for o in listed if name in o["Key"])
    assert len(keys) == 2, keys  # the JSON and the HTML, nothing else
    stem = keys[0].removesuffix(".html")
    assert keys == [f"{stem}.html", f"{stem}.json"]

    def body(key: str) -> str:
        return str(s3.get_object(Bucket=bucket["Value"], Key=key)["Body"].read().decode())

    return json.loads(body(f"{stem}.json")), body(f"{stem}.html"), stem


def test_a_restore_that_worked_writes_its_json_and_html_report(sandbox: Sandbox) -> None:
    # When the lost cluster is restored in the primary region
    run = restore(sandbox)
    assert run["status"] == "SUCCEEDED", (run["error"], run["cause"])
    assert run["denied_calls"] == []
    # Then the main stack's bucket holds its report under reports/restores/<date>-<name>
    document, page, stem = stored(EAST, run["execution_arn"])
    result = run["result"]
    assert (
        stem
        == f"{REPORT_PREFIX}{result['started_at'][:10]}-" + run["execution_arn"].rsplit(":", 1)[-1]
    )
    # holding what the execution returned: status, the execution, the RTO and RPO
    assert document["status"] == "SUCCEEDED"
    assert document["execution"] == run["execution_arn"]
    assert document["rto_seconds"] == result["rto_seconds"] is not None
    assert document["rpo_seconds"] == result["rpo_seconds"] is not None
    assert document["cluster_id"] == result["cluster_id"]
    assert [s["step"] for s in document["steps"]] == [s["step"] for s in result["steps"]]
    # and the execution's output says where it is
    assert result["report_location"]["json_key"] == f"{stem}.json"
    assert "error" not in result["report_location"]
    # The page: one self-contained document naming the execution, its status and RTO
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert run["execution_arn"] in page and "SUCCEEDED" in page
    assert "RTO: service restored" in page and result["cluster_id"] in page
    # The success message says where the report is
    [message] = [a for a in run["alerts"] if a["subject"].startswith("Restore SUCCEEDED")]
    assert f"{stem}.html" in message["message"]


def test_a_restore_in_the_dr_region_writes_to_that_stacks_own_bucket(sandbox: Sandbox) -> None:
    # When the DR stack's restore runs (the primary region lost)
    run = restore(sandbox, region=WEST)
    assert run["status"] == "SUCCEEDED", (run["error"], run["cause"])
    assert run["denied_calls"] == []
    # Then its report is in the DR stack's bucket, in that region
    document, page, _stem = stored(WEST, run["execution_arn"])
    assert document["status"] == "SUCCEEDED" and document["region"] == WEST
    assert document["execution"] == run["execution_arn"]
    assert document["rto_seconds"] == run["rto_seconds"]
    assert run["execution_arn"] in page


def test_a_restore_that_failed_writes_its_report_too(sandbox: Sandbox) -> None:
    # Given HSMs that always end DEGRADED
    sandbox.world.faults.enable("hsm-degraded", count=10)
    # When the restore gives up
    run = restore(sandbox)
    assert run["status"] == "FAILED" and run["error"] == "HsmCreationFailed"
    assert run["denied_calls"] == []
    # Then its report says so, with the discarded HSMs and what exists
    document, page, _stem = stored(EAST, run["execution_arn"])
    assert document["status"] == "FAILED" and document["error"] == "HsmCreationFailed"
    assert document["execution"] == run["execution_arn"]
    assert document["source_cluster_id"] == SOURCE
    assert document["removed_hsm_ids"] and document["existing"]
    discarded = [h["hsm_id"] for h in document["hsm_timeline"] if h.get("removed_at")]
    assert sorted(discarded) == sorted(document["removed_hsm_ids"])
    assert "FAILED" in page and run["execution_arn"] in page
    assert all(hsm_id in page for hsm_id in discarded)  # drawn as discarded HSMs
    [alert] = run["alerts"]
    assert "Report (JSON and HTML): s3://" in alert["message"]


def test_a_refused_restore_still_writes_a_report_naming_the_execution(sandbox: Sandbox) -> None:
    # When the restore is refused before anything is planned (no such backup)
    run = restore(sandbox, source_cluster_id=None, backup_id="backup-doesnotexist1")
    assert run["status"] == "FAILED"
    # Then the report says why, under the execution's name
    document, page, _stem = stored(EAST, run["execution_arn"])
    assert document["status"] == "FAILED" and document["error"] == run["error"]
    assert document["execution"] == run["execution_arn"]
    assert document["steps"] == [] and document["created_hsm_ids"] == []
    assert run["error"] in page
