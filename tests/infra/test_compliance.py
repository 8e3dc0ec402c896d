"""cdk-nag AwsSolutions and cfn-lint, on what the app really synthesizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam

from stacks.nag import check_app
from tests.conftest import REPO_ROOT, SANDBOX_CONFIG, Synthesized


def test_synthesis_passes_cdk_nag_with_no_unacknowledged_finding(
    synthesized: Synthesized,
) -> None:
    report = json.loads((synthesized.assembly_dir / "validation-report.json").read_text())
    [nag] = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []
    # Every acknowledged finding says why, in a sentence.
    acknowledged = nag["suppressedViolations"]
    assert acknowledged
    assert all(len(v["reason"]) >= 40 for v in acknowledged), [
        (v["ruleName"], v["reason"]) for v in acknowledged
    ]


def test_cdk_nag_is_really_enforced_on_a_wildcard_policy() -> None:
    # Given a stack with an unacknowledged wildcard IAM policy, checked like ours
    app = App()
    stack = Stack(app, "Careless")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["cloudhsm:*"], resources=["*"]))
    check_app(app)
    # When it is synthesized, Then synthesis fails on AwsSolutions findings
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


def test_cfn_lint_finds_nothing(synthesized: Synthesized) -> None:
    from cfnlint.api import ManualArgs, lint

    # W3005 flags the DependsOn that CDK always adds from a function to its role next
    # to the GetAtt; it is redundant, not wrong, and not ours to change.
    config = ManualArgs(ignore_checks=["W3005"])
    matches = lint(json.dumps(synthesized.template), regions=["us-east-1"], config=config)
    assert [str(m) for m in matches] == []


def test_bad_config_stops_synthesis_with_path_field_and_problem(tmp_path: Path) -> None:
    data = yaml.safe_load(SANDBOX_CONFIG.read_text())
    data["protected_clusters"][0]["hsms_per_az"] = {"eu-west-1a": 1}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"config": str(bad)})}
    env["CDK_OUTDIR"] = str(tmp_path / "out")
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert (
        f"{bad}: protected_clusters.0: hsms_per_az: zone eu-west-1a is in region eu-west-1, "
        "not in us-east-1"
    ) in result.stderr
    assert not list((tmp_path / "out").glob("*.template.json"))
