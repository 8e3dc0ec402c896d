"""Exit codes and the one line an operator reads when AWS cannot be reached or refuses
them (docs/cli.md): 0 ok, 1 findings or a failed run, 2 usage or config, 3 AWS access.

The AWS failures are botocore's own exceptions: raised by a real client with no
credentials or an SSO profile that was never logged in, and by a real client stubbed
(botocore's Stubber) to answer AccessDenied, ExpiredToken, ... ."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    EndpointConnectionError,
    NoCredentialsError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from botocore.stub import Stubber

from hsmdr.cli import main
from tests.conftest import SANDBOX_CONFIG

BACKUP_CREATE = ["backup", "create", "--config", str(SANDBOX_CONFIG)]
BACKUP_CREATE += ["--cluster", "cluster-sandboxprimary"]
ARN = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-sandbox-on-demand-backup:x"


@pytest.fixture
def no_aws_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credentials anywhere botocore looks: env, files, SSO cache, IMDS, containers."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # ~/.aws/sso/cache: empty
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # boto3's default session reads the environment and config once: start a new one,
    # as each hsmdr process does
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return tmp_path


def failure(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    """Exit code and the one line on stderr (nothing on stdout, no traceback)."""
    code = main(argv)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("hsmdr: ")
    return code, lines[0]


def test_no_credentials_says_to_set_aws_profile(
    no_aws_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no credentials at all, When a command calls AWS (a real client, real chain)
    code, line = failure(capsys, BACKUP_CREATE)
    # Then exit 3 and what to do
    assert code == 3
    assert "no credentials found" in line and "set AWS_PROFILE" in line
    assert "aws sso login" in line


def test_an_sso_profile_never_logged_in_says_to_run_aws_sso_login(
    no_aws_environment: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (no_aws_environment / "config").write_text(
        "[profile ops]\n"
        "sso_session = corp\n"
        "sso_account_id = 123456789012\n"
        "sso_role_name = HsmOperator\n"
        "region = us-east-1\n"
        "[sso-session corp]\n"
        "sso_start_url = https://corp.awsapps.com/start\n"
        "sso_region = us-east-1\n"
    )
    monkeypatch.setenv("AWS_PROFILE", "ops")
    code, line = failure(capsys, BACKUP_CREATE)
    assert code == 3
    assert "the SSO session (AWS_PROFILE=ops) has expired or was never started" in line
    assert "run `aws sso login --profile ops`" in line


class Raising:
    """A client whose every call raises `error` as botocore raises it before a request
    (credential resolution happens then)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def call(*_args: Any, **_kwargs: Any) -> Any:
            raise self.error

        return call


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (NoCredentialsError(), "no credentials found (AWS_PROFILE=ops)"),
        (
            TokenRetrievalError(provider="sso", error_msg="Token has expired and refresh failed"),
            "run `aws sso login --profile ops`",
        ),
        (
            SSOTokenLoadError(error_msg="Token for corp does not exist"),
            "run `aws sso login --profile ops`",
        ),
        (UnauthorizedSSOTokenError(), "run `aws sso login --profile ops`"),
        (
            EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com/"),
            "cannot reach the service",
        ),
    ],
)
def test_credential_and_connection_errors_exit_3_with_what_to_do(
    error: Exception,
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "ops")
    monkeypatch.setattr(boto3, "client", lambda *_a, **_k: Raising(error))
    code, line = failure(capsys, BACKUP_CREATE)
    assert code == 3 and expected in line
    # --json: the same, as one JSON document on stdout
    assert main([*BACKUP_CREATE, "--json"]) == 3
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "FAILED" and document["error"] == "aws"
    assert expected in document["message"]


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """A real Step Functions client whose answers the test sets (botocore's Stubber)."""
    client = boto3.client(
        "stepfunctions",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    monkeypatch.setattr(boto3, "client", lambda *_a, **_k: client)
    with Stubber(client) as stubber:
        yield stubber


DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/ReadOnly/me is not authorized to "
    "perform: states:ListStateMachines because no identity-based policy allows the "
    "states:ListStateMachines action"
)


@pytest.mark.parametrize(
    "answer",
    [
        ("AccessDeniedException", DENIED, "AWS denied ListStateMachines (AWS_PROFILE=ops)"),
        ("AccessDenied", DENIED, "not authorized to perform: states:ListStateMachines"),
        ("ExpiredToken", "The security token included in the request is expired", "expired"),
        ("ExpiredTokenException", "The security token is expired", "aws sso login"),
        ("UnrecognizedClientException", "The security token is invalid", "does not recognise"),
        ("InvalidClientTokenId", "The security token is invalid", "set AWS_PROFILE"),
    ],
)
def test_access_refused_by_aws_exits_3_with_one_line(
    answer: tuple[str, str, str],
    stubbed: Stubber,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, message, expected = answer
    monkeypatch.setenv("AWS_PROFILE", "ops")
    stubbed.add_client_error(
        "list_state_machines", service_error_code=code, service_message=message
    )
    exit_code, line = failure(capsys, BACKUP_CREATE)
    assert exit_code == 3 and expected in line
    assert "botocore" not in line and "An error occurred" not in line


def test_any_other_aws_error_is_a_failed_run_not_an_access_problem(
    stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed.add_client_error(
        "list_state_machines", service_error_code="ThrottlingException", service_message="Rate"
    )
    code, line = failure(capsys, BACKUP_CREATE)
    assert code == 1
    assert line == "hsmdr: AWS: ListStateMachines failed: ThrottlingException: Rate"


def test_usage_and_config_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = failure(capsys, ["backup", "create", "--cluster", "cluster-sandboxprimary"])
    assert code == 2 and "--config PATH" in line and "--deployment NAME" in line
    code, line = failure(capsys, [*BACKUP_CREATE[:3], "/nonexistent.yaml", *BACKUP_CREATE[4:]])
    assert code == 2 and "cannot read the file" in line
    assert main(["backup", "explode"]) == 2
    assert "invalid choice: 'explode'" in capsys.readouterr().err


def test_a_traceback_is_shown_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(boto3, "client", lambda *_a, **_k: Raising(NoCredentialsError()))
    monkeypatch.setenv("HSMDR_DEBUG", "1")
    with pytest.raises(NoCredentialsError):
        main(BACKUP_CREATE)


def test_ctrl_c_exits_130_and_says_the_workflow_keeps_running(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(boto3, "client", lambda *_a, **_k: Raising(KeyboardInterrupt()))
    code, line = failure(capsys, ["follow", ARN])
    assert code == 130 and "keeps running" in line and line.endswith(f"hsmdr follow {ARN}")


def test_a_missing_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "moto" else real(name, *a)
    )
    code, line = failure(capsys, ["sandbox", "demo"])
    assert code == 2
    assert line.startswith("hsmdr: this command needs the [sandbox] extra (No module named")
    assert "pip install -e '.[sandbox]'" in line
