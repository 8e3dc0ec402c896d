"""The sandbox turns a function's EMF log lines into CloudWatch metrics, as AWS does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest

from sandbox.emf_metrics import datapoints
from sandbox.scenarios import fire_verification
from sandbox.session import Sandbox
from tests.conftest import Synthesized


def test_each_dimension_set_is_a_metric_of_its_own() -> None:
    document = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "CloudHsmDr",
                    "Dimensions": [["service"], ["service", "ClusterId"]],
                    "Metrics": [{"Name": "DrillSucceeded", "Unit": "Count"}],
                }
            ],
        },
        "service": "dr-drill",
        "ClusterId": "cluster-abcdefghijk",
        "DrillSucceeded": 1,
    }
    dimension_sets = [entry["Dimensions"] for _, entry in datapoints([json.dumps(document)])]
    assert dimension_sets == [
        [{"Name": "service", "Value": "dr-drill"}],
        [
            {"Name": "service", "Value": "dr-drill"},
            {"Name": "ClusterId", "Value": "cluster-abcdefghijk"},
        ],
    ]


def test_an_emf_document_becomes_one_datapoint_per_value() -> None:
    document = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "CloudHsmDr",
                    "Dimensions": [["service", "ClusterId"]],
                    "Metrics": [{"Name": "BackupAgeSeconds", "Unit": "Seconds"}],
                }
            ],
        },
        "service": "verify-backups",
        "ClusterId": "cluster-abcdefghijk",
        "BackupAgeSeconds": [7200, 7260],
    }
    lines = ['{"level": "INFO", "message": "not a metric"}', json.dumps(document), "plain text"]
    points = datapoints(lines)
    assert [ns for ns, _ in points] == ["CloudHsmDr", "CloudHsmDr"]
    first = points[0][1]
    assert first["MetricName"] == "BackupAgeSeconds" and first["Value"] == 7200.0
    assert first["Dimensions"] == [
        {"Name": "service", "Value": "verify-backups"},
        {"Name": "ClusterId", "Value": "cluster-abcdefghijk"},
    ]
    assert first["Timestamp"] == datetime.fromtimestamp(1_700_000_000, UTC)


@pytest.fixture
def sandbox(synthesized: Synthesized) -> Iterator[Sandbox]:
    with Sandbox(profile="test", template=synthesized.template) as sandbox:
        yield sandbox


def test_what_the_verification_emits_is_in_cloudwatch(sandbox: Sandbox) -> None:
    sandbox.seed_protected_clusters()
    fire_verification(sandbox)
    metrics = boto3.client("cloudwatch", region_name="us-east-1").list_metrics(
        Namespace="CloudHsmDr", MetricName="BackupAgeSeconds"
    )["Metrics"]
    [metric] = metrics
    dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
    assert dimensions == {"service": "verify-backups", "ClusterId": "cluster-sandboxprimary"}


def test_each_function_names_its_own_service_though_they_share_a_process(
    synthesized: Synthesized,
) -> None:
    # Given the copy monitor ran first (in Lambda, each function is its own process)
    with Sandbox(profile="test", templates=synthesized.templates) as sandbox:
        sandbox.seed_protected_clusters()
        sandbox.dr_deployment("us-west-2").invoke("copy-monitor", {"source": "schedule"})
        # When the verification runs in the same process
        fire_verification(sandbox)
        # Then its metrics carry its own service, as the alarms expect
        metrics = boto3.client("cloudwatch", region_name="us-east-1").list_metrics(
            Namespace="CloudHsmDr", MetricName="VerificationFindings"
        )["Metrics"]
        assert [m["Dimensions"] for m in metrics] == [
            [{"Name": "service", "Value": "verify-backups"}]
        ]
