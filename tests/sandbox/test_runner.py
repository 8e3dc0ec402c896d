"""The template deployer runs what CDK synthesizes, for real, inside moto.

A small fixture stack (KMS-encrypted topic, two Python functions, a state machine with
Lambda tasks in both integration styles plus Retry/Catch/Wait/SNS publish, two
schedules, an alarm...) is synthesized once for the module and deployed into a fresh
moto for each test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from sandbox.runner import (
    Deployment,
    SandboxError,
    SandboxLookupError,
    TemplateDeployer,
)

pytestmark = pytest.mark.slow

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "RunnerFixture"
HANDLERS = "tests.sandbox.fixture_handlers"
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


def build_fixture_template() -> dict[str, Any]:
    """Synthesize the fixture stack (several seconds: once per module)."""
    import aws_cdk as cdk
    from aws_cdk import aws_cloudwatch as cloudwatch
    from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
    from aws_cdk import aws_events as events
    from aws_cdk import aws_events_targets as events_targets
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_scheduler as scheduler
    from aws_cdk import aws_scheduler_targets as scheduler_targets
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_ssm as ssm
    from aws_cdk import aws_stepfunctions as sfn
    from aws_cdk import aws_stepfunctions_tasks as tasks

    app = cdk.App()
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))
    topic = sns.Topic(stack, "AlertsTopic", master_key=kms.Key(stack, "AlertsKey"))

    def python_function(construct_id: str, handler: str, service: str) -> lambda_.Function:
        return lambda_.Function(
            stack,
            construct_id,
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler=f"{HANDLERS}.{handler}",
            code=lambda_.Code.from_inline("# dispatched in-process by the sandbox"),
            environment={"POWERTOOLS_SERVICE_NAME": service, "ALERTS_TOPIC_ARN": topic.topic_arn},
            timeout=cdk.Duration.seconds(20),
            memory_size=256,
            architecture=lambda_.Architecture.ARM_64,
        )

    echo = python_function("EchoFunction", "echo", "echo")
    check = python_function("CheckFunction", "check_backup", "check-backup")
    summarize = python_function("SummarizeFunction", "summarize", "summarize")
    python_function("OrphanFunction", "no_such_handler", "orphan")  # Handler names nothing

    notify_failure = tasks.SnsPublish(
        stack,
        "NotifyFailure",
        topic=topic,
        subject="backup check failed",
        message=sfn.TaskInput.from_json_path_at("$.error"),
        result_path=sfn.JsonPath.DISCARD,
    ).next(sfn.Fail(stack, "Failed", error="BackupCheckFailed"))
    # Function ARN as Resource (payload_response_only) ...
    check_task = tasks.LambdaInvoke(
        stack,
        "CheckBackup",
        lambda_function=check,
        payload_response_only=True,
        result_path="$.check",
    )
    check_task.add_retry(
        errors=["SandboxInjectedCrash"], max_attempts=1, interval=cdk.Duration.seconds(1)
    )
    check_task.add_catch(notify_failure, errors=["BackupNotFound"], result_path="$.error")
    # ... and the arn:aws:states:::lambda:invoke integration.
    summarize_task = tasks.LambdaInvoke(
        stack,
        "Summarize",
        lambda_function=summarize,
        result_selector={"verified.$": "$.Payload.verified"},
        result_path="$.summary",
    )
    summarize_task.add_catch(notify_failure, errors=["BackupNotFound"], result_path="$.error")
    notify_ok = tasks.SnsPublish(
        stack,
        "NotifyOk",
        topic=topic,
        subject="backup verified",
        message=sfn.TaskInput.from_object(
            {"clusterId": sfn.JsonPath.string_at("$.clusterId"), "summary.$": "$.summary"}
        ),
        result_path=sfn.JsonPath.DISCARD,
    )
    chain = (
        check_task.next(summarize_task)
        .next(sfn.Wait(stack, "Pause", time=sfn.WaitTime.seconds_path("$.waitSeconds")))
        .next(notify_ok)
    )
    workflow = sfn.StateMachine(
        stack,
        "VerifyWorkflow",
        definition_body=sfn.DefinitionBody.from_chainable(chain),
        logs=sfn.LogOptions(
            destination=logs.LogGroup(stack, "WorkflowLogs"), level=sfn.LogLevel.ALL
        ),
        tracing_enabled=True,
    )

    scheduler.Schedule(
        stack,
        "EchoSchedule",
        schedule=scheduler.ScheduleExpression.rate(cdk.Duration.hours(6)),
        target=scheduler_targets.LambdaInvoke(
            echo,
            input=scheduler.ScheduleTargetInput.from_object(
                {"source": "schedule", "alertsTopic": topic.topic_arn}
            ),
        ),
    )
    scheduler.Schedule(
        stack,
        "WorkflowSchedule",
        schedule=scheduler.ScheduleExpression.cron(minute="0", hour="3"),
        target=scheduler_targets.StepFunctionsStartExecution(
            workflow,
            input=scheduler.ScheduleTargetInput.from_object(
                {"clusterId": "cluster-from-schedule", "waitSeconds": 0}
            ),
        ),
    )
    cloudwatch.Alarm(
        stack, "CheckErrors", metric=check.metric_errors(), threshold=1, evaluation_periods=1
    ).add_alarm_action(cloudwatch_actions.SnsAction(topic))
    ssm.StringParameter(stack, "TopicParameter", string_value=topic.topic_arn)
    # An ASL document with a substitution, as `DefinitionBody.from_file` would give.
    sfn.StateMachine(
        stack,
        "SubstitutedWorkflow",
        definition_body=sfn.DefinitionBody.from_string(
            '{"StartAt": "Echo", "States": {"Echo": '
            '{"Type": "Task", "Resource": "${EchoArn}", "End": true}}}'
        ),
        definition_substitutions={"EchoArn": echo.function_arn},
    )
    in_gov_cloud = cdk.CfnCondition(
        stack, "InGovCloud", expression=cdk.Fn.condition_equals(cdk.Aws.REGION, "us-gov-west-1")
    )
    gov_only = ssm.StringParameter(stack, "GovOnlyParameter", string_value="gov")
    gov_only.node.default_child.cfn_options.condition = in_gov_cloud  # type: ignore[union-attr]
    # A rule and the permission that lets it invoke its target: deployed, so the
    # sandbox's deliveries go through the function's resource policy.
    events.Rule(
        stack,
        "NightlyRule",
        schedule=events.Schedule.rate(cdk.Duration.days(1)),
        targets=[events_targets.LambdaFunction(echo)],
    )
    # A type the sandbox does not deploy: it must show up as skipped.
    cloudwatch.Dashboard(stack, "Dashboard")
    return app.synth().get_stack_by_name(STACK).template  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return build_fixture_template()


@pytest.fixture
def deployment(template: dict[str, Any]) -> Iterator[Deployment]:
    with mock_aws(config=MOTO_CONFIG):
        deployer = TemplateDeployer(template, region=REGION, account_id=ACCOUNT, stack_name=STACK)
        with deployer.deploy() as deployed:
            yield deployed


def workflow_input(**overrides: Any) -> dict[str, Any]:
    return {"clusterId": "cluster-1234", "backupCount": 2, "waitSeconds": 0, **overrides}


# -- deploying -------------------------------------------------------------------------


def test_given_topic_arn_env_var_when_deployed_then_function_env_holds_the_created_topic_arn(
    deployment: Deployment,
) -> None:
    topic_arn = deployment.physical_id("AlertsTopic")
    lambda_client = boto3.client("lambda", region_name=REGION)

    configuration = lambda_client.get_function_configuration(
        FunctionName=deployment.function_arn("check-backup")
    )

    assert topic_arn.startswith(f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-AlertsTopic")
    assert configuration["Environment"]["Variables"] == {
        "POWERTOOLS_SERVICE_NAME": "check-backup",
        "ALERTS_TOPIC_ARN": topic_arn,
    }
    assert configuration["Runtime"] == "python3.13"
    assert configuration["Handler"] == f"{HANDLERS}.check_backup"
    assert (configuration["MemorySize"], configuration["Timeout"]) == (256, 20)
    assert configuration["Architectures"] == ["arm64"]


def test_given_kms_encrypted_topic_when_deployed_then_topic_uses_the_created_key(
    deployment: Deployment,
) -> None:
    attributes = boto3.client("sns", region_name=REGION).get_topic_attributes(
        TopicArn=deployment.physical_id("AlertsTopic")
    )["Attributes"]
    key_arn = deployment.resources[_logical_id(deployment, "AlertsKey")].attributes["Arn"]

    assert attributes["KmsMasterKeyId"] == key_arn
    key = boto3.client("kms", region_name=REGION).describe_key(KeyId=key_arn)["KeyMetadata"]
    assert key["KeyState"] == "Enabled"


def test_given_alarm_on_function_errors_when_deployed_then_dimensions_and_actions_are_resolved(
    deployment: Deployment,
) -> None:
    (alarm,) = boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"]

    assert alarm["Dimensions"] == [
        {"Name": "FunctionName", "Value": deployment.physical_id("CheckFunction")}
    ]
    assert alarm["AlarmActions"] == [deployment.physical_id("AlertsTopic")]


def test_given_unsupported_resource_types_when_deployed_then_they_are_recorded_as_skipped(
    deployment: Deployment,
) -> None:
    skipped_types = {skipped.resource_type for skipped in deployment.skipped.values()}

    assert skipped_types == {
        "AWS::CloudWatch::Dashboard",
        "AWS::SSM::Parameter",  # GovOnlyParameter: its condition is false in us-east-1
    }
    deployed_types = {resource.resource_type for resource in deployment.resources.values()}
    assert {"AWS::Events::Rule", "AWS::Lambda::Permission"} <= deployed_types
    gov_only = next(s for s in deployment.skipped.values() if s.logical_id.startswith("GovOnly"))
    assert gov_only.reason == "condition InGovCloud is false"
    assert "AWS::StepFunctions::StateMachine" in {
        resource.resource_type for resource in deployment.resources.values()
    }


def test_given_no_active_moto_when_deploying_then_it_refuses_to_touch_aws(
    template: dict[str, Any],
) -> None:
    with pytest.raises(SandboxError, match="no active moto mock"):
        TemplateDeployer(template).deploy()


# -- schedules -------------------------------------------------------------------------


def test_given_lambda_schedule_when_fired_then_handler_gets_the_schedule_input(
    deployment: Deployment,
) -> None:
    schedule = next(s for s in deployment.schedules() if s.logical_id.startswith("EchoSchedule"))
    assert schedule.expression == "rate(6 hours)"
    assert schedule.target_arn == deployment.function_arn("echo")

    fired = deployment.fire_schedule("EchoSchedule")

    assert fired.succeeded and fired.invocation is not None
    seen = fired.invocation.payload
    assert seen["event"] == schedule.input_json
    assert seen["event"] == {
        "source": "schedule",
        "alertsTopic": deployment.physical_id("AlertsTopic"),
    }
    assert seen["service"] == "echo"
    assert seen["alerts_topic_arn"] == deployment.physical_id("AlertsTopic")
    assert seen["aws_region"] == REGION
    assert seen["invoked_function_arn"] == deployment.function_arn("echo")
    assert seen["memory_limit_in_mb"] == 256
    assert 0 < seen["remaining_ms"] <= 20_000
    assert "ALERTS_TOPIC_ARN" not in os.environ  # the function's environment was only lent


def test_given_state_machine_schedule_when_fired_then_the_execution_runs_with_its_input(
    deployment: Deployment,
) -> None:
    fired = deployment.fire_schedule("WorkflowSchedule")

    assert fired.target_kind == "state_machine" and fired.execution is not None
    assert fired.execution.status == "SUCCEEDED"
    (message,) = deployment.messages("AlertsTopic")
    assert message.json["clusterId"] == "cluster-from-schedule"


# -- state machines --------------------------------------------------------------------


def test_given_backups_when_workflow_runs_then_it_waits_and_its_sns_message_is_captured(
    deployment: Deployment,
) -> None:
    started = time.monotonic()

    result = deployment.run_state_machine("VerifyWorkflow", workflow_input(waitSeconds=1))

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert time.monotonic() - started >= 1.0  # the Wait state really waited
    assert result.entered_states() == ["CheckBackup", "Summarize", "Pause", "NotifyOk"]
    assert result.output["summary"] == {"verified": "backup-0001"}
    (message,) = deployment.messages()
    assert message.topic_arn == deployment.physical_id("AlertsTopic")
    assert message.subject == "backup verified"
    assert message.json == {"clusterId": "cluster-1234", "summary": {"verified": "backup-0001"}}


def test_given_domain_error_when_task_resource_is_function_arn_then_catch_matches_class_name(
    deployment: Deployment,
) -> None:
    result = deployment.run_state_machine("VerifyWorkflow", workflow_input(backupCount=0))

    assert result.status == "FAILED"
    assert result.error == "BackupCheckFailed"
    assert result.entered_states() == ["CheckBackup", "NotifyFailure", "Failed"]
    (message,) = deployment.messages("AlertsTopic")
    assert message.subject == "backup check failed"
    assert message.json["Error"] == "BackupNotFound"
    assert "cluster-1234 has no valid backup" in message.json["Cause"]


def test_given_domain_error_when_task_is_lambda_invoke_integration_then_catch_matches_class_name(
    deployment: Deployment,
) -> None:
    result = deployment.run_state_machine("VerifyWorkflow", workflow_input(summaryFails=True))

    assert result.entered_states() == ["CheckBackup", "Summarize", "NotifyFailure", "Failed"]
    (message,) = deployment.messages()
    assert message.json["Error"] == "BackupNotFound"


def test_given_definition_substitutions_when_run_then_the_substituted_function_is_called(
    deployment: Deployment,
) -> None:
    result = deployment.run_state_machine("SubstitutedWorkflow", {"ping": 1})

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["event"] == {"ping": 1}
    assert result.output["function_name"] == deployment.physical_id("EchoFunction")


# -- invoking and faults -----------------------------------------------------------------


def test_given_raising_handler_when_invoked_with_boto3_then_the_error_has_lambdas_shape(
    deployment: Deployment,
) -> None:
    result = deployment.invoke("check-backup", {"clusterId": "cluster-9", "backupCount": 0})

    assert result.function_error == "Unhandled"
    assert result.error_type == "BackupNotFound"
    assert result.error_message == "cluster cluster-9 has no valid backup"
    assert any("check_backup" in line for line in result.payload["stackTrace"])


def test_given_handler_missing_when_invoked_then_lambda_runtime_error_is_returned(
    deployment: Deployment,
) -> None:
    result = deployment.invoke("orphan", {})

    assert result.function_error == "Unhandled"
    assert result.error_type == "Runtime.HandlerNotFound"
    assert result.error_message == f"Handler 'no_such_handler' missing on module '{HANDLERS}'"


def test_given_crash_fault_when_invoked_then_it_crashes_until_cleared(
    deployment: Deployment,
) -> None:
    deployment.crash_function("echo")

    first, second = deployment.invoke("echo", {}), deployment.invoke("echo", {})
    deployment.clear_crash("echo")
    after_clear = deployment.invoke("echo", {})

    assert [first.error_type, second.error_type] == ["SandboxInjectedCrash"] * 2
    assert after_clear.ok and after_clear.payload["service"] == "echo"


def test_given_one_crash_when_workflow_runs_then_its_retry_recovers(
    deployment: Deployment,
) -> None:
    deployment.crash_function("check-backup", times=1)

    result = deployment.run_state_machine("VerifyWorkflow", workflow_input())

    assert result.status == "SUCCEEDED"
    failures = [e for e in result.events if e["type"] == "LambdaFunctionFailed"]
    assert [f["lambdaFunctionFailedEventDetails"]["error"] for f in failures] == [
        "SandboxInjectedCrash"
    ]


def test_given_persistent_crash_when_workflow_runs_then_it_fails_with_the_crash_error(
    deployment: Deployment,
) -> None:
    deployment.crash_function("check-backup")

    result = deployment.run_state_machine("VerifyWorkflow", workflow_input())

    assert result.status == "FAILED"
    assert result.error == "SandboxInjectedCrash"
    assert deployment.messages() == []  # not caught: no failure notification


# -- lookups and lifetime ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lookup", "name"),
    [
        ("function_arn", "no-such-service"),
        ("state_machine_arn", "NoSuchWorkflow"),
        ("physical_id", "NoSuchResource"),
        ("fire_schedule", "NoSuchSchedule"),
    ],
)
def test_given_unknown_name_when_looked_up_then_error_names_it_and_lists_known_ones(
    deployment: Deployment, lookup: str, name: str
) -> None:
    with pytest.raises(SandboxLookupError, match=f"'{name}' matches nothing; known: ") as raised:
        getattr(deployment, lookup)(name)

    assert "[]" not in str(raised.value)


def test_given_ambiguous_prefix_when_looked_up_then_error_says_so(deployment: Deployment) -> None:
    with pytest.raises(SandboxLookupError, match="ambiguous"):
        deployment.physical_id("Workflow")  # WorkflowLogs... and WorkflowSchedule...


def test_given_closed_deployment_when_function_invoked_then_moto_answers_again(
    template: dict[str, Any],
) -> None:
    original_invoke = LambdaSimpleBackend.invoke
    with mock_aws(config=MOTO_CONFIG):
        deployment = TemplateDeployer(template, stack_name=STACK).deploy()
        assert LambdaSimpleBackend.invoke is not original_invoke
        deployment.close()

        after = boto3.client("lambda", region_name=REGION).invoke(
            FunctionName=deployment.function_arn("echo"), Payload=b'{"x": 1}'
        )

    assert LambdaSimpleBackend.invoke is original_invoke
    assert after["Payload"].read() == b'{"x": 1}'  # moto's canned echo, not the handler


def _logical_id(deployment: Deployment, prefix: str) -> str:
    (logical_id,) = [lid for lid in deployment.resources if lid.startswith(prefix)]
    return logical_id


def test_given_handler_prints_when_invoked_then_output_goes_to_its_log_not_stdout(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # When a function that logs is invoked
    deployment.invoke("echo", {"hello": "logs"})
    # Then its output is kept as the function's log lines, not printed
    assert capsys.readouterr().out == ""
    assert any("hello" in line for line in deployment.logs("echo"))
