"""How `hsmdr report` finds a restore's or a replacement's stored report
(hsmdr/workflow_reports.py): the deployment and the workflow from the execution's ARN,
the key from its name and start day (or the next day), no listing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from botocore.exceptions import ClientError

from hsmdr.workflow_reports import candidate_stems, stored_report, summary_lines, workflow_of

RESTORE = "arn:aws:states:us-west-2:123456789012:execution:prod-restore-cluster:restore-1"
REPLACE = "arn:aws:states:us-east-1:123456789012:execution:prod-replace-hsm:abc"
DRILL = "arn:aws:states:us-east-1:123456789012:execution:prod-dr-drill:abc"
STARTED = datetime(2026, 3, 1, 23, 59, 50, tzinfo=UTC)


def denied(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetObject")


class Fakes:
    def __init__(self, objects: dict[str, str], parameter: bool = True) -> None:
        self.objects, self.parameter = objects, parameter
        self.regions: set[str] = set()
        self.asked: list[str] = []

    def __call__(self, service: str, region: str) -> Any:
        self.regions.add(region)
        return self

    def get_parameter(self, Name: str) -> dict[str, Any]:
        if not self.parameter:
            raise ClientError({"Error": {"Code": "ParameterNotFound"}}, "GetParameter")
        assert Name == "/hsmdr/prod/reports-bucket"
        return {"Parameter": {"Value": "bucket"}}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.asked.append(Key)
        if Key not in self.objects:
            raise denied("AccessDenied")  # what S3 says without ListBucket
        return {"Body": BytesIO(self.objects[Key].encode())}


def test_the_workflow_and_deployment_come_from_the_arn() -> None:
    assert workflow_of(RESTORE) == ("prod", "reports/restores/")
    assert workflow_of(REPLACE) == ("prod", "reports/replacements/")
    assert workflow_of(DRILL) is None


def test_the_report_of_a_run_past_midnight_is_found_on_the_next_day() -> None:
    stems = candidate_stems("reports/restores/", RESTORE, STARTED)
    assert stems == [
        "reports/restores/2026-03-01-restore-1",
        "reports/restores/2026-03-02-restore-1",
    ]
    stem = stems[1]
    fakes = Fakes({f"{stem}.json": json.dumps({"status": "FAILED"}), f"{stem}.html": "<p>"})
    found = stored_report(RESTORE, STARTED, fakes)
    assert found is not None
    assert found["report"] == {"status": "FAILED"} and found["html"] == "<p>"
    assert found["json_key"] == f"{stem}.json"
    assert fakes.regions == {"us-west-2"}  # the execution's region: the DR stack's bucket
    assert fakes.asked == [f"{stems[0]}.json", f"{stem}.json", f"{stem}.html"]


def test_what_cannot_be_read_is_said() -> None:
    missing = stored_report(RESTORE, STARTED, Fakes({}))
    assert missing is not None and "no report of this execution" in missing["error"]
    unknown = stored_report(RESTORE, STARTED, Fakes({}, parameter=False))
    assert unknown is not None and "/hsmdr/prod/reports-bucket" in unknown["error"]
    assert summary_lines(unknown)[-1].startswith("Stored report: not read:")
    assert stored_report(DRILL, STARTED, Fakes({})) is None


def test_the_summary_names_the_report_and_its_measures() -> None:
    line = summary_lines(
        {
            "bucket": "b",
            "json_key": "reports/restores/x.json",
            "report": {"status": "SUCCEEDED", "rto_seconds": 61.2, "rpo_seconds": 3600},
        }
    )[-1]
    assert line == (
        "Stored report: s3://b/reports/restores/x.json (and .html): SUCCEEDED, RTO 61s, RPO 3600s"
    )
