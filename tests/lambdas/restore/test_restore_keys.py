"""What the restore keeps of the key check, and how its report and page word it."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.restore.keys import KEYS_FAILED, hsm_permission, keys_result, other_region
from lambdas.restore.report import failure_alert, failure_report, final_report, success_alert
from tests.lambdas.factories import NOW, cluster, hsm
from tests.lambdas.restore.test_restore_report import job

MISSING = {
    "code": "KEY_MISSING",
    "severity": "error",
    "label": "aes-payments-2",
    "message": "key 'aes-payments-2' is in the manifest but not on the restored cluster",
    "next_step": "try an earlier backup",
}


def verifier_report(status: str, findings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "status": status,
        "cluster_id": "cluster-newnewnewnew",
        "manifest_key": "manifests/cluster-abcdefghijk/2026-11-26T09:00:00Z.json",
        "keys_expected": 8,
        "keys_found": 8 - len(findings),
        "findings": findings,
        "notes": ["left out"],
    }


def test_every_key_found_is_said_with_the_count_and_the_manifest() -> None:
    kept = keys_result(verifier_report("SUCCEEDED", []), None)
    assert kept["status"] == "SUCCEEDED" and "notes" not in kept
    assert kept["summary"] == (
        "key verification: every key found (8 of 8, manifest "
        "manifests/cluster-abcdefghijk/2026-11-26T09:00:00Z.json)"
    )


def test_a_finding_fails_with_its_code_and_message() -> None:
    kept = keys_result(verifier_report("FAILED", [MISSING]), None)
    assert kept["status"] == "FAILED"
    assert kept["summary"].startswith("key verification FAILED (7 of 8 keys found): KEY_MISSING")


def test_a_verifier_that_failed_is_a_finding() -> None:
    error = {"Error": "KeyManifestNotFound", "Cause": "no manifest at or before the backup"}
    kept = keys_result(None, error)
    assert kept["status"] == "FAILED"
    assert [f["code"] for f in kept["findings"]] == ["KEY_VERIFICATION_ERROR"]
    assert "KeyManifestNotFound" in kept["summary"]


def test_another_region_than_the_verifiers_is_not_run_and_says_why() -> None:
    skipped = other_region("us-west-2", "us-east-1")
    assert skipped["status"] == "NOT_RUN"
    assert "runs in us-east-1" in skipped["summary"] and "us-west-2" in skipped["summary"]


def test_the_verifiers_rule_names_a_group_and_the_hsm_ports_only() -> None:
    rule = hsm_permission("sg-0123456789abcdef0", "dr-1")
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 2223, 2225)
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == ["sg-0123456789abcdef0"]
    assert "IpRanges" not in rule


def test_the_page_keeps_and_names_the_cluster_with_each_finding() -> None:
    keys = keys_result(verifier_report("FAILED", [MISSING]), None)
    failed = job(cluster_id="cluster-newnewnewnew", key_verification=keys)
    restored = cluster(hsm("us-west-2a"), cluster_id="cluster-newnewnewnew")
    error = {"Error": KEYS_FAILED, "Cause": keys["summary"]}
    report = failure_report(failed, error, [restored], NOW)
    body = failure_alert(report, {}, "https://console/x")["body"]
    assert "The restored cluster cluster-newnewnewnew is KEPT" in body
    assert "  - error KEY_MISSING aes-payments-2: key 'aes-payments-2'" in body
    assert "next: try an earlier backup" in body
    assert "move them off it until the key findings are explained" in body


def test_a_clean_check_is_in_the_final_report_and_its_message() -> None:
    keys = keys_result(verifier_report("SUCCEEDED", []), None)
    done = job(key_verification=keys)
    restored = cluster(hsm("us-west-2a"), cluster_id="cluster-newnewnewnew")
    report = final_report(done, restored, NOW)
    assert report["key_verification"] == keys["summary"]
    assert report["key_verification_report"]["keys_found"] == 8
    body = success_alert(report, done, "https://console/x")["body"]
    assert keys["summary"] in body
    assert "Verify the keys with PKCS#11" not in body


def test_a_restore_in_another_region_than_the_verifiers_skips_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lambdas.restore import handler
    from lambdas.restore.settings import RestoreSettings
    from lambdas.shared.env import Env

    settings = RestoreSettings("us-east-1").to_env()[Env.RESTORE_SETTINGS]
    monkeypatch.setenv(Env.RESTORE_SETTINGS, settings)
    monkeypatch.setenv(Env.RESTORE_VERIFIER_SECURITY_GROUP, "sg-0123456789abcdef0")
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # the main stack's restore function
    monkeypatch.setattr(handler, "_client", lambda *_: pytest.fail("no EC2 call"))
    done = handler.open_key_network(job(cluster_id="cluster-newnewnewnew"))
    assert done["run"]["key_network"] == {"status": "UNREACHABLE"}
    assert done["run"]["key_verification"]["status"] == "NOT_RUN"
    assert "runs in us-east-1" in done["run"]["key_verification"]["summary"]


def test_a_dr_stacks_verifier_opens_the_network_in_its_own_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A DR stack's restore function and its regional verifier share the DR region: a
    restore there lets the verifier in (key_verification.regions)."""
    from lambdas.restore import handler
    from lambdas.restore.settings import RestoreSettings
    from lambdas.shared.env import Env

    calls: list[tuple[str, str, dict[str, Any]]] = []

    class Ec2:
        def __init__(self, region: str) -> None:
            self.region = region

        def __getattr__(self, name: str) -> Any:
            return lambda **kwargs: calls.append((self.region, name, kwargs))

    settings = RestoreSettings("us-east-1").to_env()[Env.RESTORE_SETTINGS]
    monkeypatch.setenv(Env.RESTORE_SETTINGS, settings)
    monkeypatch.setenv(Env.RESTORE_VERIFIER_SECURITY_GROUP, "sg-0fedcba9876543210")
    monkeypatch.setenv("AWS_REGION", "us-west-2")  # the DR stack's restore function
    monkeypatch.setattr(handler, "_client", lambda _service, region: Ec2(region))
    restored = cluster(
        hsm("us-west-2a"), cluster_id="cluster-newnewnewnew", security_group="sg-0aaaabbbbcccc1111"
    )
    monkeypatch.setattr(handler, "_cluster", lambda _job: restored)
    done = handler.open_key_network(job(cluster_id="cluster-newnewnewnew"))
    assert done["run"]["key_network"]["status"] == "OPEN"
    assert done["run"]["key_network"]["verifier_security_group"] == "sg-0fedcba9876543210"
    assert [(region, name) for region, name, _ in calls] == [
        ("us-west-2", "create_tags"),
        ("us-west-2", "authorize_security_group_ingress"),
        ("us-west-2", "authorize_security_group_egress"),
    ]


def _record(monkeypatch: pytest.MonkeyPatch, function_region: str) -> tuple[Any, list[Any]]:
    from lambdas.restore import handler
    from lambdas.restore.settings import RestoreSettings
    from lambdas.shared.env import Env

    calls: list[tuple[str, str, dict[str, Any]]] = []

    class Ec2:
        def __init__(self, region: str) -> None:
            self.region = region

        def __getattr__(self, name: str) -> Any:
            return lambda **kwargs: calls.append((self.region, name, kwargs))

    monkeypatch.setenv(
        Env.RESTORE_SETTINGS, RestoreSettings("us-east-1").to_env()[Env.RESTORE_SETTINGS]
    )
    monkeypatch.setenv("AWS_REGION", function_region)
    monkeypatch.setattr(handler, "_client", lambda _service, region: Ec2(region))
    network = {
        "status": "OPEN",
        "cluster_security_group": "sg-0aaaabbbbcccc1111",
        "verifier_security_group": "sg-0fedcba9876543210",
        "hsm_ips": ["10.0.1.10"],
    }
    event = {
        "job": job(cluster_id="cluster-newnewnewnew", key_network=network),
        "keys": verifier_report("SUCCEEDED", []),
    }
    return handler.record_keys(event), calls


def test_a_dr_stacks_restore_revokes_the_verifiers_rules_once_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded, calls = _record(monkeypatch, "us-west-2")
    assert recorded["run"]["key_verification"]["status"] == "SUCCEEDED"
    assert recorded["run"]["key_network"]["status"] == "CLOSED"
    assert [(region, name) for region, name, _ in calls] == [
        ("us-west-2", "revoke_security_group_egress"),
        ("us-west-2", "revoke_security_group_ingress"),
    ]
    assert calls[1][2]["GroupId"] == "sg-0aaaabbbbcccc1111"
    assert calls[1][2]["IpPermissions"] == [hsm_permission("sg-0fedcba9876543210", "dr-1")]


def test_the_main_stacks_restore_keeps_the_rules_for_the_capture(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded, calls = _record(monkeypatch, "us-east-1")
    assert recorded["run"]["key_network"]["status"] == "OPEN" and calls == []
