"""Key verification of a restored cluster: the verifier's way in, and what it found.

With `key_verification` configured, the main stack's restore (and a DR stack's, with
`key_verification.regions.<its region>`) invokes its own stack's verify-keys function
(lambdas/keycheck) once the first HSM is ACTIVE, against the source cluster's manifest
captured at or before the backup's time. Before that, OpenKeyNetwork lets the
verifier in: the restored cluster's security group (made by CloudHSM) is tagged with
the restore id, which is what IAM requires before the role may add ingress to a group,
and gets ingress from the verifier's group on TCP 2223-2225; the verifier's group gets
the matching egress.

The rules stay after a main-stack restore: the restored cluster is the one clients and
the daily manifest capture use from now on, and the capture needs the same path. A DR
stack's restore revokes them once the check is recorded (no capture runs there). They
name the two groups only (no address range) and the HSM ports only.

Security groups cannot reference each other across regions: a restore into a region
other than the verifier's (the restore function's own region) does not run the check,
and the report says so.

Pure: the EC2 calls are the handler's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.alerting.workflow_alerts import error_summary

HSM_PORTS = (2223, 2225)  # CloudHSM client to HSM (docs/cloudhsm-facts.md)
NOT_CONFIGURED = (
    "key verification: not configured (no key_verification section in the deployment "
    "config): only the API checks ran; nothing proved the keys came back"
)
KEYS_FAILED = "KeyVerificationFailed"


def not_run(reason: str) -> dict[str, Any]:
    return {"status": "NOT_RUN", "summary": f"key verification: not run: {reason}"}


def other_region(restore_region: str, verifier_region: str) -> dict[str, Any]:
    return not_run(
        f"the key verifier runs in {verifier_region} and the cluster was restored in "
        f"{restore_region} (security groups cannot reference each other across regions); "
        "check the keys before clients rely on them"
    )


def hsm_permission(group_id: str, restore_id: str) -> dict[str, Any]:
    """TCP 2223-2225 to or from `group_id` (a security group reference)."""
    description = f"cloudhsm-dr key verifier, restore {restore_id}"[:255]
    return {
        "IpProtocol": "tcp",
        "FromPort": HSM_PORTS[0],
        "ToPort": HSM_PORTS[1],
        "UserIdGroupPairs": [{"GroupId": group_id, "Description": description}],
    }


def keys_result(keys: Any, failure: Mapping[str, Any] | None) -> dict[str, Any]:
    """The verify-keys function's report (or its error), as the restore keeps it."""
    if failure is not None:
        name, message = error_summary(failure)
        return {
            "status": "FAILED",
            "summary": f"key verification FAILED: the verify-keys function failed: {name}: "
            f"{message}",
            "findings": [
                {
                    "code": "KEY_VERIFICATION_ERROR",
                    "severity": "error",
                    "label": None,
                    "message": f"the verify-keys function failed: {name}: {message}",
                    "next_step": "open the verify-keys function's log group; check a key "
                    "manifest exists at or before the backup's time (hsmdr keys manifest)",
                }
            ],
        }
    if not isinstance(keys, Mapping):
        return not_run(f"the verify-keys function answered {type(keys).__name__}, not a report")
    result = {k: v for k, v in keys.items() if k != "notes"}
    findings = list(keys.get("findings") or [])
    expected, found = keys.get("keys_expected", 0), keys.get("keys_found", 0)
    if keys.get("status") == "SUCCEEDED":
        summary = (
            f"key verification: every key found ({found} of {expected}, manifest "
            f"{keys.get('manifest_key')})"
        )
    else:
        errors = [f for f in findings if f.get("severity") == "error"] or findings
        summary = f"key verification FAILED ({found} of {expected} keys found): " + "; ".join(
            f"{f.get('code')}: {f.get('message')}" for f in errors
        )
    return {**result, "status": keys.get("status", "FAILED"), "summary": summary}


def finding_lines(key_verification: Mapping[str, Any] | None) -> list[str]:
    """The findings for an alert, one a line."""
    if not key_verification or not key_verification.get("findings"):
        return []
    lines = ["Key verification findings (the restored cluster against the manifest):"]
    for f in key_verification["findings"]:
        label = f" {f['label']}" if f.get("label") else ""
        lines.append(f"  - {f.get('severity', '')} {f.get('code')}{label}: {f.get('message')}")
        if f.get("next_step"):
            lines.append(f"      next: {f['next_step']}")
    return lines
