"""The DR-region stack: one per dr_regions entry, self-contained, read-only on CloudHSM."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk.assertions import Match, Template

from lambdas.shared.env import Env
from tests.conftest import Synthesized, config_data
from tests.infra.test_backup_copies import cloudhsm_statements
from tests.infra.test_stack import function, only, resources

DR_STACK = "hsmdr-sandbox-dr-us-west-2"


def dr(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.templates[DR_STACK]


def test_one_stack_per_dr_region_each_in_its_region() -> None:
    from tests.synthesis import synthesis

    data = config_data()
    data["dr_regions"] = ["us-west-2", "eu-west-1"]
    app = synthesis(data)
    assert app.regions == {
        "hsmdr-sandbox": "us-east-1",
        "hsmdr-sandbox-dr-us-west-2": "us-west-2",
        "hsmdr-sandbox-dr-eu-west-1": "eu-west-1",
    }
    assert app.stack_name == "hsmdr-sandbox"


def test_dr_stack_has_its_own_encrypted_tls_only_alert_topic(synthesized: Synthesized) -> None:
    template = Template.from_json(dr(synthesized))
    key_id, key = only(dr(synthesized), "AWS::KMS::Key", "AlertingKey")
    assert key["EnableKeyRotation"] is True
    template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def test_copy_monitor_runs_in_the_dr_region_and_alerts_there(synthesized: Synthesized) -> None:
    template = dr(synthesized)
    function_id, props = function(template, "copy-monitor")
    env = props["Environment"]["Variables"]
    topic_id, _ = only(template, "AWS::SNS::Topic", "AlertingTopic")  # page severity
    assert env[Env.ALERT_TOPIC_ARN] == {"Ref": topic_id}  # the DR topic, not the primary's
    assert props["Handler"] == "lambdas.backups.copy_monitor_handler.handler"
    assert props["Layers"] == [
        "arn:aws:lambda:us-west-2:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
    ]
    _, schedule = only(template, "AWS::Scheduler::Schedule")
    assert schedule["ScheduleExpression"] == "rate(1 hour)"
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    alarms = [
        a
        for k, a in resources(template, "AWS::CloudWatch::Alarm").items()
        if k.startswith("CopyMonitor")
    ]
    assert len(alarms) == 2
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for a in alarms)


def test_copy_monitor_can_only_read_backups_and_the_primary_heartbeat(
    synthesized: Synthesized,
) -> None:
    assert cloudhsm_statements(dr(synthesized), "copy-monitor") == [
        {
            "Action": ["cloudhsm:DescribeBackups", "cloudwatch:GetMetricData"],
            "Effect": "Allow",
            "Resource": "*",
        }
    ]
    # It asks the primary region whether its verification still reports, every run
    _, function_props = function(dr(synthesized), "copy-monitor")
    watch = json.loads(function_props["Environment"]["Variables"][Env.PRIMARY_WATCH])
    assert watch == {"region": "us-east-1", "silent_after_minutes": 130.0}


def test_dr_stack_references_nothing_in_the_primary_region(synthesized: Synthesized) -> None:
    # The protected clusters' region is in its configuration, but no resource of the
    # primary region is: the stack works whatever state the primary region is in.
    text = json.dumps(dr(synthesized))
    assert "us-east-1" in text
    # One exception: the restore reads the trust anchor there, best effort (a drill, a
    # partial outage); when it cannot, the restore says so and goes on.
    assert re.findall(r":us-east-1:[^\"]*", text) == [
        ":us-east-1:123456789012:parameter/hsmdr-sandbox/customerCA.crt"
    ]
    assert "Fn::ImportValue" not in text


def test_dr_stack_passes_cfn_lint(synthesized: Synthesized) -> None:
    from cfnlint.api import ManualArgs, lint

    config = ManualArgs(ignore_checks=["W3005"])  # as for the main stack: CDK's DependsOn
    matches = lint(json.dumps(dr(synthesized)), regions=["us-west-2"], config=config)
    assert [str(m) for m in matches] == []


def test_dr_stack_is_cdk_nag_clean_with_reasons(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.assembly_dir / "validation-report.json").read_text())
    [nag] = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["violations"] == []
    suppressed_here = [
        v
        for v in nag["suppressedViolations"]
        if any(c["constructPath"].startswith(f"{DR_STACK}/") for c in v["violatingConstructs"])
    ]
    assert suppressed_here, "the DR stack's acknowledgements are in the report"
    assert all(len(v["reason"]) >= 40 for v in suppressed_here)
