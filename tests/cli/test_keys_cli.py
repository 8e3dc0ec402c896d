"""`hsmdr keys manifest` and `hsmdr sandbox verify-keys`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hsmdr.cli import main
from tests.conftest import SANDBOX_CONFIG
from tests.softhsm_support import require_softhsm


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert isinstance(document, dict)
    return code, document


def test_sandbox_verify_keys_faithful_restore_exits_zero(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require_softhsm()
    monkeypatch.setattr("hsmdr.commands.keys.SANDBOX_PROFILE", "test")
    code, document = run_json(capsys, "sandbox", "verify-keys")
    assert code == 0
    assert document["status"] == "SUCCEEDED"
    assert document["findings"] == []
    assert document["canary"]["ok"] is True
    assert document["cluster_id"] != document["source_cluster_id"] == "cluster-sandboxprimary"


@pytest.mark.parametrize(
    ("fault", "code", "label"),
    [
        ("key-missing", "KEY_MISSING", "aes-payments-2"),
        ("key-corrupt", "KCV_MISMATCH", "aes-payments-3"),
        ("bad-pin", "LOGIN_FAILED", None),
    ],
)
def test_sandbox_verify_keys_names_each_fault(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    code: str,
    label: str | None,
) -> None:
    require_softhsm()
    monkeypatch.setattr("hsmdr.commands.keys.SANDBOX_PROFILE", "test")
    exit_code = main(["sandbox", "verify-keys", "--fault", fault])
    out = capsys.readouterr().out
    assert exit_code == 1
    assert out.splitlines()[0].endswith(": FAILED")
    finding_rows = [line for line in out.splitlines() if line.startswith(code)]
    assert len(finding_rows) == 1
    assert (label or "-") in finding_rows[0]
    assert f"Faults           {fault}" in out
    assert "{'" not in out


def test_sandbox_verify_keys_unknown_fault_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    require_softhsm()
    code, document = run_json(capsys, "sandbox", "verify-keys", "--fault", "meteor")
    assert code == 2 and document["error"] == "usage"
    assert "'meteor' is not a fault" in document["message"]


def test_keys_manifest_without_the_section_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document = run_json(
        capsys,
        "keys",
        "manifest",
        "--cluster",
        "cluster-sandboxprimary",
        "--config",
        str(SANDBOX_CONFIG),
    )
    assert code == 2
    assert "key_verification is not configured" in document["message"]


class FakeLambda:
    def __init__(self, payload: dict[str, Any], error: str | None = None) -> None:
        self.payload = payload
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        response: dict[str, Any] = {"Payload": io.BytesIO(json.dumps(self.payload).encode())}
        if self.error:
            response["FunctionError"] = self.error
        return response


@pytest.fixture
def key_config(tmp_path: Path) -> Path:
    data = yaml.safe_load(SANDBOX_CONFIG.read_text())
    data["key_verification"] = {
        "vpc_id": "vpc-0123456789abcdef0",
        "subnet_ids": ["subnet-0123456789abcdef0"],
        "hsm_security_group_id": "sg-0123456789abcdef0",
        "crypto_user_secret_name": "hsmdr/key-verifier",
    }
    path = tmp_path / "keys.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_keys_manifest_invokes_the_capture_function_for_the_cluster(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, key_config: Path
) -> None:
    fake = FakeLambda(
        {
            "status": "SUCCEEDED",
            "bucket": "manifests",
            "manifests": [
                {
                    "cluster_id": "cluster-sandboxprimary",
                    "object_key": "manifests/cluster-sandboxprimary/20250301T020000Z.json",
                    "captured_at": "2025-03-01T02:00:00+00:00",
                    "keys": 8,
                    "users": 3,
                    "notes": [],
                }
            ],
            "errors": [],
        }
    )
    monkeypatch.setattr("boto3.client", lambda service, **_: fake)
    code = main(
        ["keys", "manifest", "--cluster", "cluster-sandboxprimary", "--config", str(key_config)]
    )
    out = capsys.readouterr().out
    assert code == 0
    [call] = fake.calls
    assert call["FunctionName"] == "hsmdr-sandbox-capture-key-manifest"
    assert json.loads(call["Payload"]) == {"cluster_ids": ["cluster-sandboxprimary"]}
    assert "manifests/cluster-sandboxprimary/20250301T020000Z.json" in out
    assert "Key manifest capture: SUCCEEDED" in out


def test_keys_manifest_reports_a_failed_capture(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, key_config: Path
) -> None:
    fake = FakeLambda(
        {
            "errorType": "KeyManifestCaptureFailed",
            "errorMessage": "cluster-sandboxprimary: no slot",
        },
        error="Unhandled",
    )
    monkeypatch.setattr("boto3.client", lambda service, **_: fake)
    code, document = run_json(
        capsys,
        "keys",
        "manifest",
        "--cluster",
        "cluster-sandboxprimary",
        "--config",
        str(key_config),
    )
    assert code == 1
    assert document["error"] == "KeyManifestCaptureFailed"
    assert "no slot" in document["message"]
