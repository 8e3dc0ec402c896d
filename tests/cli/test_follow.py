"""`hsmdr follow`: re-attach to a run by its ARN or its restore id, see its phases (not
every state), each HSM, the time since the execution started and an estimate; Ctrl-C
detaches with the command to re-attach."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from hsmdr.cli import main
from hsmdr.workflows import follow
from tests.conftest import SANDBOX_CONFIG

ARN = (
    "arn:aws:states:us-east-1:123456789012:execution:hsmdr-sandbox-restore-cluster:"
    "r1-20260101T030000Z"
)
STARTED = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
CLUSTER = "cluster-restored01"


def entered(name: str, minute: int, output: str = "") -> list[dict[str, Any]]:
    at = STARTED + timedelta(minutes=minute)
    return [
        {"type": "TaskStateEntered", "timestamp": at, "stateEnteredEventDetails": {"name": name}},
        {
            "type": "TaskStateExited",
            "timestamp": at,
            "stateExitedEventDetails": {"name": name, "output": output},
        },
    ]


# What the history holds at each poll: states of two phases, then the end.
POLLS = [
    entered("Start", 0) + entered("IdentifyBackup", 0),
    entered("Start", 0)
    + entered("IdentifyBackup", 0)
    + entered("ClusterToCreate?", 1)
    + entered("CreateCluster", 1, f'{{"cluster_id": "{CLUSTER}"}}')
    + entered("WaitForCluster", 2)
    + entered("CheckCluster", 6),
    entered("Start", 0) + entered("CreateCluster", 1, f'{{"cluster_id": "{CLUSTER}"}}'),
]


class Polled:
    """A Step Functions client whose run moves on by one poll per describe."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.poll = -1
        self.listed: list[str] = []

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.poll += 1
        status = self.statuses[min(self.poll, len(self.statuses) - 1)]
        return {"executionArn": executionArn, "status": status, "startDate": STARTED}

    def get_paginator(self, name: str) -> Any:
        client = self

        class Pages:
            def paginate(self, **request: Any) -> list[dict[str, Any]]:
                if name == "list_state_machines":
                    return [
                        {
                            "stateMachines": [
                                {
                                    "name": "hsmdr-sandbox-restore-cluster",
                                    "stateMachineArn": "arn:sm:restore",
                                }
                            ]
                        }
                    ]
                if name == "list_executions":
                    client.listed.append(request["stateMachineArn"])
                    return [
                        {
                            "executions": [
                                {
                                    "name": "r1-20251231T000000Z",
                                    "status": "FAILED",
                                    "startDate": STARTED - timedelta(days=1),
                                    "executionArn": ARN + "-old",
                                },
                                {
                                    "name": "r1-20260101T030000Z",
                                    "status": "RUNNING",
                                    "startDate": STARTED,
                                    "executionArn": ARN,
                                },
                                {
                                    "name": "r10-20260101T030000Z",
                                    "status": "RUNNING",
                                    "startDate": STARTED,
                                    "executionArn": ARN + "-other",
                                },
                            ]
                        }
                    ]
                return [{"events": POLLS[min(client.poll, len(POLLS) - 1)]}]

        return Pages()


def hsms(clusters: list[str]) -> list[dict[str, str]]:
    return [
        {"cluster_id": c, "hsm_id": "hsm-aaa", "zone": "us-east-1a", "state": "CREATE_IN_PROGRESS"}
        for c in clusters
    ]


def test_without_a_terminal_it_prints_one_line_per_phase_change_with_the_time_since_start() -> None:
    out = io.StringIO()
    client = Polled(["RUNNING", "RUNNING", "SUCCEEDED"])
    clock = iter([STARTED + timedelta(minutes=m) for m in (3, 11, 12)])
    document = follow(
        client, ARN, out=out, sleep=lambda _s: None, now=lambda: next(clock), hsms=hsms, live=False
    )
    assert document["status"] == "SUCCEEDED"
    assert out.getvalue().splitlines() == [
        # 3 minutes after the execution started (not after following began)
        "[3:00] choosing the backup (about 73 min left)",
        "[11:00] restoring the cluster from the backup (about 63 min left); "
        "HSMs: hsm-aaa CREATE_IN_PROGRESS",
    ]


def test_a_phase_shorter_than_the_poll_still_gets_its_line() -> None:
    # Given a run whose first look sees nothing yet and whose second sees it past two
    # phases (choosing the backup lasted less than one poll)
    class TwoLooks(Polled):
        def get_paginator(self, name: str) -> Any:
            client = self

            class Pages:
                def paginate(self, **request: Any) -> list[dict[str, Any]]:
                    return [{"events": [] if client.poll == 0 else POLLS[1]}]

            return Pages()

    out = io.StringIO()
    clock = iter([STARTED + timedelta(minutes=m) for m in (0, 7)])
    follow(
        TwoLooks(["RUNNING", "SUCCEEDED"]),
        ARN,
        out=out,
        sleep=lambda _s: None,
        now=lambda: next(clock),
        hsms=hsms,
        live=False,
    )
    # Then the log has both phases, the passed one at the time it was entered
    assert out.getvalue().splitlines() == [
        "[0:00] choosing the backup",
        "[7:00] restoring the cluster from the backup (about 67 min left); "
        "HSMs: hsm-aaa CREATE_IN_PROGRESS",
    ]


def test_on_a_terminal_the_view_is_redrawn_in_place() -> None:
    out = io.StringIO()
    client = Polled(["RUNNING", "RUNNING", "SUCCEEDED"])
    clock = iter([STARTED + timedelta(minutes=m) for m in (3, 11, 12)])
    follow(
        client, ARN, out=out, sleep=lambda _s: None, now=lambda: next(clock), hsms=hsms, live=True
    )
    text = out.getvalue()
    assert "restore-cluster RUNNING: 11:00 since it started, about 63 min left" in text
    assert "  done  choosing the backup\n  now   restoring the cluster from the backup" in text
    assert f"  HSM   {CLUSTER} hsm-aaa us-east-1a CREATE_IN_PROGRESS" in text
    assert "\x1b[" in text and "CheckCluster" not in text and "WaitForCluster" not in text


def test_ctrl_c_detaches_with_the_command_to_re_attach(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = Polled(["RUNNING"])
    monkeypatch.setattr(boto3, "client", lambda *_a, **_k: client)

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("time.sleep", interrupt)
    assert main(["follow", ARN]) == 130
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.splitlines()[-1] == (
        "hsmdr: detached: the workflow keeps running in Step Functions; re-attach with: "
        f"hsmdr follow {ARN}"
    )


def test_a_restore_id_re_attaches_to_its_newest_running_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = Polled(["SUCCEEDED"])
    monkeypatch.setattr(boto3, "client", lambda *_a, **_k: client)
    assert main(["follow", "r1", "--config", str(SANDBOX_CONFIG), "--json"]) == 0
    assert client.listed == ["arn:sm:restore"]
    assert f'"execution_arn": "{ARN}"' in capsys.readouterr().out


def test_an_unknown_restore_id_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = Polled(["SUCCEEDED"])
    monkeypatch.setattr(boto3, "client", lambda *_a, **_k: client)
    assert main(["follow", "nope", "--config", str(SANDBOX_CONFIG), "--region", "us-east-1"]) == 2
    assert "no restore nope of hsmdr-sandbox in us-east-1" in capsys.readouterr().err
