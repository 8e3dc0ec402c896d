"""The recovery document's "Last drills" section: the newest drill reports the drill
function wrote to S3 (bucket named by the drill stack's SSM parameter), read with moto,
and what the section says when there is no parameter, no report or no access."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from hsmdr.inventory import drill_lines, gather, markdown, read_drills
from lambdas.drill.report import build_report, render_markdown, to_json
from stacks.config import load_config
from stacks.names import dr_drill_report_parameter
from tests.conftest import SANDBOX_CONFIG

DEPLOYMENT = "prod"
REGION = "us-east-1"
BUCKET = "prod-drill-reports"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield


def clients() -> tuple[Any, Any]:
    return boto3.client("ssm", region_name=REGION), boto3.client("s3", region_name=REGION)


def deploy_drills(bucket: str = BUCKET, *, create_bucket: bool = True) -> None:
    """What the drill stack leaves: the report bucket and the parameter naming it."""
    ssm, s3 = clients()
    if create_bucket:
        s3.create_bucket(Bucket=bucket)
    ssm.put_parameter(Name=dr_drill_report_parameter(DEPLOYMENT), Value=bucket, Type="String")


def drill_job(
    name: str, day: int, *, restore: float, verified: float, **run: Any
) -> dict[str, Any]:
    start = T0 + timedelta(days=day)

    def at(seconds: float) -> str:
        return (start + timedelta(seconds=seconds)).isoformat()

    base_run: dict[str, Any] = {
        "step": "teardown",
        "cluster": {"cluster_id": f"cluster-drill{day}"},
        "hsms": [{"hsm_id": "hsm-1", "created_at": at(60), "gone_at": at(verified + 600)}],
        "findings": [],
        "error": None,
        "keys": {"status": "SUCCEEDED", "keys_expected": 12, "keys_found": 12},
        "network": {"status": "OPEN"},
        "teardown": {"done": True, "actions": ["deleted drill cluster"], "left": []},
        "times": {
            "create_requested": at(0),
            "hsm_active": at(restore),
            "keys_verified": at(verified),
        },
    }
    base_run.update(run)
    return {
        "plan": {
            "execution": f"arn:aws:states:{REGION}:123456789012:execution:prod-dr-drill:{name}",
            "deployment": DEPLOYMENT,
            "trigger": "schedule",
            "started_at": at(0),
            "source_cluster_id": "cluster-sourcesource",
            "source": "dr-copy",
            "region": "us-west-2",
            "subnets": {"us-west-2a": "subnet-0a0a0a0a"},
            "backup": {"backup_id": f"backup-{name}", "create_timestamp": at(-7200)},
            "key_verification": {"configured": True, "required": True},
            "notes": [],
        },
        "run": base_run,
    }


def store(job: dict[str, Any], *, rto_minutes: float = 60) -> dict[str, Any]:
    """Write a drill's JSON and Markdown report as the drill function does."""
    finished = datetime.fromisoformat(job["plan"]["started_at"]) + timedelta(hours=1)
    report = build_report(job, finished, hsm_hour_usd=1.85, rto_minutes=rto_minutes, bucket=BUCKET)
    _, s3 = clients()
    keys = report["report"]
    s3.put_object(Bucket=BUCKET, Key=keys["json_key"], Body=to_json(report).encode())
    s3.put_object(Bucket=BUCKET, Key=keys["markdown_key"], Body=render_markdown(report).encode())
    return report


def test_the_newest_drills_first_with_their_results_against_the_configured_rto(
    aws: None,
) -> None:
    # Given three drills: one passed, one whose keys came back missing, one slow but passed
    deploy_drills()
    store(drill_job("run-1", 1, restore=900, verified=960))
    missing = {"code": "KEY_MISSING", "severity": "error", "message": "k", "next_step": "n"}
    failed = store(
        drill_job(
            "run-2",
            2,
            restore=1200,
            verified=1300,
            findings=[missing],
            keys={"status": "FAILED", "keys_expected": 12, "keys_found": 11},
        )
    )
    store(drill_job("run-3", 3, restore=1500, verified=2400), rto_minutes=60)
    # When the inventory reads them against a 30-minute objective
    ssm, s3 = clients()
    drills = read_drills(ssm, s3, DEPLOYMENT, rto_minutes=30)
    # Then newest first, every field from the stored report
    assert drills["status"] == "FOUND" and drills["bucket"] == BUCKET
    assert drills["reports_found"] == 3
    assert [d["execution_name"] for d in drills["reports"]] == ["run-3", "run-2", "run-1"]
    newest, middle, oldest = drills["reports"]
    assert newest == {
        "execution_name": "run-3",
        "execution": f"arn:aws:states:{REGION}:123456789012:execution:prod-dr-drill:run-3",
        "started_at": "2026-11-05T09:00:00+00:00",
        "finished_at": "2026-11-05T10:00:00+00:00",
        "outcome": "passed",
        "error": None,
        "source_cluster_id": "cluster-sourcesource",
        "backup_id": "backup-run-3",
        "source": "dr-copy",
        "region": "us-west-2",
        "time_to_restore_seconds": 1500.0,
        "time_to_verified_keys_seconds": 2400.0,
        "recovery_time_seconds": 2400.0,
        "rto_minutes": 30,
        "rto_met": False,  # 40 min: met the drill's 60-minute RTO, not today's 30
        "drill_rto_minutes": 60,
        "key_check": "SUCCEEDED",
        "keys_found": 12,
        "keys_expected": 12,
        "teardown": "COMPLETE",
        "markdown_key": "reports/drills/2026-11-05-run-3.md",
    }
    assert (middle["outcome"], middle["error"], middle["key_check"]) == (
        "failed",
        "KEY_MISSING",
        "FAILED",
    )
    assert middle["markdown_key"] == failed["report"]["markdown_key"]
    assert (oldest["recovery_time_seconds"], oldest["rto_met"]) == (960.0, True)
    # And the section says it in words
    text = "\n".join(drill_lines(drills))
    assert "Newest 3 of 3 drill reports in `s3://prod-drill-reports/`" in text
    assert "RTO objective (drills.rto_minutes): 30 min" in text
    assert "- `run-3` passed: started 2026-11-05T09:00:00+00:00" in text
    assert (
        "time to first ACTIVE HSM 25m 0s, to verified keys 40m 0s: recovery time 40m 0s, "
        "OVER the 30 min RTO (the drill measured against 60 min)"
    ) in text
    assert "recovery time 16m 0s, within the 30 min RTO" in text
    assert "- `run-2` **FAILED** (KEY_MISSING)" in text
    assert "key check FAILED (11 of 12 keys); teardown COMPLETE" in text
    assert "backup `backup-run-1` (dr-copy, us-west-2) of cluster `cluster-sourcesource`" in text
    assert "report `s3://prod-drill-reports/reports/drills/2026-11-04-run-2.md`" in text
    # And only the newest N are kept
    limited = read_drills(ssm, s3, DEPLOYMENT, rto_minutes=30, limit=2)
    assert [d["execution_name"] for d in limited["reports"]] == ["run-3", "run-2"]
    assert limited["reports_found"] == 3
    assert "Newest 2 of 3 drill reports" in "\n".join(drill_lines(limited))


def test_no_parameter_means_drills_are_not_deployed(aws: None) -> None:
    ssm, s3 = clients()
    drills = read_drills(ssm, s3, DEPLOYMENT, rto_minutes=60)
    assert (drills["status"], drills["reports"], drills["bucket"]) == ("NOT_DEPLOYED", [], None)
    [line] = drill_lines(drills)
    assert line.startswith("Drills are not deployed (no SSM parameter `/hsmdr/prod/drill-report")
    assert "run `hsmdr drill start --follow --config PATH`" in line


def test_an_empty_bucket_means_no_drill_has_run_yet(aws: None) -> None:
    deploy_drills()
    ssm, s3 = clients()
    drills = read_drills(ssm, s3, DEPLOYMENT, rto_minutes=60)
    assert (drills["status"], drills["reports"], drills["reports_found"]) == ("NO_REPORTS", [], 0)
    [line] = drill_lines(drills)
    assert line == (
        "No drill has run yet (no report in `s3://prod-drill-reports/`): run "
        "`hsmdr drill start --follow --config PATH`."
    )


def test_a_bucket_it_cannot_read_is_said_in_the_section_not_raised(aws: None) -> None:
    deploy_drills("gone-bucket", create_bucket=False)
    ssm, s3 = clients()
    drills = read_drills(ssm, s3, DEPLOYMENT, rto_minutes=60)
    assert drills["status"] == "UNREADABLE" and "NoSuchBucket" in drills["message"]
    [line] = drill_lines(drills)
    assert line.startswith("Could not read the drill reports: An error occurred (NoSuchBucket)")


def test_access_denied_is_said_in_the_section() -> None:
    class Denied:
        def get_parameter(self, **_: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
                "GetParameter",
            )

    drills = read_drills(Denied(), None, DEPLOYMENT, rto_minutes=60)
    assert drills["status"] == "UNREADABLE"
    assert "AccessDeniedException" in drills["message"] and "not allowed" in drills["message"]


def test_a_report_without_its_json_is_listed_as_unreadable(aws: None) -> None:
    deploy_drills()
    store(drill_job("run-1", 1, restore=900, verified=960))
    _, s3 = clients()
    s3.put_object(Bucket=BUCKET, Key="reports/drills/2026-11-09-run-9.md", Body=b"# half")
    ssm, s3 = clients()
    drills = read_drills(ssm, s3, DEPLOYMENT, rto_minutes=60)
    broken, good = drills["reports"]
    assert broken["markdown_key"] == "reports/drills/2026-11-09-run-9.md"
    assert "NoSuchKey" in broken["error"] and good["execution_name"] == "run-1"
    assert "- `reports/drills/2026-11-09-run-9.md`: unreadable: " in "\n".join(drill_lines(drills))


class NoClusters:
    """A CloudHSM gateway that finds nothing: these tests are about the drills."""

    def find_clusters(self, _ids: Any) -> dict[str, Any]:
        return {}

    def iter_backups(self, **_: Any) -> Iterator[Any]:
        return iter(())


def test_the_document_and_its_json_carry_the_drills_even_when_unreadable(aws: None) -> None:
    config = load_config(SANDBOX_CONFIG)
    ssm = boto3.client("ssm", region_name=config.region)
    ssm.put_parameter(
        Name=dr_drill_report_parameter(config.deployment_name), Value="gone", Type="String"
    )
    inventory = gather(config, gateway_for=lambda _region: NoClusters())  # type: ignore[arg-type, return-value]
    assert inventory["drills"]["status"] == "UNREADABLE"
    assert inventory["drills"]["rto_minutes"] == config.drills.rto_minutes
    text = markdown(inventory)
    assert "## Last drills\n\nCould not read the drill reports: " in text
    assert text.index("## Last drills") < text.index("## Contacts and escalation")
