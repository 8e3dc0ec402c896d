"""The synthesized stack: what it deploys and with which permissions."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from lambdas.shared.env import Env
from tests.conftest import Synthesized


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def only(template: dict[str, Any], kind: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = [
        (k, v) for k, v in resources(template, kind).items() if k.startswith(prefix)
    ]
    return logical_id, resource["Properties"]


def function(template: dict[str, Any], service: str) -> tuple[str, dict[str, Any]]:
    """The Lambda function whose POWERTOOLS_SERVICE_NAME is `service`."""
    [(logical_id, props)] = [
        (k, v["Properties"])
        for k, v in resources(template, "AWS::Lambda::Function").items()
        if v["Properties"]["Environment"]["Variables"].get(Env.SERVICE_NAME) == service
    ]
    return logical_id, props


def test_verification_function_runtime_tracing_logs_and_layer(synthesized: Synthesized) -> None:
    _, props = function(synthesized.template, "verify-backups")
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "lambdas.verification.handler.handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert "Ref" in props["LoggingConfig"]["LogGroup"]
    [layer] = props["Layers"]
    assert layer == (
        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
    )


def test_function_environment_carries_the_config(synthesized: Synthesized) -> None:
    _, props = function(synthesized.template, "verify-backups")
    env = props["Environment"]["Variables"]
    clusters = json.loads(env[Env.PROTECTED_CLUSTERS])
    assert [c["id"] for c in clusters] == ["cluster-sandboxprimary"]
    assert env[Env.RPO_HOURS] == "24"
    assert env[Env.SERVICE_NAME] == "verify-backups"
    topic_id, _ = only(synthesized.template, "AWS::SNS::Topic", "AlertingTopic")
    assert env[Env.ALERT_TOPIC_ARN] == {"Ref": topic_id}


def test_log_group_is_explicit_with_retention(synthesized: Synthesized) -> None:
    _, function_props = function(synthesized.template, "verify-backups")
    log_group_id = function_props["LoggingConfig"]["LogGroup"]["Ref"]
    props = synthesized.template["Resources"][log_group_id]["Properties"]
    assert props["RetentionInDays"] == 90


def test_schedule_invokes_the_function_hourly_with_dead_letters(synthesized: Synthesized) -> None:
    function_id, _ = function(synthesized.template, "verify-backups")
    queue_id, queue = only(synthesized.template, "AWS::SQS::Queue", "BackupVerification")
    _, schedule = only(synthesized.template, "AWS::Scheduler::Schedule", "BackupVerification")
    assert schedule["ScheduleExpression"] == "rate(1 hour)"
    assert schedule["State"] == "ENABLED"
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert json.loads(target["Input"]) == {"source": "schedule"}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    # A customer key (alias/aws/sqs admits no AWS service principal), which the
    # schedule's role may use: Scheduler writes dead letters as that role.
    key_id, _ = only(synthesized.template, "AWS::KMS::Key", "AlertingDeadLetterKey")
    assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    key_actions = {
        a
        for policy in resources(synthesized.template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
        for a in s["Action"]
    }
    assert key_actions == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_alert_topic_is_kms_encrypted_and_tls_only(synthesized: Synthesized) -> None:
    template = Template.from_json(synthesized.template)
    key_id, key = only(synthesized.template, "AWS::KMS::Key", "AlertingKey")
    assert key["EnableKeyRotation"] is True
    template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def _role_actions(template: dict[str, Any], role_id: str) -> set[str]:
    actions: set[str] = set()
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found = statement["Action"]
            actions.update([found] if isinstance(found, str) else found)
    return actions


def test_verification_role_is_read_only_on_cloudhsm(synthesized: Synthesized) -> None:
    _, props = function(synthesized.template, "verify-backups")
    role_id = props["Role"]["Fn::GetAtt"][0]
    actions = _role_actions(synthesized.template, role_id)
    assert {a for a in actions if a.startswith("cloudhsm:")} == {
        "cloudhsm:DescribeClusters",
        "cloudhsm:DescribeBackups",
    }
    assert "sns:Publish" in actions
    assert not any(a.endswith("*") and not a.startswith("kms:GenerateDataKey") for a in actions)
    role = synthesized.template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role  # no AWSLambdaBasicExecutionRole "*" on logs


def _text(value: Any) -> str:
    """The literal parts of a string that may be an Fn::Join."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_text(part) for part in value["Fn::Join"][1])
    return ""


def test_errors_alarm_pages_through_the_alert_topic(synthesized: Synthesized) -> None:
    topic_id, _ = only(synthesized.template, "AWS::SNS::Topic", "AlertingTopic")
    alarms = [
        a
        for k, a in resources(synthesized.template, "AWS::CloudWatch::Alarm").items()
        if k.startswith("BackupVerification")
    ]
    by_metric = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms}
    errors = by_metric["Errors"]
    assert errors["Namespace"] == "AWS/Lambda"
    assert errors["Threshold"] == 1
    assert errors["AlarmActions"] == [{"Ref": topic_id}]
    assert "hsmdr backup verify" in _text(errors["AlarmDescription"])
    dead_letters = by_metric["ApproximateNumberOfMessagesVisible"]
    assert dead_letters["AlarmActions"] == [{"Ref": topic_id}]


def test_lambda_asset_holds_only_the_lambdas_package(synthesized: Synthesized) -> None:
    _, props = function(synthesized.template, "verify-backups")
    key = props["Code"]["S3Key"]
    asset_dir = synthesized.assembly_dir / f"asset.{key.removesuffix('.zip')}"
    top = sorted(p.name for p in asset_dir.iterdir())
    assert top == ["lambdas"]
    files = [p for p in asset_dir.rglob("*") if p.is_file()]
    assert all(p.suffix == ".py" for p in files)
    assert (asset_dir / "lambdas" / "verification" / "handler.py").exists()


def test_each_stack_keeps_its_alert_memory_encrypted_and_expiring(
    synthesized: Synthesized,
) -> None:
    for name, template in synthesized.templates.items():
        # Given the stack's alert memory table
        table_id, table = only(template, "AWS::DynamoDB::GlobalTable", "AlertingMemory")
        assert table["SSESpecification"]["SSEEnabled"] is True
        ttl = table["TimeToLiveSpecification"]
        assert ttl == {"AttributeName": "expires_at", "Enabled": True}, name
        # Then every function that sends its own messages is told where it is
        senders = [
            f["Properties"]
            for f in resources(template, "AWS::Lambda::Function").values()
            if Env.NOTIFY_TOPIC_ARN in f["Properties"].get("Environment", {}).get("Variables", {})
        ]
        assert senders, name
        for function in senders:
            variables = function["Environment"]["Variables"]
            assert variables[Env.ALERT_MEMORY_TABLE] == {"Ref": table_id}
            assert variables[Env.REPEAT_ALERT_MINUTES] == "240"


def test_each_stack_names_its_alert_topics_in_ssm_for_the_cli(synthesized: Synthesized) -> None:
    from stacks.names import ALERT_AUDIENCES, alert_topic_parameter

    for name, template in synthesized.templates.items():
        parameters = {
            p["Properties"]["Name"]: p["Properties"]["Value"]
            for p in resources(template, "AWS::SSM::Parameter").values()
        }
        topics = {k for k in resources(template, "AWS::SNS::Topic")}
        for audience in ALERT_AUDIENCES:
            value = parameters[alert_topic_parameter("hsmdr-sandbox", audience)]
            assert value["Ref"] in topics, (name, audience)
