"""What the CLI says and how it exits when a run is only started, when input is bad, and
when a restore looks like a mistake (issue 11, items 7 and 8)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from hsmdr.cli import main
from sandbox.restore_scenarios import subnets
from sandbox.session import Sandbox
from tests.conftest import SANDBOX_CONFIG, Synthesized
from tests.sandbox.restore_support import SOURCE
from tests.speedups import quick_follow

RUNNING_ARN = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-sandbox-x:run-1"


class _Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self._pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self._pages


class RunningStepFunctions:
    """A Step Functions client whose every execution is still RUNNING once started (and
    a CloudHSM client that finds no source cluster: it was lost)."""

    def __init__(self, status: str = "RUNNING") -> None:
        self.status = status
        self.started: list[dict[str, Any]] = []

    def get_paginator(self, name: str) -> _Pages:
        if name == "list_state_machines":
            machines = [
                {"name": f"hsmdr-sandbox-{n}", "stateMachineArn": f"arn:sm:{n}"}
                for n in ("restore-cluster", "on-demand-backup")
            ]
            return _Pages([{"stateMachines": machines}])
        return _Pages([{"events": []}])  # get_execution_history: nothing yet

    def start_execution(self, **request: Any) -> dict[str, str]:
        self.started.append(request)
        return {"executionArn": RUNNING_ARN}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"executionArn": executionArn, "status": self.status}

    def describe_clusters(self, **_: Any) -> dict[str, Any]:  # the lost source: gone
        return {"Clusters": []}


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> RunningStepFunctions:
    client = RunningStepFunctions()
    monkeypatch.setattr(boto3, "client", lambda *_a, **_k: client)
    return client


# Started is not succeeded ------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["restore", "--source-cluster", "cluster-lostlostlostq", "--restore-id", "r1"], "Restore"),
        (["backup", "create", "--cluster", SOURCE], "On-demand backup"),
    ],
)
def test_a_run_started_without_follow_is_started_not_succeeded(
    running: RunningStepFunctions,
    argv: list[str],
    what: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an execution that is still RUNNING once started (no --follow)
    # When the command returns
    code = main([*argv, "--config", str(SANDBOX_CONFIG), "--json"])
    document = json.loads(capsys.readouterr().out)
    # Then it says STARTED with the ARN and how to follow it, and exits 0
    assert code == 0 and len(running.started) == 1
    assert document["status"] == "STARTED" and document["execution_status"] == "RUNNING"
    assert document["follow_command"] == f"hsmdr follow {RUNNING_ARN}"
    assert main([*argv, "--config", str(SANDBOX_CONFIG)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(what) and "STARTED" in text and "SUCCEEDED" not in text
    assert f"hsmdr follow {RUNNING_ARN}" in text


def test_follow_waits_for_the_end_and_exits_by_the_result(
    running: RunningStepFunctions, capsys: pytest.CaptureFixture[str]
) -> None:
    running.status = "FAILED"
    assert main(["follow", RUNNING_ARN, "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "FAILED" and document["execution_arn"] == RUNNING_ARN


# Bad input: refused with the reason, exit 2 -------------------------------------------


def test_hsm_count_beyond_the_configured_quota_is_refused_before_starting(
    running: RunningStepFunctions, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["restore", "--config", str(SANDBOX_CONFIG), "--source-cluster", SOURCE]
    assert main([*argv, "--hsm-count", "50"]) == 2
    assert "quota of 28 HSMs per cluster" in capsys.readouterr().err
    assert main([*argv, "--hsm-count", "7"]) == 2
    assert "quotas.hsms_per_region" in capsys.readouterr().err
    assert running.started == []


def test_report_of_an_unknown_execution_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    unknown = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-sandbox-x:nope"
    with mock_aws():
        code = main(["report", unknown, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 2 and document["error"] == "usage"
    assert document["message"].startswith(f"EXECUTION_ARN: no execution {unknown}")
    assert (
        "botocore" not in document["message"]
        and "(ExecutionDoesNotExist)" not in document["message"]
    )


def test_a_usage_error_with_json_prints_a_json_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["restore", "--config", str(SANDBOX_CONFIG), "--json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "FAILED" and document["error"] == "usage"
    assert "--source-cluster" in document["message"]
    assert main(["sandbox", "bogus-command", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == "usage"


def test_sandbox_restore_in_a_region_the_sandbox_does_not_deploy_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sandbox", "restore", "--region", "eu-west-1"]) == 2
    err = capsys.readouterr().err
    assert "deploys to us-east-1, us-west-2, not eu-west-1" in err


@pytest.mark.parametrize("hours", ["nan", "inf", "-1", "1e300"])
@pytest.mark.parametrize("command", ["verify-backups", "copy-backups"])
def test_advance_hours_must_be_a_finite_number_zero_or_more(
    command: str, hours: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sandbox", command, "--advance-hours", hours, "--json"]) == 2
    message = json.loads(capsys.readouterr().out)["message"]
    assert f"argument --advance-hours: {hours!r} is not a number of hours, 0 or more" in message


# Warnings before a restore -------------------------------------------------------------


@pytest.fixture
def healthy(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The stacks deployed, the protected cluster alive with its ACTIVE HSMs."""
    quick_follow(monkeypatch)
    with Sandbox(profile="test", templates=synthesized.templates) as sandbox:
        sandbox.seed_protected_clusters()
        yield sandbox


def test_restoring_a_cluster_that_still_serves_needs_force_and_says_why(
    healthy: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    one_subnet = subnets(healthy, "us-east-1")[0]
    argv = [
        "restore", "--config", str(SANDBOX_CONFIG), "--source-cluster", SOURCE,
        "--subnet-ids", one_subnet, "--hsm-count", "1", "--follow", "--json",
    ]  # fmt: skip
    # Given a source cluster with ACTIVE HSMs, When restored without --force
    assert main(argv) == 2
    message = json.loads(capsys.readouterr().out)["message"]
    # Then it is refused, naming the HSMs and the flag, and nothing started
    assert f"{SOURCE} in us-east-1 still has 2 ACTIVE HSM(s)" in message
    assert "run again with --force" in message
    client = boto3.client("stepfunctions", region_name="us-east-1")
    restore_machine = healthy.deployment.state_machine_arn("hsmdr-sandbox-restore-cluster")
    assert client.list_executions(stateMachineArn=restore_machine)["executions"] == []
    # When forced, with one subnet, Then it runs and warns of both
    assert main([*argv, "--force"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["execution_status"] == "SUCCEEDED"
    [healthy_warning, subnet_warning] = sorted(document["warnings"], key=lambda w: "subnet" in w)
    assert "still has 2 ACTIVE HSM(s)" in healthy_warning and "--force" in healthy_warning
    assert subnet_warning.startswith(f"one subnet ({one_subnet}): every HSM")
