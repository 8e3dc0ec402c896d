"""What it takes in AWS for an alert, an event or a message to arrive, read from the
synthesized templates: who may publish to each topic and use its key, what a dead
letter needs to be written (a customer key the writing service may use, a queue policy
for its sources), and that every alarm on stopped or failed executions fires on a
single timeout. The sandbox enforces none of these resource policies yet, so these
checks are the only ones."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from tests.conftest import Synthesized
from tests.infra.test_stack import resources

ACCOUNT = "123456789012"
Series = dict[int, float]


def stacks(synthesized: Synthesized) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from synthesized.templates.items()


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def rendered(value: Any) -> str:
    """An ARN token as text, `${Logical.Attr}` for references (enough to compare)."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(rendered(p) for p in parts)
    raise ValueError(value)


def statements_naming(document: dict[str, Any], principal: str) -> list[dict[str, Any]]:
    return [
        s
        for s in document["Statement"]
        if s["Effect"] == "Allow"
        and principal in as_list((s.get("Principal") or {}).get("Service", []))
    ]


def role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


# Topics ---------------------------------------------------------------------------------


def test_each_topic_policy_keeps_tls_only_and_lets_alarms_and_the_account_publish(
    synthesized: Synthesized,
) -> None:
    checked = 0
    for name, template in stacks(synthesized):
        region = synthesized.regions[name]
        for policy in resources(template, "AWS::SNS::TopicPolicy").values():
            document = policy["Properties"]["PolicyDocument"]
            [deny] = [s for s in document["Statement"] if s["Effect"] == "Deny"]
            assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            # A topic policy replaces SNS's default one: without these, nobody publishes.
            [alarms] = statements_naming(document, "cloudwatch.amazonaws.com")
            assert alarms["Action"] == "sns:Publish"
            assert alarms["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
            source = rendered(alarms["Condition"]["ArnLike"]["aws:SourceArn"])
            assert source.endswith(f":cloudwatch:{region}:{ACCOUNT}:alarm:*")
            [account] = [
                s
                for s in document["Statement"]
                if s["Effect"] == "Allow" and "AWS" in s["Principal"]
            ]
            assert rendered(account["Principal"]["AWS"]).endswith(f":iam::{ACCOUNT}:root")
            assert account["Action"] == "sns:Publish"
            checked += 1
    assert checked == 3 * len(synthesized.templates)  # page, notify, escalation


def test_the_topics_key_lets_this_accounts_alarms_encrypt(synthesized: Synthesized) -> None:
    for name, template in stacks(synthesized):
        keys = resources(template, "AWS::KMS::Key")
        topic_keys = {
            t["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
            for t in resources(template, "AWS::SNS::Topic").values()
        }
        assert len(topic_keys) == 1
        [key_id] = topic_keys
        [statement] = statements_naming(
            keys[key_id]["Properties"]["KeyPolicy"], "cloudwatch.amazonaws.com"
        )
        assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
        source = rendered(statement["Condition"]["ArnLike"]["aws:SourceArn"])
        assert source.endswith(f":cloudwatch:{synthesized.regions[name]}:{ACCOUNT}:alarm:*")


def test_every_role_that_publishes_to_a_topic_may_use_its_key(synthesized: Synthesized) -> None:
    publishers = 0
    for _, template in stacks(synthesized):
        topic_key = {
            topic_id: t["Properties"]["KmsMasterKeyId"]
            for topic_id, t in resources(template, "AWS::SNS::Topic").items()
        }
        roles = {
            r["Ref"]
            for p in resources(template, "AWS::IAM::Policy").values()
            for r in p["Properties"]["Roles"]
        }
        for role_id in roles:
            statements = role_statements(template, role_id)
            topics = {
                s["Resource"]["Ref"]
                for s in statements
                if "sns:Publish" in as_list(s["Action"]) and isinstance(s["Resource"], dict)
            }
            for topic_id in topics:
                key_actions = {
                    a
                    for s in statements
                    if topic_key[topic_id] in as_list(s["Resource"])
                    for a in as_list(s["Action"])
                }
                assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= key_actions, role_id
                publishers += 1
    # The four workflows' state machines publish too, not only functions.
    assert publishers >= 10


# Dead letters ---------------------------------------------------------------------------


def queue_id_of(arn: Any) -> str:
    return str(arn["Fn::GetAtt"][0])


def queue_policy(template: dict[str, Any], queue_id: str) -> dict[str, Any]:
    [document] = [
        p["Properties"]["PolicyDocument"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]
    return document


def key_of(template: dict[str, Any], queue_id: str) -> dict[str, Any]:
    """The customer key of a queue (fails for alias/aws/sqs, which no service may use)."""
    key = template["Resources"][queue_id]["Properties"]["KmsMasterKeyId"]
    assert isinstance(key, dict), f"{queue_id} is encrypted with {key}"
    return dict(template["Resources"][key["Fn::GetAtt"][0]]["Properties"]["KeyPolicy"])


def writer_allowed(
    template: dict[str, Any], queue_id: str, service: str, source: str, key_source: str = ""
) -> None:
    """`service` may send to the queue for `source` only, and use its key for that
    source (written `key_source` in the key policy, when it must be spelled otherwise)."""
    sends = [
        s
        for s in statements_naming(queue_policy(template, queue_id), service)
        if s["Action"] == "sqs:SendMessage"
    ]
    assert [rendered(s["Condition"]["ArnEquals"]["aws:SourceArn"]) for s in sends].count(
        source
    ) == 1
    key_source = key_source or source
    uses = [
        s
        for s in statements_naming(key_of(template, queue_id), service)
        if key_source in [rendered(a) for a in as_list(s["Condition"]["ArnLike"]["aws:SourceArn"])]
    ]
    [use] = uses
    assert set(as_list(use["Action"])) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert use["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}


def test_every_rule_that_invokes_a_function_has_a_dead_letter_queue_it_may_write(
    synthesized: Synthesized,
) -> None:
    checked = 0
    for stack_name, template in stacks(synthesized):
        region = synthesized.regions[stack_name]
        for rule_id, rule in resources(template, "AWS::Events::Rule").items():
            for target in rule["Properties"]["Targets"]:
                if "Function" not in json.dumps(target["Arn"]):
                    continue
                assert "DeadLetterConfig" in target and "Name" in rule["Properties"], (
                    f"{rule_id} invokes a function without a dead-letter queue: give it a "
                    "name, Alerting.dead_letter_queue and Alerting.allow_dead_letters_from"
                )
                queue_id = queue_id_of(target["DeadLetterConfig"]["Arn"])
                name = rule["Properties"]["Name"]  # named: the key policy cannot Ref the rule
                writer_allowed(
                    template,
                    queue_id,
                    "events.amazonaws.com",
                    source=f"${{{rule_id}.Arn}}",
                    key_source=f"arn:${{AWS::Partition}}:events:{region}:{ACCOUNT}:rule/{name}",
                )
                checked += 1
    # The HsmUnhealthy alarm rule and the workflows' stopped-execution rules.
    assert checked >= 5


def test_every_subscription_redrives_to_a_queue_sns_may_write_for_its_topic(
    synthesized: Synthesized,
) -> None:
    checked = 0
    for _, template in stacks(synthesized):
        for subscription in resources(template, "AWS::SNS::Subscription").values():
            props = subscription["Properties"]
            queue_id = queue_id_of(props["RedrivePolicy"]["deadLetterTargetArn"])
            writer_allowed(template, queue_id, "sns.amazonaws.com", rendered(props["TopicArn"]))
            checked += 1
    assert checked >= 2 * len(synthesized.templates)


def test_no_queue_uses_the_aws_managed_sqs_key(synthesized: Synthesized) -> None:
    for _, template in stacks(synthesized):
        queues = resources(template, "AWS::SQS::Queue")
        assert queues
        for queue_id in queues:
            key_of(template, queue_id)


def test_undelivered_alerts_page(synthesized: Synthesized) -> None:
    for _, template in stacks(synthesized):
        [(queue_id, _)] = [
            (k, v)
            for k, v in resources(template, "AWS::SQS::Queue").items()
            if k.startswith("AlertingSubscriptionDeadLetters")
        ]
        [alarm] = [
            a["Properties"]
            for k, a in resources(template, "AWS::CloudWatch::Alarm").items()
            if k.startswith("AlertingUndeliveredAlertsAlarm")
        ]
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
        [action] = alarm["AlarmActions"]
        assert action["Ref"].startswith("AlertingTopic")


# Alarms on stopped and failed executions --------------------------------------------------


OPERATORS: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
}


def _combine(
    op: Callable[[float, float], float], left: Series | float, right: Series | float
) -> Series | float:
    if isinstance(left, dict) and isinstance(right, dict):
        return {t: op(left[t], right[t]) for t in left if t in right}
    if isinstance(left, dict):
        assert isinstance(right, float)
        return {t: op(v, right) for t, v in left.items()}
    if isinstance(right, dict):
        return {t: op(left, v) for t, v in right.items()}
    return op(left, right)


def evaluate(expression: str, series: Mapping[str, Series]) -> Series:
    """CloudWatch metric math on the few forms the stack uses: metric ids, numbers,
    + - *, and FILL(m, value). Arithmetic between series keeps only the timestamps both
    have; FILL gives every timestamp of the query a value."""
    grid = sorted({t for s in series.values() for t in s})

    def walk(node: ast.AST) -> Series | float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Name):
            return dict(series.get(node.id, {}))
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id == "FILL", node.func.id
            target, fill = (walk(a) for a in node.args)
            assert isinstance(target, dict) and isinstance(fill, float)
            return {t: target.get(t, fill) for t in grid}
        if isinstance(node, ast.BinOp):
            return _combine(OPERATORS[type(node.op)], walk(node.left), walk(node.right))
        raise AssertionError(f"unsupported in {expression!r}: {ast.dump(node)}")

    result = walk(ast.parse(expression, mode="eval"))
    assert isinstance(result, dict)
    return result


def test_the_evaluator_shows_why_fill_is_needed() -> None:
    one_timeout = {"timedOut": {0: 1.0}}
    assert evaluate("timedOut + aborted", one_timeout) == {}
    assert evaluate("FILL(timedOut, 0) + FILL(aborted, 0)", one_timeout) == {0: 1.0}


STOPPED = {"ExecutionsTimedOut", "ExecutionsAborted", "ExecutionsFailed"}


def execution_alarms(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for alarm_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        names = {props.get("MetricName")} | {
            q["MetricStat"]["Metric"]["MetricName"]
            for q in props.get("Metrics", [])
            if "MetricStat" in q
        }
        if names & STOPPED:
            yield alarm_id, props


@pytest.mark.parametrize("stack", ["main", "dr"])
def test_each_stopped_or_failed_alarm_fires_when_only_one_of_its_metrics_has_data(
    synthesized: Synthesized, stack: str
) -> None:
    template = (
        synthesized.template
        if stack == "main"
        else next(t for n, t in synthesized.templates.items() if n != synthesized.stack_name)
    )
    alarms = list(execution_alarms(template))
    assert len(alarms) >= 3
    math_alarms = 0
    for alarm_id, props in alarms:
        threshold = props["Threshold"]
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", alarm_id
        if "Metrics" not in props:
            continue  # one metric: its own datapoint is the value
        [returned] = [q for q in props["Metrics"] if q.get("ReturnData", True)]
        ids = [q["Id"] for q in props["Metrics"] if "MetricStat" in q]
        assert len(ids) >= 2
        for only_one in ids:
            values = evaluate(returned["Expression"], {only_one: {0: 1.0}})
            assert values.get(0, float("-inf")) >= threshold, (alarm_id, only_one, values)
        math_alarms += 1
    assert math_alarms >= 1
