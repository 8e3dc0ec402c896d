"""The `{deployment}-operator` managed policy (stacks/constructs/shared/operator_policy.py)
against what the hsmdr commands call: the commands run in the sandbox as a role that has
only that policy (the sandbox enforces IAM, key and bucket policies: a refusal fails the
test), and every action authorized for it is recorded, the KMS uses of encrypted topics
and buckets included; the policy allows no action they did not need."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from hsmdr.cli import main
from lambdas.drill.report import REPORT_PREFIX
from lambdas.replacement.report import REPORT_PREFIX as REPLACEMENT_REPORTS
from lambdas.restore.report import REPORT_PREFIX as RESTORE_REPORTS
from sandbox.permissions import enforcer as enforcement
from sandbox.permissions.policy import Principal
from sandbox.restore_scenarios import key_verification_sandbox
from sandbox.session import Sandbox
from sandbox.softhsm import softhsm_available
from stacks.constructs.shared.operator_policy import UNSCOPED_ACTIONS
from stacks.names import dr_drill_report_parameter
from tests.conftest import Synthesized
from tests.sandbox.restore_support import key_templates
from tests.speedups import quick_follow

DEPLOYMENT = ["--deployment", "hsmdr-sandbox"]
# The commands an on-call engineer runs against the deployment (docs/cli.md).
COMMANDS = [
    ["config", "show", *DEPLOYMENT],
    ["backup", "verify", *DEPLOYMENT],
    ["cluster", "health", *DEPLOYMENT],
    ["backup", "list", *DEPLOYMENT],
    ["drill", "status", *DEPLOYMENT],
    ["drill", "report", *DEPLOYMENT],
    ["alerts", "check", *DEPLOYMENT],
    ["alerts", "check", *DEPLOYMENT, "--send-test"],
]
CLUSTER = "cluster-sandboxprimary"
# A 1 s poll: the config's 30 s would only make `hsmdr follow` wait longer.
BACKUP_CREATE = ["backup", "create", *DEPLOYMENT, "--cluster", CLUSTER, "--poll-seconds", "1"]
# Refused by the workflow (no such backup): it ends quickly, and still writes its report.
RESTORE = ["restore", *DEPLOYMENT, "--backup-id", "backup-doesnotexistzz", "--follow"]
REPLACE = ["hsm", "replace", *DEPLOYMENT, "--cluster", CLUSTER, "--poll-seconds", "1", "--follow"]


def policy_document(synthesized: Synthesized) -> dict[str, Any]:
    return operator_document(synthesized.template)


def operator_document(template: dict[str, Any]) -> dict[str, Any]:
    [policy] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
        and r["Properties"].get("ManagedPolicyName") == "hsmdr-sandbox-operator"
    ]
    return dict(policy["PolicyDocument"])


def policy_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(operator_document(template)["Statement"])


def on_call_role() -> str:
    """A role with nothing but the deployed operator policy; its ARN."""
    iam = boto3.client("iam", region_name="us-east-1")
    [policy_arn] = [
        p["Arn"]
        for p in iam.list_policies(Scope="Local")["Policies"]
        if p["PolicyName"] == "hsmdr-sandbox-operator"
    ]
    role = iam.create_role(RoleName="on-call", AssumeRolePolicyDocument="{}")["Role"]
    iam.attach_role_policy(RoleName="on-call", PolicyArn=policy_arn)
    return str(role["Arn"])


@pytest.fixture
def operator(synthesized: Synthesized) -> Iterator[tuple[Sandbox, str]]:
    """The stack deployed, and a role with nothing but the operator policy."""
    with Sandbox(profile="test", template=synthesized.template) as sandbox:
        sandbox.seed_protected_clusters()
        # A drill report, as a drill writes it, for `hsmdr drill report` to read.
        ssm = boto3.client("ssm", region_name="us-east-1")
        bucket = ssm.get_parameter(Name=dr_drill_report_parameter("hsmdr-sandbox"))
        s3 = boto3.client("s3", region_name="us-east-1")
        for suffix, body in ((".md", "# DR drill"), (".json", '{"status": "SUCCEEDED"}')):
            s3.put_object(
                Bucket=bucket["Parameter"]["Value"],
                Key=f"{REPORT_PREFIX}2026-01-01T000000Z-drill-1{suffix}",
                Body=body.encode(),
            )
        yield sandbox, on_call_role()


def record_actions(monkeypatch: pytest.MonkeyPatch, role: str) -> set[str]:
    """Every action the sandbox authorizes for `role` from now on: each call's own and
    the ones it depends on (the KMS key of an encrypted topic, bucket or parameter)."""
    called: set[str] = set()
    authorize = enforcement.PermissionEnforcer._authorize

    def recording(self: Any, principal: Any, action: str, *rest: Any, **named: Any) -> Any:
        if principal.arn == role:  # the CLI's calls, not the functions' or workflows'
            called.add(action)
        return authorize(self, principal, action, *rest, **named)

    monkeypatch.setattr(enforcement.PermissionEnforcer, "_authorize", recording)
    return called


def run_json(capsys: pytest.CaptureFixture[str], command: list[str]) -> tuple[int, Any]:
    capsys.readouterr()
    code = main([*command, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_operator_policy_allows_what_the_commands_call_and_no_other_action(
    operator: tuple[Sandbox, str],
    synthesized: Synthesized,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    sandbox, role = operator
    quick_follow(monkeypatch)
    called = record_actions(monkeypatch, role)
    codes = {}
    with enforcement.acting_as(Principal.role(role)):
        for command in COMMANDS:
            codes[" ".join(command[:3])] = main(command)
        code, backup = run_json(capsys, BACKUP_CREATE)
        assert code == 0
        codes["follow"] = main(["follow", backup["execution_arn"]])
        codes["report"] = main(["report", backup["execution_arn"]])
        # The reports the restore and the replacement stored, read back by the CLI
        _code, restore = run_json(capsys, RESTORE)
        assert restore.get("execution_status") == "FAILED", restore
        sandbox.apply_faults(["hsm-failure"])  # one HSM of the cluster fails: hsm replace
        _code, replace = run_json(capsys, REPLACE)
        assert replace["execution_status"] == "SUCCEEDED", replace
        stored = {}
        for name, started in (("restore", restore), ("replacement", replace)):
            page = tmp_path / f"{name}.html"
            codes[f"report {name}"], read = run_json(
                capsys, ["report", started["execution_arn"], "--html", str(page)]
            )
            stored[name] = (read["stored_report"], page.read_text(encoding="utf-8"))
    # No call was refused (the sandbox fails the test on a refusal); none crashed.
    assert all(code in (0, 1, 2) for code in codes.values()), codes
    # `hsmdr report` found each workflow's stored report and wrote its own page
    s3 = boto3.client("s3", region_name="us-east-1")
    for name, execution in (("restore", restore), ("replacement", replace)):
        found, page = stored[name]
        assert "error" not in found, found
        assert found["report"]["execution"] == execution["execution_arn"]
        assert found["report"]["status"] == execution["execution_status"]
        kept = s3.get_object(Bucket=found["bucket"], Key=found["html_key"])["Body"].read()
        assert page == kept.decode()  # the workflow's page, as stored
    assert stored["restore"][0]["json_key"].startswith(RESTORE_REPORTS)
    assert stored["replacement"][0]["json_key"].startswith(REPLACEMENT_REPORTS)
    # --send-test reached every topic of the main stack (through its KMS key)
    assert {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"} <= called
    allowed = {
        action
        for statement in policy_document(synthesized)["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert allowed == called
    for statement in policy_document(synthesized)["Statement"]:
        if statement["Resource"] == "*":  # only what has no resource-level permissions
            assert set(statement["Action"]) <= set(UNSCOPED_ACTIONS)


@pytest.mark.skipif(not softhsm_available(), reason="SoftHSM2 is not installed")
def test_with_key_verification_the_policy_lets_hsmdr_keys_capture_a_manifest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the stack with key verification (its capture function) deployed, and a role
    # with nothing but that stack's operator policy
    templates = key_templates()
    main_template = next(t for name, t in templates.items() if "-dr-" not in name)
    with key_verification_sandbox(profile="test", templates=templates):
        role = on_call_role()
        called = record_actions(monkeypatch, role)
        # When the on-call engineer captures a manifest now
        with enforcement.acting_as(Principal.role(role)):
            code, document = run_json(
                capsys, ["keys", "manifest", *DEPLOYMENT, "--cluster", CLUSTER]
            )
    # Then the role's invoke was allowed (a refusal fails the test) and the function ran:
    # what it answers is its own (here the sandbox's HSM security group, which the
    # deployment's owner opens to the verifier, has no rule for it), not AccessDenied
    assert "lambda:InvokeFunction" in called
    assert document["function"] == "hsmdr-sandbox-capture-key-manifest"
    assert code == 0 or document["error"] == "KeyManifestCaptureFailed", document
    [invoke] = [
        s for s in policy_statements(main_template) if s["Action"] == "lambda:InvokeFunction"
    ]
    assert json.dumps(invoke["Resource"]).endswith(
        ':function:hsmdr-sandbox-capture-key-manifest"]]}'
    )


def test_in_a_dr_region_the_role_reads_the_restore_report_and_tests_the_alert_routes(
    synthesized: Synthesized,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # Given the main and the DR-region stack deployed, and the on-call role; the DR
    # stack's bucket and keys are named there, so the policy reaches them by prefix, by
    # this deployment's tag and through the service that uses them
    quick_follow(monkeypatch)
    with Sandbox(profile="test", templates=synthesized.templates) as sandbox:
        sandbox.seed_protected_clusters()
        role = on_call_role()
        called = record_actions(monkeypatch, role)
        with enforcement.acting_as(Principal.role(role)):
            # When a restore runs in the DR region (refused: no such backup there)
            _code, restore = run_json(capsys, [*RESTORE, "--region", "us-west-2"])
            assert ":us-west-2:" in restore["execution_arn"], restore
            # and the role reads its report, and sends the test alerts of every region
            page = tmp_path / "dr-restore.html"
            code, read = run_json(capsys, ["report", restore["execution_arn"], "--html", str(page)])
            routes_code, routes = run_json(capsys, ["alerts", "check", *DEPLOYMENT, "--send-test"])
    # Then nothing was refused, the DR stack's report was read and its page written
    assert code == 0 and routes_code in (0, 1)
    stored = read["stored_report"]
    assert "error" not in stored, stored
    assert stored["report"]["execution"] == restore["execution_arn"]
    assert stored["report"]["status"] == "FAILED"
    assert restore["execution_arn"] in page.read_text(encoding="utf-8")
    assert {t["region"] for t in routes["tests_sent"]} == {"us-east-1", "us-west-2"}
    assert {"s3:GetObject", "kms:Decrypt", "sns:Publish", "kms:GenerateDataKey"} <= called
