"""What AWS services do for the stack on their own: CloudWatch sends an alarm's actions,
EventBridge delivers an event to the rules that match it. Each delivery is authorized
as AWS authorizes it (sandbox/permissions): as `cloudwatch.amazonaws.com` or
`events.amazonaws.com` acting for the alarm or rule (aws:SourceArn), through the
target's resource policy and the KMS key that encrypts it; a rule target with a role
is called as that role. A refused delivery is reported, never silently dropped; a rule
target that cannot be invoked goes to the target's dead-letter queue, if it can.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from lambdas.shared.executions import state_machine_of
from sandbox.permissions import Denial, Principal, acting_as
from sandbox.permissions.enforcer import active_enforcer
from sandbox.results import DeployedResource

_ACTIONS_BY_STATE = {
    "ALARM": "AlarmActions",
    "OK": "OKActions",
    "INSUFFICIENT_DATA": "InsufficientDataActions",
}


class DeployedStack(Protocol):
    """What a delivery needs of the stack it happens in: a Deployment
    (sandbox/deployment.py), which sends its alarms and events through here."""

    @property
    def region(self) -> str: ...

    @property
    def account_id(self) -> str: ...

    def client(self, service: str) -> Any: ...

    def resources_of_type(self, resource_type: str) -> list[DeployedResource]: ...


@dataclass(frozen=True)
class Delivery:
    source: str  # the alarm's or rule's ARN
    target: str
    delivered: bool
    dead_lettered: bool = False
    denials: tuple[Denial, ...] = field(default=())
    result: Any = None  # what a Lambda target returned

    @property
    def denied(self) -> bool:
        return bool(self.denials)


def set_alarm_state(
    deployment: DeployedStack, alarm_name: str, state: str = "ALARM", reason: str = "sandbox"
) -> list[Delivery]:
    """`aws cloudwatch set-alarm-state`, then what CloudWatch does next: the actions of
    the new state, and the "CloudWatch Alarm State Change" event."""
    if state not in _ACTIONS_BY_STATE:
        raise ValueError(f"state: {state!r} is not one of {sorted(_ACTIONS_BY_STATE)}")
    cloudwatch = deployment.client("cloudwatch")
    found = cloudwatch.describe_alarms(AlarmNames=[alarm_name])
    alarms = found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
    if not alarms:
        raise LookupError(f"no alarm named {alarm_name!r} in {deployment.region}")
    alarm = alarms[0]
    previous = alarm.get("StateValue", "INSUFFICIENT_DATA")
    cloudwatch.set_alarm_state(AlarmName=alarm_name, StateValue=state, StateReason=reason)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    principal = Principal.service(
        "cloudwatch.amazonaws.com", deployment.account_id, alarm["AlarmArn"]
    )
    deliveries = []
    for action in alarm.get(_ACTIONS_BY_STATE[state], []):
        message = {
            "AlarmName": alarm_name,
            "AlarmDescription": alarm.get("AlarmDescription"),
            "AWSAccountId": deployment.account_id,
            "NewStateValue": state,
            "NewStateReason": reason,
            "StateChangeTime": now,
            "Region": deployment.region,
            "AlarmArn": alarm["AlarmArn"],
            "OldStateValue": previous,
        }
        subject = f'{state}: "{alarm_name}" in {deployment.region}'[:100]
        deliveries.append(_to_topic(deployment, principal, action, json.dumps(message), subject))
    event = {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "resources": [alarm["AlarmArn"]],
        "detail": {
            "alarmName": alarm_name,
            "state": {"value": state, "reason": reason, "timestamp": now},
            "previousState": {"value": previous},
        },
    }
    deliveries.extend(put_event(deployment, event))
    return deliveries


def put_event(deployment: DeployedStack, event: dict[str, Any]) -> list[Delivery]:
    """Deliver one event of the default bus to every enabled rule of the deployment
    whose pattern matches it."""
    from moto.events.models import EventPattern

    full = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "account": deployment.account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": deployment.region,
        "resources": [],
        **event,
    }
    deliveries: list[Delivery] = []
    for rule in deployment.resources_of_type("AWS::Events::Rule"):
        props = rule.properties
        pattern = props.get("EventPattern")
        if props.get("State", "ENABLED") != "ENABLED" or pattern is None:
            continue
        raw = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if not EventPattern.load(raw).matches_event(full):  # type: ignore[arg-type]
            continue
        rule_arn = str(rule.attributes["Arn"])
        for target in props.get("Targets", []):
            deliveries.append(_to_rule_target(deployment, rule_arn, target, full))
    return deliveries


# -- one delivery ---------------------------------------------------------------------


def _authorized(principal: Principal, action: str, resource: str, region: str) -> Denial | None:
    enforcer = active_enforcer()
    return (
        None
        if enforcer is None
        else enforcer.authorize_service(principal, action, resource, region)
    )


def _to_topic(
    deployment: DeployedStack, principal: Principal, topic_arn: str, message: str, subject: str
) -> Delivery:
    source = principal.source_arn or ""
    if topic_arn.split(":")[2] != "sns":  # e.g. an EC2 or Auto Scaling action
        return Delivery(source, topic_arn, delivered=False)
    denial = _authorized(principal, "sns:Publish", topic_arn, topic_arn.split(":")[3])
    if denial is not None:
        return Delivery(source, topic_arn, delivered=False, denials=(denial,))
    with acting_as(None):
        deployment.client("sns").publish(TopicArn=topic_arn, Message=message, Subject=subject)
    return Delivery(source, topic_arn, delivered=True)


def _to_rule_target(
    deployment: DeployedStack, rule_arn: str, target: dict[str, Any], event: dict[str, Any]
) -> Delivery:
    arn = str(target["Arn"])
    payload = target.get("Input") or json.dumps(event)
    role = target.get("RoleArn")
    caller = (
        Principal.role(role)
        if role
        else Principal.service("events.amazonaws.com", deployment.account_id, rule_arn)
    )
    service = arn.split(":")[2]
    action = {
        "lambda": "lambda:InvokeFunction",
        "sns": "sns:Publish",
        "sqs": "sqs:SendMessage",
        "states": "states:StartExecution",
    }.get(service)
    if action is None:
        return Delivery(rule_arn, arn, delivered=False)
    denial = _authorized(caller, action, arn, arn.split(":")[3])
    if denial is None:
        result = _send(deployment, service, arn, payload)
        return Delivery(rule_arn, arn, delivered=True, result=result)
    dead_letters = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not dead_letters:
        return Delivery(rule_arn, arn, delivered=False, denials=(denial,))
    events = Principal.service("events.amazonaws.com", deployment.account_id, rule_arn)
    dlq_denial = _authorized(events, "sqs:SendMessage", dead_letters, dead_letters.split(":")[3])
    if dlq_denial is not None:
        return Delivery(rule_arn, arn, delivered=False, denials=(denial, dlq_denial))
    _send(deployment, "sqs", dead_letters, payload)
    return Delivery(rule_arn, arn, delivered=False, dead_lettered=True, denials=(denial,))


def _send(deployment: DeployedStack, service: str, arn: str, payload: str) -> Any:
    """The delivery itself, made by the service (not checked again)."""
    with acting_as(None):
        if service == "lambda":
            response = deployment.client("lambda").invoke(FunctionName=arn, Payload=payload)
            body = response["Payload"].read().decode()
            return json.loads(body) if body else None
        if service == "sns":
            return deployment.client("sns").publish(TopicArn=arn, Message=payload)["MessageId"]
        if service == "sqs":
            sqs = deployment.client("sqs")
            url = sqs.get_queue_url(
                QueueName=arn.split(":")[5], QueueOwnerAWSAccountId=arn.split(":")[4]
            )["QueueUrl"]
            return sqs.send_message(QueueUrl=url, MessageBody=payload)["MessageId"]
        sfn = deployment.client("stepfunctions")
        return sfn.start_execution(stateMachineArn=arn, input=payload)["executionArn"]


def status_change_event(execution_arn: str, status: str) -> dict[str, Any]:
    region, account = execution_arn.split(":")[3], execution_arn.split(":")[4]
    state_machine = state_machine_of(execution_arn)
    return {
        "version": "0",
        "id": "6b3f7a7e-0000-4000-8000-000000000000",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": account,
        "time": datetime.now(UTC).isoformat(),
        "region": region,
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": state_machine,
            "status": status,
        },
    }
