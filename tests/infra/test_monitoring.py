"""Alerting and monitoring in the synthesized templates: a topic per severity, the
escalation matrix's subscriptions, every alarm with its metric, threshold and severity,
escalation alarms, and the dashboard."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.constructs.replacement.hsm_health import hsm_unhealthy_query
from tests.conftest import REPO_ROOT, SANDBOX_CONFIG, Synthesized, config_data
from tests.infra.test_stack import function, only, resources

CLUSTER = "cluster-sandboxprimary"
MAIN = "hsmdr-sandbox"
DR = "hsmdr-sandbox-dr-us-west-2"
ESCALATE_AFTER_SECONDS = 30 * 60  # config/sandbox.yaml
RUNBOOKS = {
    "complete-cluster-failure.md",
    "single-hsm-failure.md",
    "dr-drill.md",
    "on-demand-backup.md",
    "copy-failure.md",
}

Alarm = dict[str, Any]


# -- helpers ---------------------------------------------------------------------------


def topics(template: dict[str, Any]) -> dict[str, str]:
    """Severity (and escalation) -> the topic's logical id."""
    return {
        "page": only(template, "AWS::SNS::Topic", "AlertingTopic")[0],
        "notify": only(template, "AWS::SNS::Topic", "AlertingNotifyTopic")[0],
        "escalation": only(template, "AWS::SNS::Topic", "AlertingEscalationTopic")[0],
    }


def alarms(template: dict[str, Any]) -> list[Alarm]:
    return [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]


def severity(template: dict[str, Any], alarm: Alarm) -> str:
    by_topic = {topic: name for name, topic in topics(template).items()}
    [action] = alarm["AlarmActions"]
    return by_topic[action["Ref"]]


def metrics_of(alarm: Alarm) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, dimensions) of every metric the alarm reads."""
    found = []
    if "MetricName" in alarm:
        found.append((alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions", [])))
    for query in alarm.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            found.append((metric["Namespace"], metric["MetricName"], metric.get("Dimensions", [])))
    return [(ns, name, {d["Name"]: d["Value"] for d in dims}) for ns, name, dims in found]


def watching(
    template: dict[str, Any],
    namespace: str,
    metric_name: str,
    dimensions: dict[str, Any],
    of: str = "page",
    *,
    exact: bool = True,
) -> list[Alarm]:
    """Alarms of severity `of` that read this metric (with exactly these dimensions, or,
    with exact False, at least these)."""

    def matches(found: dict[str, Any]) -> bool:
        return found == dimensions if exact else dimensions.items() <= found.items()

    return [
        a
        for a in alarms(template)
        if severity(template, a) == of
        and any(ns == namespace and n == metric_name and matches(d) for ns, n, d in metrics_of(a))
    ]


def querying(template: dict[str, Any], query: str, of: str = "page") -> list[Alarm]:
    """Alarms of severity `of` that evaluate this Metrics Insights query."""
    return [
        a
        for a in alarms(template)
        if severity(template, a) == of
        and any(m.get("Expression") == query for m in a.get("Metrics", []))
    ]


def text(value: Any) -> str:
    """A description's literal text (tokens of an Fn::Join left out)."""
    if isinstance(value, str):
        return value
    return "".join(p for p in value["Fn::Join"][1] if isinstance(p, str))


def runbook_of(alarm: Alarm) -> str:
    description = text(alarm["AlarmDescription"])
    named = [r for r in RUNBOOKS if f"docs/runbooks/{r}" in description]
    assert named, description
    return named[0]


def one(found: list[Alarm]) -> Alarm:
    assert len(found) == 1, [a.get("AlarmDescription") for a in found]
    return found[0]


def main(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.templates[MAIN]


def dr(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.templates[DR]


def both(synthesized: Synthesized) -> Iterator[dict[str, Any]]:
    yield main(synthesized)
    yield dr(synthesized)


# -- topics and subscriptions ----------------------------------------------------------


def test_each_severity_has_its_own_encrypted_tls_only_topic(synthesized: Synthesized) -> None:
    for template in both(synthesized):
        key_id, _ = only(template, "AWS::KMS::Key", "AlertingKey")
        found = topics(template)
        assert len(set(found.values())) == 3
        policies = [p["Properties"] for p in resources(template, "AWS::SNS::TopicPolicy").values()]
        for topic_id in found.values():
            topic = template["Resources"][topic_id]["Properties"]
            assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
            [policy] = [p for p in policies if p["Topics"] == [{"Ref": topic_id}]]
            assert any(
                s["Effect"] == "Deny"
                and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                for s in policy["PolicyDocument"]["Statement"]
            )
    # The page topic keeps its construct id "Topic", so its logical id does not change.
    assert topics(main(synthesized))["page"].startswith("AlertingTopic")


def subscriptions(template: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    by_topic: dict[str, set[tuple[str, str]]] = {}
    names = {topic: name for name, topic in topics(template).items()}
    for sub in resources(template, "AWS::SNS::Subscription").values():
        props = sub["Properties"]
        by_topic.setdefault(names[props["TopicArn"]["Ref"]], set()).add(
            (props["Protocol"], props["Endpoint"])
        )
    return by_topic


def test_subscriptions_follow_the_escalation_matrix_in_every_stack(
    synthesized: Synthesized,
) -> None:
    # config/sandbox.yaml: page -> oncall (email, sms), escalation -> lead, notify -> hsm-team
    expected = {
        "page": {("email", "oncall@example.com"), ("sms", "+15555550100")},
        "escalation": {("email", "lead@example.com")},
        "notify": {("email", "hsm-team@example.com")},
    }
    for template in both(synthesized):
        assert subscriptions(template) == expected


@pytest.fixture(scope="module")
def webhook_template() -> dict[str, Any]:
    """The sandbox config with a paging service's webhook as a contact for everything."""
    from tests.synthesis import synthesis

    data = config_data()
    matrix = data["escalation"]
    matrix["contacts"].append({"name": "pager", "https": "https://events.example.com/sns/KEY"})
    matrix["contacts"][0]["https"] = "https://events.example.com/sns/ONCALL"
    for route in ("page", "notify"):
        matrix["severities"][route]["contacts"].append("pager")
    matrix["severities"]["page"]["escalate_to"] = ["lead", "pager"]
    return synthesis(data).template


def test_https_contacts_subscribe_their_webhook_once_per_topic(
    webhook_template: dict[str, Any],
) -> None:
    found = subscriptions(webhook_template)
    pager = ("https", "https://events.example.com/sns/KEY")
    assert found["page"] == {
        ("email", "oncall@example.com"),
        ("sms", "+15555550100"),
        ("https", "https://events.example.com/sns/ONCALL"),
        pager,
    }
    assert found["notify"] == {("email", "hsm-team@example.com"), pager}
    assert found["escalation"] == {("email", "lead@example.com"), pager}


# -- the alarms ------------------------------------------------------------------------


def test_backup_older_than_rpo_pages_and_a_silent_verification_counts_as_old(
    synthesized: Synthesized,
) -> None:
    dims = {"ClusterId": CLUSTER, "service": "verify-backups"}
    alarm = one(watching(main(synthesized), "CloudHsmDr", "BackupAgeSeconds", dims))
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", 24 * 3600)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "breaching"
    # One period per verification run (hourly), two runs in a row.
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
        3600,
        2,
        2,
    )
    assert runbook_of(alarm) == "on-demand-backup.md"


def test_verification_findings_that_put_a_recovery_point_at_risk_page(
    synthesized: Synthesized,
) -> None:
    dims = {"service": "verify-backups"}
    alarm = one(watching(main(synthesized), "CloudHsmDr", "PagingFindings", dims))
    assert alarm["AlarmActions"] == [{"Ref": topics(main(synthesized))["page"]}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"
    description = text(alarm["AlarmDescription"])
    for runbook in ("single-hsm-failure", "complete-cluster-failure", "copy-failure"):
        assert f"docs/runbooks/{runbook}.md" in description


def test_stale_or_missing_copies_page_from_both_regions(synthesized: Synthesized) -> None:
    # RPO 24 h + daily copy interval 24 h + stuck_after 240 min = 52 h
    limit = (24 + 24 + 4) * 3600
    job = {"ClusterId": CLUSTER, "Region": "us-west-2", "service": "copy-backups"}
    alarm = one(watching(main(synthesized), "CloudHsmDr", "NewestCopyAgeSeconds", job))
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (limit, "GreaterThanThreshold")
    assert alarm["Period"] == 86400 and runbook_of(alarm) == "copy-failure.md"
    # The DR region's hourly monitor: a fresh deployment (no copy yet) is quiet; once
    # copies were reported, its silence about a cluster (no READY copy left, or no
    # monitor) pages on the way to INSUFFICIENT_DATA.
    held = {"ClusterId": CLUSTER, "Region": "us-west-2", "service": "copy-monitor"}
    alarm = one(watching(dr(synthesized), "CloudHsmDr", "NewestCopyAgeSeconds", held))
    assert (alarm["Threshold"], alarm["TreatMissingData"]) == (limit, "missing")
    assert alarm["InsufficientDataActions"] == [{"Ref": topics(dr(synthesized))["page"]}]
    assert runbook_of(alarm) == "copy-failure.md"
    failed = one(
        watching(
            main(synthesized), "CloudHsmDr", "CopiesFailed", {"service": "copy-backups"}, "notify"
        )
    )
    assert (failed["Statistic"], failed["Threshold"]) == ("Sum", 0)
    # One failed copy notifies: the next run copies again, and the age alarm pages
    assert failed["AlarmActions"] == [{"Ref": topics(main(synthesized))["notify"]}]
    assert failed["ComparisonOperator"] == "GreaterThanThreshold"
    assert runbook_of(failed) == "copy-failure.md"


def test_hsm_health_pages_per_cluster_once(synthesized: Synthesized) -> None:
    template = main(synthesized)
    # AWS/CloudHSM, on the cluster (HSM ids change) under any dimension set; one alarm,
    # wherever it is built.
    alarm = one(querying(template, hsm_unhealthy_query(CLUSTER)))
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
    )
    assert runbook_of(alarm) == "single-hsm-failure.md"
    dims = {"ClusterId": CLUSTER, "service": "check-health"}
    capacity = one(watching(template, "CloudHsmDr", "DesiredHsms", dims))
    assert one(watching(template, "CloudHsmDr", "HealthyHsms", dims)) is capacity
    [expression] = [m["Expression"] for m in capacity["Metrics"] if "Expression" in m]
    assert expression == "desired - healthy"
    assert (capacity["Threshold"], capacity["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert runbook_of(capacity) == "single-hsm-failure.md"
    assert not querying(dr(synthesized), hsm_unhealthy_query(CLUSTER))


def state_machines(template: dict[str, Any]) -> dict[str, str]:
    return {
        k: v["Properties"]["StateMachineName"]
        for k, v in resources(template, "AWS::StepFunctions::StateMachine").items()
    }


def test_every_workflow_failure_and_timeout_pages_with_its_runbook(
    synthesized: Synthesized,
) -> None:
    runbook_of_suffix = {
        "on-demand-backup": "on-demand-backup.md",
        "replace-hsm": "single-hsm-failure.md",
        "restore-cluster": "complete-cluster-failure.md",
        "dr-drill": "dr-drill.md",
    }
    seen = 0
    for template in both(synthesized):
        for machine_id, name in state_machines(template).items():
            identity = {"StateMachineArn": {"Ref": machine_id}}
            failed = one(watching(template, "AWS/States", "ExecutionsFailed", identity))
            assert (failed["Statistic"], failed["Threshold"]) == ("Sum", 1)
            suffix = next(s for s in runbook_of_suffix if name.endswith(s))
            assert runbook_of(failed) == runbook_of_suffix[suffix]
            # Timeouts page too: this alarm, or the workflow's own timed-out alarm.
            assert watching(template, "AWS/States", "ExecutionsTimedOut", identity)
            seen += 1
    assert seen >= 4  # on-demand, replace, restore (main and DR) at least


def test_every_function_has_its_errors_and_throttles_watched(synthesized: Synthesized) -> None:
    for template in both(synthesized):
        for function_id, fn in resources(template, "AWS::Lambda::Function").items():
            identity = {"FunctionName": {"Ref": function_id}}
            # Errors: the notify alarm, unless a job's own errors alarm already pages.
            assert watching(template, "AWS/Lambda", "Errors", identity, "notify") or watching(
                template, "AWS/Lambda", "Errors", identity, "page"
            ), fn["Properties"].get("Description")
            throttles = one(watching(template, "AWS/Lambda", "Throttles", identity, "notify"))
            assert (throttles["Threshold"], throttles["Statistic"]) == (1, "Sum")
    # A function with no job alarm of its own: its errors notify, with its runbook.
    template = main(synthesized)
    steps_id, _ = function(template, "on-demand-backup")
    errors = one(
        watching(template, "AWS/Lambda", "Errors", {"FunctionName": {"Ref": steps_id}}, "notify")
    )
    assert runbook_of(errors) == "on-demand-backup.md"


def test_drills_page_when_overdue_and_notify_when_slow(synthesized: Synthesized) -> None:
    template = main(synthesized)
    overdue = one(
        watching(template, "CloudHsmDr", "DaysSinceSuccessfulDrill", {"service": "watch-drills"})
    )
    assert (overdue["Threshold"], overdue["ComparisonOperator"]) == (92, "GreaterThanThreshold")
    # Quiet until the watcher's first run; a watcher that stops reporting pages.
    assert overdue["TreatMissingData"] == "missing"
    assert overdue["InsufficientDataActions"] == overdue["AlarmActions"]
    assert overdue["InsufficientDataActions"] == [{"Ref": topics(template)["page"]}]
    assert runbook_of(overdue) == "dr-drill.md"
    for stack in both(synthesized):
        slow = one(
            watching(
                stack, "CloudHsmDr", "DrillRecoveryTimeSeconds", {"service": "dr-drill"}, "notify"
            )
        )
        assert (slow["Threshold"], slow["ComparisonOperator"]) == (3600, "GreaterThanThreshold")
        assert runbook_of(slow) == "dr-drill.md"
    # The watcher reads the drill's metric back in every region a drill may run.
    _, watcher = function(template, "watch-drills")
    settings = json.loads(watcher["Environment"]["Variables"]["HSMDR_DRILL_WATCH_SETTINGS"])
    assert settings["regions"] == ["us-east-1", "us-west-2"]
    assert settings["dimensions"] == [["service", "dr-drill"]]


def test_metrics_are_alarmed_with_the_dimensions_powertools_emits() -> None:
    # Given a function whose service name is set, as the stack sets it
    script = (
        "from aws_lambda_powertools.metrics import MetricUnit, single_metric\n"
        "from lambdas.shared.observability import metrics\n"
        "with single_metric(name='BackupAgeSeconds', unit=MetricUnit.Seconds, value=1,"
        " namespace='CloudHsmDr') as m:\n"
        "    m.add_dimension('ClusterId', 'cluster-sandboxprimary')\n"
        "metrics.add_metric(name='VerificationFindings', unit=MetricUnit.Count, value=0)\n"
        "metrics.add_metric(name='PagingFindings', unit=MetricUnit.Count, value=0)\n"
        "metrics.flush_metrics()\n"
    )
    env = {**os.environ, "POWERTOOLS_SERVICE_NAME": "verify-backups"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        check=True, timeout=60,
    ).stdout  # fmt: skip
    emitted = {}
    for line in out.splitlines():
        document = json.loads(line)
        [directive] = document["_aws"]["CloudWatchMetrics"]
        [names] = directive["Dimensions"]
        for metric in directive["Metrics"]:
            emitted[metric["Name"]] = {n: document[n] for n in names}
    # Then the dimensions are what project_metric (the alarms' metrics) names
    from stacks.monitoring import project_metric

    for name, dims in emitted.items():
        metric = project_metric("verify-backups", name, dimensions={"ClusterId": CLUSTER})
        expected = dict(metric.dimensions or {})
        if name in {"VerificationFindings", "PagingFindings"}:
            expected.pop("ClusterId")
        assert dims == expected, name


# -- escalation ------------------------------------------------------------------------


def metric_key(alarm: Alarm) -> str:
    keys = ("Namespace", "MetricName", "Dimensions", "Statistic", "Period", "Metrics")
    return json.dumps({k: alarm.get(k) for k in keys}, sort_keys=True)


def period_of(alarm: Alarm) -> int:
    if "Period" in alarm:
        return int(alarm["Period"])
    return max(
        int(m["MetricStat"]["Period"] if "MetricStat" in m else m["Period"])
        for m in alarm["Metrics"]
        if "MetricStat" in m or "Period" in m
    )


def test_every_page_alarm_escalates_if_it_lasts(synthesized: Synthesized) -> None:
    checked = 0
    for template in both(synthesized):
        found = alarms(template)
        escalations = [a for a in found if severity(template, a) == "escalation"]
        pages = [a for a in found if severity(template, a) == "page"]
        assert len(escalations) == len(pages)  # and no escalation of anything else
        for alarm in pages:
            # Given a page alarm, Then one escalation alarm reads the same metric...
            [escalation] = [e for e in escalations if metric_key(e) == metric_key(alarm)]
            for same in ("Threshold", "ComparisonOperator", "TreatMissingData"):
                assert escalation.get(same) == alarm.get(same), same
            # ...and needs the condition to last escalate_after_minutes longer.
            extra = math.ceil(ESCALATE_AFTER_SECONDS / period_of(alarm))
            assert escalation["EvaluationPeriods"] == alarm["EvaluationPeriods"] + extra
            base = alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"])
            assert escalation["DatapointsToAlarm"] == base + extra
            assert text(escalation["AlarmDescription"]).startswith("ESCALATED: still in alarm")
            checked += 1
    assert checked >= 20


def test_escalation_that_cloudwatch_cannot_evaluate_stops_synthesis() -> None:
    from aws_cdk import App, Duration, Stack
    from aws_cdk import aws_cloudwatch as cloudwatch

    from stacks.config import parse_config
    from stacks.constructs.alerting.alerting import Alerting

    data = yaml.safe_load(SANDBOX_CONFIG.read_text())
    data["escalation"]["severities"]["page"]["escalate_after_minutes"] = 12 * 60
    stack = Stack(App(), "Escalating")
    alerting = Alerting(stack, "Alerting", config=parse_config(data))
    alarm = cloudwatch.Alarm(
        stack,
        "Long",
        metric=cloudwatch.Metric(namespace="N", metric_name="M", period=Duration.minutes(5)),
        threshold=1,
        evaluation_periods=200,  # 200 + 144 five-minute periods: over CloudWatch's one day
    )
    with pytest.raises(
        ValueError, match=r"lower escalation\.severities\.page\.escalate_after_minutes"
    ):
        alerting.page_on(alarm)


def test_notify_on_acts_on_the_notify_topic_and_never_escalates(synthesized: Synthesized) -> None:
    template = main(synthesized)
    notify = [a for a in alarms(template) if severity(template, a) == "notify"]
    assert notify
    escalated = {metric_key(a) for a in alarms(template) if severity(template, a) == "escalation"}
    assert not [a for a in notify if metric_key(a) in escalated]


def test_a_function_added_after_monitoring_fails_synthesis() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_

    from stacks.config import load_config
    from stacks.constructs.alerting.alerting import Alerting
    from stacks.monitoring import Monitoring

    config = load_config(SANDBOX_CONFIG)
    app = App()
    stack = Stack(app, "Late")
    alerting = Alerting(stack, "Alerting", config=config)
    Monitoring(stack, "Monitoring", config=config, alerting=alerting, dr_region="us-west-2")
    lambda_.Function(
        stack,
        "Latecomer",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c): pass"),
    )
    with pytest.raises(RuntimeError, match="Latecomer/Resource was added after Late/Monitoring"):
        app.synth()


# -- the dashboard ---------------------------------------------------------------------


def dashboard(template: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    [props] = [d["Properties"] for d in resources(template, "AWS::CloudWatch::Dashboard").values()]
    body = props["DashboardBody"]
    raw = "".join(p if isinstance(p, str) else "TOKEN" for p in body["Fn::Join"][1])
    return props["DashboardName"], json.loads(raw)["widgets"]


def widget(widgets: list[dict[str, Any]], title: str) -> dict[str, Any]:
    [found] = [
        w["properties"] for w in widgets if w["properties"].get("title", "").startswith(title)
    ]
    return found


def names_in(widget_props: dict[str, Any]) -> list[str]:
    return [m[1] for m in widget_props["metrics"] if isinstance(m[0], str)]


def test_dashboard_shows_backups_hsms_copies_drills_and_workflows(
    synthesized: Synthesized,
) -> None:
    name, widgets = dashboard(main(synthesized))
    assert name == "hsmdr-sandbox"
    backups = widget(widgets, "Backup age vs RPO (h): payments (cluster-sandboxprimary)")
    assert names_in(backups) == ["BackupAgeSeconds"]
    assert backups["annotations"]["horizontal"][0]["value"] == 24  # the RPO, in hours
    hsms = widget(widgets, "HSMs vs desired: payments")
    assert {"HealthyHsms", "DesiredHsms"} <= set(names_in(hsms))
    copies = widget(widgets, "Newest copy age in us-west-2")
    assert names_in(copies) == ["NewestCopyAgeSeconds", "NewestCopyAgeSeconds"]
    assert copies["annotations"]["horizontal"][0]["value"] == 52
    drill = widget(widgets, "Last DR drill")
    assert drill["view"] == "singleValue" and "DrillSucceeded" in names_in(drill)
    rto = widget(widgets, "DR drill recovery time vs RTO")
    assert set(names_in(rto)) == {"DrillRecoveryTimeSeconds"}
    assert rto["annotations"]["horizontal"][0]["value"] == 60
    for machine in state_machines(main(synthesized)).values():
        executions = widget(widgets, f"Executions: {machine}")
        assert {"ExecutionsStarted", "ExecutionsFailed", "ExecutionsTimedOut"} <= set(
            names_in(executions)
        )
    # One dashboard per deployment (dashboard names are global to the account).
    assert not resources(dr(synthesized), "AWS::CloudWatch::Dashboard")


# -- bad matrices stop synthesis -------------------------------------------------------


BAD_MATRICES: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (
        lambda m: m["severities"].update(urgent={"contacts": ["oncall"]}),
        "escalation.severities: unknown severity 'urgent': severities are exactly page and notify",
    ),
    (
        lambda m: m["contacts"][0].update(sms="555-0100"),
        "escalation.contacts.0.sms: '555-0100' does not match",
    ),
    (
        lambda m: m["severities"]["page"].update(escalate_to=["boss"]),
        "escalation.severities.page.escalate_to.0: unknown contact 'boss' (contacts: oncall, "
        "lead, hsm-team)",
    ),
]


@pytest.mark.parametrize(("change", "expected"), BAD_MATRICES)
def test_bad_matrix_stops_synthesis_with_path_field_and_problem(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    data = yaml.safe_load(SANDBOX_CONFIG.read_text())
    change(data["escalation"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"config": str(bad)})}
    env["CDK_OUTDIR"] = str(tmp_path / "out")
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert f"{bad}: {expected}" in result.stderr
    assert not list((tmp_path / "out").glob("*.template.json"))


def test_dr_stack_with_its_alarms_passes_cfn_lint(synthesized: Synthesized) -> None:
    from cfnlint.api import ManualArgs, lint

    # W3005: the DependsOn CDK adds next to a GetAtt (see test_compliance.py).
    config = ManualArgs(ignore_checks=["W3005"])
    matches = lint(json.dumps(dr(synthesized)), regions=["us-west-2"], config=config)
    assert [str(m) for m in matches] == []
