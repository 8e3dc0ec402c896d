"""EventBridge rules and the Lambda permissions that let them invoke functions."""

from __future__ import annotations

import json

from sandbox.provisioners.context import Properties, ProvisionContext, Provisioned, pick


def events_rule(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    name = props.get("Name") or ctx.generated_name(logical_id, 64)
    events = ctx.client("events")
    request = pick(props, "Description", "ScheduleExpression", "State", "RoleArn")
    if "EventPattern" in props:
        pattern = props["EventPattern"]
        request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    arn = events.put_rule(Name=name, **request)["RuleArn"]
    targets = [
        pick(target, "Id", "Arn", "RoleArn", "Input", "DeadLetterConfig", "RetryPolicy")
        for target in props.get("Targets", [])
    ]
    if targets:
        events.put_targets(Rule=name, Targets=targets)
    return Provisioned(name, {"Arn": arn})


def lambda_permission(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    request = pick(props, "SourceArn", "SourceAccount", "PrincipalOrgID", "EventSourceToken")
    ctx.client("lambda").add_permission(
        FunctionName=props["FunctionName"],
        StatementId=logical_id,
        Action=props["Action"],
        Principal=props["Principal"],
        **request,
    )
    return Provisioned(logical_id)
