"""What the vault refresh makes of its key capture (lambdas/vault/keys.py)."""

from __future__ import annotations

import json

from lambdas.vault.keys import (
    CAPTURED,
    CHANGED,
    FAILED,
    VAULT_KEYS_NOT_CAPTURED,
    capture_outcome,
    capture_permission,
)

MANIFEST = "manifests/cluster-sourceclustera/20261202T020000Z.json"


def answer(comparison: dict[str, object]) -> dict[str, object]:
    return {"status": "SUCCEEDED", "object_key": MANIFEST, "keys": 6, "comparison": comparison}


def test_a_capture_with_no_change_is_captured() -> None:
    outcome = capture_outcome(answer({"status": "UNCHANGED", "code": None, "summary": "ok"}), None)
    assert outcome["status"] == CAPTURED and outcome["code"] is None
    assert outcome["manifest_key"] == MANIFEST and outcome["comparison"] == "UNCHANGED"


def test_keys_gone_since_the_previous_vault_manifest_are_changed_with_the_finding() -> None:
    comparison = {
        "status": "CHANGED",
        "code": "VAULT_KEYS_CHANGED",
        "summary": "VAULT_KEYS_CHANGED: 1 gone",
        "missing": ["'aes-payments-2' (256-bit AES secret key, id 02)"],
        "changed": [],
        "next_step": "restore from the vault backup made before this one",
    }
    outcome = capture_outcome(answer(comparison), None)
    assert outcome["status"] == CHANGED and outcome["code"] == "VAULT_KEYS_CHANGED"
    assert outcome["missing"] == comparison["missing"]
    assert outcome["next_step"] == comparison["next_step"]


def test_a_failed_capture_names_the_error_without_its_stack_trace() -> None:
    cause = json.dumps(
        {
            "errorType": "KeyManifestCaptureFailed",
            "errorMessage": "vault cluster cluster-x: HsmUnreachable: no slot",
            "stackTrace": ['  File "/var/task/lambdas/keycheck/capture_handler.py"'],
        }
    )
    outcome = capture_outcome(None, {"Error": "KeyManifestCaptureFailed", "Cause": cause})
    assert outcome["status"] == FAILED and outcome["code"] == VAULT_KEYS_NOT_CAPTURED
    assert "HsmUnreachable: no slot" in outcome["summary"]
    assert "/var/task" not in outcome["summary"]
    assert capture_outcome("not a report", None)["status"] == FAILED


def test_the_rule_names_a_group_and_the_hsm_ports_only() -> None:
    rule = capture_permission("sg-0123456789abcdef0", "exec-1")
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 2223, 2225)
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == ["sg-0123456789abcdef0"]
    assert "IpRanges" not in rule
