"""The `{deployment}-operator` managed policy (stacks/constructs/shared/operator_policy.py)
against what the hsmdr commands call: the commands run in the sandbox as a role that has
only that policy (the sandbox enforces IAM: a refusal fails the test), and every call
they make is recorded; the policy allows no action they did not call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from hsmdr.cli import main
from lambdas.drill.report import REPORT_PREFIX
from sandbox.permissions import enforcer as enforcement
from sandbox.permissions.policy import Principal
from sandbox.permissions.requests import describe
from sandbox.session import Sandbox
from stacks.constructs.shared.operator_policy import UNSCOPED_ACTIONS
from stacks.names import dr_drill_report_parameter
from tests.conftest import Synthesized

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
]
BACKUP_CREATE = ["backup", "create", *DEPLOYMENT, "--cluster", "cluster-sandboxprimary"]


def policy_document(synthesized: Synthesized) -> dict[str, Any]:
    [policy] = [
        r["Properties"]
        for r in synthesized.template["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
        and r["Properties"].get("ManagedPolicyName") == "hsmdr-sandbox-operator"
    ]
    return dict(policy["PolicyDocument"])


@pytest.fixture
def operator(synthesized: Synthesized) -> Iterator[tuple[Sandbox, str]]:
    """The stack deployed, and a role with nothing but the operator policy."""
    with Sandbox(profile="test", template=synthesized.template) as sandbox:
        sandbox.seed_protected_clusters()
        iam = boto3.client("iam", region_name="us-east-1")
        [policy_arn] = [
            p["Arn"]
            for p in iam.list_policies(Scope="Local")["Policies"]
            if p["PolicyName"] == "hsmdr-sandbox-operator"
        ]
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
        role = iam.create_role(RoleName="on-call", AssumeRolePolicyDocument="{}")["Role"]
        iam.attach_role_policy(RoleName="on-call", PolicyArn=policy_arn)
        yield sandbox, str(role["Arn"])


def test_the_operator_policy_allows_what_the_commands_call_and_no_other_action(
    operator: tuple[Sandbox, str],
    synthesized: Synthesized,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _sandbox, role = operator
    monkeypatch.setattr("hsmdr.workflows.time.sleep", lambda _s: None, raising=False)
    called: set[str] = set()
    check = enforcement.PermissionEnforcer.check

    def recording(self: Any, principal: Any, service: str, operation: str, *rest: Any) -> Any:
        if principal.arn == role:  # the CLI's calls, not the functions' or workflows'
            called.add(describe(service, operation, rest[0], rest[1], self.account).action)
        return check(self, principal, service, operation, *rest)

    monkeypatch.setattr(enforcement.PermissionEnforcer, "check", recording)
    codes = {}
    with enforcement.acting_as(Principal.role(role)):
        for command in COMMANDS:
            codes[" ".join(command[:2])] = main(command)
        capsys.readouterr()
        assert main([*BACKUP_CREATE, "--json"]) == 0
        execution_arn = json.loads(capsys.readouterr().out)["execution_arn"]
        codes["follow"] = main(["follow", execution_arn])
        codes["report"] = main(["report", execution_arn])
    # No call was refused (the sandbox fails the test on a refusal); none crashed.
    assert all(code in (0, 1, 2) for code in codes.values()), codes
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
