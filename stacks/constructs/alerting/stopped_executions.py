"""What runs when a workflow execution is ABORTED or TIMED_OUT.

Step Functions runs no Catch for a stopped execution, so the workflow's own clean-up,
lock release and alert never happen. An EventBridge rule on the state machine's
"Step Functions Execution Status Change" events sends those to the workflow's own
function, which reads the execution's input and history to find what it created.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as event_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.constructs.alerting.alerting import Alerting, rule_arn
from stacks.nag import acknowledge, rendered

STOPPED_STATUSES = ["TIMED_OUT", "ABORTED"]


def stopped_rule(
    scope: Construct,
    *,
    state_machine: sfn.IStateMachine,
    state_machine_name: str,
    function: lambda_.IFunction,
    description: str,
    alerting: Alerting,
    runbook: str,
) -> events.Rule:
    """Send the state machine's stopped executions to `function`, and let it read them.
    An event EventBridge could not hand to the function waits in a dead-letter queue,
    which pages: then nothing cleaned up after that execution."""
    grant_read_executions(scope, function, state_machine_name)
    return stopped_events_rule(
        scope,
        name=f"{state_machine_name}-stopped",
        state_machine=state_machine,
        function=function,
        description=description,
        alerting=alerting,
        undelivered=(
            f"An execution of {state_machine_name} timed out or was aborted, and "
            "EventBridge could not hand it to the function that cleans up after it (the "
            "events are in the rule's dead-letter queue): nothing it created was cleaned "
            f"up. Read the execution's history and clean up by hand. Runbook: {runbook}"
        ),
    )


def grant_read_executions(
    scope: Construct, function: lambda_.IFunction, state_machine_name: str
) -> None:
    """DescribeExecution and GetExecutionHistory on the named state machine's executions
    (by name, so the function needs no reference to the state machine that invokes it)."""
    executions = Stack.of(scope).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine_name}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    assert function.role is not None
    function.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["states:DescribeExecution", "states:GetExecutionHistory"],
            resources=[executions],
        )
    )
    acknowledge(
        function.role,
        f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered(scope, executions)}]",
        "Reads the input and history of its own workflow's executions (ids made at run "
        "time) to clean up after one that was stopped.",
    )


def stopped_events_rule(
    scope: Construct,
    *,
    name: str,
    state_machine: sfn.IStateMachine,
    function: lambda_.IFunction,
    description: str,
    alerting: Alerting,
    undelivered: str,
) -> events.Rule:
    """The rule alone: stopped executions to `function`, retried, then into a
    dead-letter queue that pages with `undelivered`. Named (`name`), so the dead-letter
    key's policy can name the rule without depending on it."""
    alerting.allow_dead_letters_from("events.amazonaws.com", [rule_arn(scope, name)])
    dead_letters = alerting.dead_letter_queue(scope, "StoppedRuleDeadLetters")
    alerting.page_on_dead_letters(scope, "StoppedRuleDeadLettersAlarm", dead_letters, undelivered)
    return events.Rule(
        scope,
        "StoppedRule",
        rule_name=name,
        description=description,
        event_pattern=events.EventPattern(
            source=["aws.states"],
            detail_type=["Step Functions Execution Status Change"],
            detail={
                "stateMachineArn": [state_machine.state_machine_arn],
                "status": STOPPED_STATUSES,
            },
        ),
        targets=[
            event_targets.LambdaFunction(
                function,
                dead_letter_queue=dead_letters,
                retry_attempts=2,
                max_event_age=Duration.hours(1),
            )
        ],
    )
