"""The vault's own key manifests, pure: the network rule that lets the vault's key
verifier reach a vault cluster's HSM during a refresh, and what the refresh makes of
the capture's answer (lambdas/keycheck/capture_handler.py, vault mode).

While the refresh's HSM is ACTIVE (before it is removed, so the manifest describes the
very vault backup the removal makes), OpenCaptureNetwork lets the verifier's group in
to the vault cluster's security group (made by CloudHSM, tagged with the refresh id
first), CaptureKeys invokes the capture, and RecordCapture revokes both rules and keeps
the outcome in `run.keys`:

- CAPTURED: the manifest is stored (under the production cluster's id); the vault's
  previous manifest of that cluster had every key, same KCVs (or there was none);
- CHANGED (`VAULT_KEYS_CHANGED`): keys gone or changed since the vault's previous
  manifest of that cluster; the refresh still makes and keeps the vault backup (it is
  evidence, and retention keeps the older ones) and pages once it is done;
- FAILED (`VAULT_KEYS_NOT_CAPTURED`): no manifest (HSM unreachable, refused login, the
  cluster's tags did not prove it the vault's); the refresh still makes its backup,
  deletes its HSM as always, and pages: a restore from that vault backup is compared
  with an older vault manifest, and says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.alerting.workflow_alerts import error_summary

HSM_PORTS = (2223, 2225)  # CloudHSM client to HSM (docs/cloudhsm-facts.md)
VAULT_KEYS_NOT_CAPTURED = "VAULT_KEYS_NOT_CAPTURED"
CAPTURED, CHANGED, FAILED = "CAPTURED", "CHANGED", "FAILED"
NOT_CAPTURED_NEXT_STEP = (
    "open the vault's capture-key-manifest function's log group; until a refresh captures "
    "again, a restore from this vault backup is checked against the vault's previous "
    "manifest of the cluster: docs/runbooks/vault.md#keys"
)


def capture_permission(group_id: str, refresh_id: str) -> dict[str, Any]:
    """TCP 2223-2225 to or from `group_id` (a security group reference)."""
    return {
        "IpProtocol": "tcp",
        "FromPort": HSM_PORTS[0],
        "ToPort": HSM_PORTS[1],
        "UserIdGroupPairs": [
            {"GroupId": group_id, "Description": f"cloudhsm-dr vault capture {refresh_id}"[:255]}
        ],
    }


def capture_outcome(capture: Any, failure: Mapping[str, Any] | None) -> dict[str, Any]:
    """`run.keys` from the capture's answer, or from its error."""
    if failure is not None or not isinstance(capture, Mapping):
        name, message = (
            error_summary(failure)
            if failure is not None
            else ("NoAnswer", f"the capture answered {type(capture).__name__}")
        )
        return {
            "status": FAILED,
            "code": VAULT_KEYS_NOT_CAPTURED,
            "summary": f"{VAULT_KEYS_NOT_CAPTURED}: the vault's key manifest was not "
            f"captured: {name}: {message}",
            "next_step": NOT_CAPTURED_NEXT_STEP,
        }
    comparison = capture.get("comparison") or {}
    kept = {
        "manifest_key": capture.get("object_key"),
        "keys": capture.get("keys"),
        "comparison": comparison.get("status"),
    }
    if comparison.get("code"):
        return {
            **kept,
            "status": CHANGED,
            "code": comparison["code"],
            "summary": comparison.get("summary", ""),
            "missing": list(comparison.get("missing") or []),
            "changed": list(comparison.get("changed") or []),
            "next_step": comparison.get("next_step"),
        }
    return {**kept, "status": CAPTURED, "code": None, "summary": comparison.get("summary", "")}
