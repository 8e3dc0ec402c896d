"""The health check and the HSM replacement in the template: permissions, alarms, wiring."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.shared.env import Env
from tests.conftest import Synthesized, config_data
from tests.infra.test_on_demand_stack import PROTECTED_ARN, actions, statements_of
from tests.infra.test_stack import function, only, resources

CLUSTER = "cluster-sandboxprimary"


def role_statements(template: dict[str, Any], service: str) -> list[dict[str, Any]]:
    _, props = function(template, service)
    return statements_of(template, props["Role"]["Fn::GetAtt"][0])


def all_actions(statements: list[dict[str, Any]]) -> set[str]:
    return set().union(*(actions(s) for s in statements))


def replace_machine(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(logical_id, machine)] = [
        (k, v["Properties"])
        for k, v in resources(template, "AWS::StepFunctions::StateMachine").items()
        if v["Properties"]["StateMachineName"] == "hsmdr-sandbox-replace-hsm"
    ]
    return logical_id, machine


def alarms_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The health check's own alarms (escalations of paging alarms live in Alerting)."""
    return {
        k: v["Properties"]
        for k, v in resources(template, "AWS::CloudWatch::Alarm").items()
        if k.startswith("HsmHealth")
    }


def page_topic(template: dict[str, Any]) -> str:
    topic_id, _ = only(template, "AWS::SNS::Topic", "AlertingTopic")
    return topic_id


def test_hsm_changes_are_limited_to_the_protected_clusters(synthesized: Synthesized) -> None:
    statements = role_statements(synthesized.template, "replace-hsm")
    [statement] = [s for s in statements if "cloudhsm:CreateHsm" in actions(s)]
    assert actions(statement) == {"cloudhsm:CreateHsm"}
    assert statement["Resource"] == PROTECTED_ARN
    # DeleteHsm takes no resource in IAM (tests/infra/test_hsm_permissions.py).
    [delete] = [s for s in statements if "cloudhsm:DeleteHsm" in actions(s)]
    assert actions(delete) == {"cloudhsm:DeleteHsm"} and delete["Resource"] == "*"
    cloudhsm = {a for a in all_actions(statements) if a.startswith("cloudhsm:")}
    assert cloudhsm == {"cloudhsm:CreateHsm", "cloudhsm:DeleteHsm", "cloudhsm:DescribeClusters"}
    [describe] = [s for s in statements if actions(s) == {"cloudhsm:DescribeClusters"}]
    assert describe["Resource"] == "*"  # DescribeClusters has no resource-level permission


def test_health_check_reads_cloudhsm_and_starts_only_the_replacement(
    synthesized: Synthesized,
) -> None:
    template = synthesized.template
    statements = role_statements(template, "check-health")
    granted = all_actions(statements)
    assert {a for a in granted if a.startswith("cloudhsm:")} == {"cloudhsm:DescribeClusters"}
    # The lock table is only read; what it wrote goes to the alert memory alone
    dynamo = {
        json.dumps(s["Resource"], sort_keys=True): actions(s)
        for s in statements
        if any(a.startswith("dynamodb:") for a in actions(s))
    }
    lock_table = next(k for k in dynamo if "ClusterLocks" in k)
    memory_table = next(k for k in dynamo if "AlertingMemory" in k)
    assert len(dynamo) == 2
    assert dynamo[lock_table] == {"dynamodb:GetItem"}
    assert dynamo[memory_table] == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}
    machine_id, _ = replace_machine(template)
    [start] = [s for s in statements if "states:StartExecution" in actions(s)]
    assert actions(start) == {"states:StartExecution", "states:ListExecutions"}
    assert start["Resource"] == {"Ref": machine_id}
    assert "sns:Publish" in granted
    _, props = function(template, "check-health")
    env = props["Environment"]["Variables"]
    assert env[Env.REPLACE_HSM_STATE_MACHINE_ARN] == {"Ref": machine_id}
    assert json.loads(env[Env.REPLACEMENT_SETTINGS])["auto_replace"] is True


def test_replacement_state_machine_is_named_logged_traced_and_alerts(
    synthesized: Synthesized,
) -> None:
    _, props = replace_machine(synthesized.template)
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    definition = "".join(
        p if isinstance(p, str) else json.dumps(p) for p in props["DefinitionString"]["Fn::Join"][1]
    )
    function_id, _ = function(synthesized.template, "replace-hsm")
    assert function_id in definition
    for state in ("ValidateAndLock", "DeleteFailedHsm", "NotifySuccess", "NotifyFailure"):
        assert f'"{state}"' in definition
    assert definition.count(':states:::dynamodb:deleteItem"') == 2  # both lock releases


def test_schedule_runs_the_check_every_five_minutes(synthesized: Synthesized) -> None:
    function_id, _ = function(synthesized.template, "check-health")
    _, schedule = only(synthesized.template, "AWS::Scheduler::Schedule", "HsmHealth")
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert json.loads(schedule["Target"]["Input"]) == {"source": "schedule"}


def unhealthy_query(alarm: dict[str, Any]) -> str | None:
    """The Metrics Insights query of an HsmUnhealthy alarm, None for any other alarm."""
    for query in alarm.get("Metrics", []):
        if "HsmUnhealthy" in query.get("Expression", ""):
            return str(query["Expression"])
    return None


def test_hsm_unhealthy_alarm_is_on_the_cluster_and_pages(synthesized: Synthesized) -> None:
    topic_id = page_topic(synthesized.template)
    [alarm] = [a for a in alarms_of(synthesized.template).values() if unhealthy_query(a)]
    # Which dimension sets AWS/CloudHSM publishes is unconfirmed (cluster, cluster + HSM):
    # a Metrics Insights query over the namespace, filtered on the cluster, sees both.
    [query] = alarm["Metrics"]
    assert query["Expression"] == (
        f"SELECT MAX(HsmUnhealthy) FROM \"AWS/CloudHSM\" WHERE ClusterId = '{CLUSTER}'"  # noqa: S608
    )
    assert (query["Period"], query["ReturnData"], alarm["EvaluationPeriods"]) == (300, True, 1)
    assert "MetricName" not in alarm and "Dimensions" not in alarm
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmName"] == f"hsmdr-sandbox-hsm-unhealthy-{CLUSTER}"
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": topic_id}]


def test_alarm_state_change_runs_the_health_check(synthesized: Synthesized) -> None:
    template = synthesized.template
    function_id, _ = function(template, "check-health")
    [(alarm_id, _)] = [(k, a) for k, a in alarms_of(template).items() if unhealthy_query(a)]
    rule_id, rule = only(template, "AWS::Events::Rule", "HsmHealth")
    assert rule["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": [{"Ref": alarm_id}], "state": {"value": ["ALARM"]}},
    }
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert "DeadLetterConfig" in target
    [permission] = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"].get("SourceArn") == {"Fn::GetAtt": [rule_id, "Arn"]}
    ]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}


def capacity_alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a
        for a in alarms_of(template).values()
        if any(m.get("Expression") == "desired - healthy" for m in a.get("Metrics", []))
    ]


def emitted_metrics(
    function_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> dict[str, dict[str, str]]:
    """What the health check's metric code prints (EMF), run with the function's own
    environment: metric name -> its dimensions."""
    from lambdas.replacement.health import HEALTHY, HealthDecision, assess
    from lambdas.replacement.health_check_handler import _emit_metrics
    from lambdas.replacement.health_run import HealthEntry, HealthReport
    from tests.lambdas.factories import NOW, cluster, spec

    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
        monkeypatch.setenv(name, function_env[name])
    entry = HealthEntry(assess(spec(id=CLUSTER), cluster()), HealthDecision(HEALTHY, "ok"))
    capsys.readouterr()
    _emit_metrics(HealthReport("d", NOW, "schedule", (entry,), True))
    found = {}
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line)
        [directive] = document["_aws"]["CloudWatchMetrics"]
        [[*names]] = directive["Dimensions"]
        for metric in directive["Metrics"]:
            found[metric["Name"]] = {n: document[n] for n in names}
    return found


def test_capacity_alarm_watches_the_metrics_the_check_emits(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    topic_id = page_topic(synthesized.template)
    [alarm] = capacity_alarms(synthesized.template)
    _, props = function(synthesized.template, "check-health")
    emitted = emitted_metrics(props["Environment"]["Variables"], monkeypatch, capsys)
    assert set(emitted) == {"HealthyHsms", "DesiredHsms", "DegradedHsms"}
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    for metric_id, name in (("desired", "DesiredHsms"), ("healthy", "HealthyHsms")):
        stat = metrics[metric_id]["MetricStat"]
        assert stat["Metric"]["Namespace"] == "CloudHsmDr"
        assert stat["Metric"]["MetricName"] == name
        # Every dimension the EMF document carries (Powertools adds "service"), or
        # CloudWatch sees a different metric and the alarm never gets a data point.
        dimensions = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
        assert dimensions == emitted[name] == {"ClusterId": CLUSTER, "service": "check-health"}
        assert stat["Period"] == 300
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    # The sandbox's 5-minute HSM timeout over 5-minute checks, plus one check: 10 minutes short.
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 2
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


@pytest.fixture(scope="module")
def remote_cluster_template() -> dict[str, Any]:
    """A second cluster in another region, automatic replacement off."""
    from tests.synthesis import synthesis

    data = config_data()
    data["protected_clusters"].append(
        {"id": "cluster-remoteclusterx", "region": "eu-west-1", "hsms_per_az": {"eu-west-1a": 1}}
    )
    data["hsm_replacement"] = {"auto_replace": False}
    return synthesis(data).template


def test_clusters_in_other_regions_get_no_cloudhsm_alarm_but_a_capacity_alarm(
    remote_cluster_template: dict[str, Any],
) -> None:
    template = remote_cluster_template
    unhealthy = [unhealthy_query(a) for a in alarms_of(template).values() if unhealthy_query(a)]
    # A CloudWatch alarm sees metrics of its own region only.
    assert len(unhealthy) == 1 and f"ClusterId = '{CLUSTER}'" in str(unhealthy[0])
    capacity = capacity_alarms(template)
    assert len(capacity) == 2
    # Without automatic replacement nobody will fix it: page at the first short period.
    assert {a["EvaluationPeriods"] for a in capacity} == {1}
    statements = role_statements(template, "replace-hsm")
    [mutating] = [s for s in statements if "cloudhsm:CreateHsm" in actions(s)]
    assert len(mutating["Resource"]) == 2
    assert "cluster/cluster-remoteclusterx" in json.dumps(mutating["Resource"])
