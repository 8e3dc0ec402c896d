"""What runs when a workflow execution is ABORTED or TIMED_OUT.

Step Functions runs no Catch for a stopped execution, so the workflow's own clean-up,
lock release and alert never happen. An EventBridge rule on the state machine's
"Step Functions Execution Status Change" events sends those to the workflow's own
function, which reads the execution's input and history to find what it created.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as event_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.nag import acknowledge, rendered

STOPPED_STATUSES = ["TIMED_OUT", "ABORTED"]


def stopped_rule(
    scope: Construct,
    *,
    state_machine: sfn.IStateMachine,
    state_machine_name: str,
    function: lambda_.IFunction,
    description: str,
) -> events.Rule:
    """Send the state machine's stopped executions to `function`, and let it read them."""
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
    return events.Rule(
        scope,
        "StoppedRule",
        description=description,
        event_pattern=events.EventPattern(
            source=["aws.states"],
            detail_type=["Step Functions Execution Status Change"],
            detail={
                "stateMachineArn": [state_machine.state_machine_arn],
                "status": STOPPED_STATUSES,
            },
        ),
        targets=[event_targets.LambdaFunction(function, retry_attempts=2)],
    )
