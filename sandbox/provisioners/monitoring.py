"""CloudWatch Logs log groups and CloudWatch alarms."""

from __future__ import annotations

from sandbox.provisioners.context import (
    Properties,
    ProvisionContext,
    Provisioned,
    lower_camel,
    pick,
)


def log_group(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    name = props.get("LogGroupName") or ctx.generated_name(logical_id, 512)
    logs = ctx.client("logs")
    logs.create_log_group(logGroupName=name, **lower_camel(pick(props, "KmsKeyId")))
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    return Provisioned(name, {"Arn": ctx.arn("logs", f"log-group:{name}:*")})


_ALARM_INTEGERS = ("EvaluationPeriods", "DatapointsToAlarm", "Period")


def cloudwatch_alarm(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    name = props.get("AlarmName") or ctx.generated_name(logical_id, 255)
    request = {key: value for key, value in props.items() if key != "AlarmName"}
    for key in _ALARM_INTEGERS:
        if key in request:
            request[key] = int(request[key])
    if "Threshold" in request:
        request["Threshold"] = float(request["Threshold"])
    for query in request.get("Metrics", []):
        for holder in (query, query.get("MetricStat", {})):
            if "Period" in holder:
                holder["Period"] = int(holder["Period"])
    ctx.client("cloudwatch").put_metric_alarm(AlarmName=name, **request)
    return Provisioned(name, {"Arn": ctx.arn("cloudwatch", f"alarm:{name}")})
