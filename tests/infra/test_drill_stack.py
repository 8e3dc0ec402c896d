"""The DR drill as synthesized: IAM that only lets it change its own drill clusters,
the report bucket's settings, the schedule, the timeout that teardown fits inside, the
alarm and rule for stopped executions, the metrics' names, and the key-verification
wiring when that is deployed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.drill.plan import DRILL_KEY, DRILL_TAG_KEYS
from lambdas.drill.report import (
    DRILL_BACKUP_AGE,
    DRILL_HSM_HOURS,
    DRILL_RECOVERY_TIME,
    DRILL_SUCCEEDED,
)
from lambdas.drill.settings import DrillEnv
from stacks.config import load_config
from stacks.constructs.drill.dr_drill import (
    MARGIN_MINUTES,
    state_machine_timeout_minutes,
    work_minutes,
)
from stacks.constructs.drill.workflow import teardown_retry_attempts
from stacks.names import DR_DRILL
from tests.conftest import SANDBOX_CONFIG, Synthesized
from tests.infra.test_stack import resources
from tests.sandbox.drill_support import drill_templates

NAME = "hsmdr-sandbox-dr-drill"


def drill_machine(template: dict[str, Any]) -> dict[str, Any]:
    [machine] = [
        r["Properties"]
        for r in resources(template, "AWS::StepFunctions::StateMachine").values()
        if r["Properties"]["StateMachineName"] == NAME
    ]
    raw = machine["DefinitionString"]
    if isinstance(raw, dict):
        raw = "".join(p if isinstance(p, str) else "ARN" for p in raw["Fn::Join"][1])
    definition: dict[str, Any] = json.loads(raw)
    return definition


def drill_function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(logical_id, props)] = [
        (k, v["Properties"])
        for k, v in resources(template, "AWS::Lambda::Function").items()
        if v["Properties"]
        .get("Environment", {})
        .get("Variables", {})
        .get("POWERTOOLS_SERVICE_NAME")
        == DR_DRILL
    ]
    return logical_id, props


def role_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    _, props = drill_function(template)
    role = props["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = [r.get("Ref") for r in policy["Properties"].get("Roles", [])]
        if role in roles:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions(statement: dict[str, Any]) -> list[str]:
    found = statement["Action"]
    return [found] if isinstance(found, str) else list(found)


def allowing(template: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in role_statements(template) if action in actions(s) and s["Effect"] == "Allow"]


def denying(template: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in role_statements(template) if action in actions(s) and s["Effect"] == "Deny"]


# IAM ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["cloudhsm:CreateHsm", "cloudhsm:DeleteCluster"])
def test_cluster_changes_need_the_drill_tag_and_this_deployment(
    synthesized: Synthesized, action: str
) -> None:
    [statement] = allowing(synthesized.template, action)
    assert statement["Condition"]["StringLike"] == {f"aws:ResourceTag/{DRILL_KEY}": "*"}
    assert statement["Condition"]["StringEquals"] == {
        "aws:ResourceTag/hsmdr:deployment": "hsmdr-sandbox"
    }
    assert all(":cluster/*" in json.dumps(r) for r in statement["Resource"])


def test_delete_hsm_is_granted_on_star_alone_in_the_drill_regions(
    synthesized: Synthesized,
) -> None:
    # DeleteHsm takes no resource type and no condition key: a cluster ARN or a tag
    # condition would make every teardown's DeleteHsm fail in AWS.
    [statement] = allowing(synthesized.template, "cloudhsm:DeleteHsm")
    assert actions(statement) == ["cloudhsm:DeleteHsm"]
    assert statement["Resource"] == "*"
    assert statement["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}
    }


def test_every_change_to_a_protected_cluster_is_denied(synthesized: Synthesized) -> None:
    held = {
        a
        for s in role_statements(synthesized.template)
        if s["Effect"] == "Allow"
        for a in actions(s)
        if a.startswith("cloudhsm:")
        and a not in ("cloudhsm:DeleteHsm",)  # no resource in IAM: cannot be denied per cluster
        and not a.startswith(("cloudhsm:Describe", "cloudhsm:List", "cloudhsm:CreateCluster"))
    }
    [deny] = denying(synthesized.template, "cloudhsm:TagResource")
    assert held <= set(actions(deny)) and "cloudhsm:UntagResource" in actions(deny)
    assert "Condition" not in deny
    assert json.dumps(deny["Resource"]).endswith(':cluster/cluster-sandboxprimary"]]}')


def test_create_cluster_needs_the_drill_request_tags_and_no_others(
    synthesized: Synthesized,
) -> None:
    [statement] = allowing(synthesized.template, "cloudhsm:CreateCluster")
    condition = statement["Condition"]
    assert condition["StringLike"] == {f"aws:RequestTag/{DRILL_KEY}": "*"}
    assert condition["StringEquals"]["aws:RequestTag/managed-by"] == "cloudhsm-dr"
    assert condition["ForAllValues:StringEquals"]["aws:TagKeys"] == list(DRILL_TAG_KEYS)


def test_no_statement_lets_the_role_tag_or_untag_a_cluster_freely(
    synthesized: Synthesized,
) -> None:
    for statement in allowing(synthesized.template, "cloudhsm:TagResource"):
        assert statement["Condition"]["StringLike"] == {f"aws:RequestTag/{DRILL_KEY}": "*"}
    assert allowing(synthesized.template, "cloudhsm:UntagResource") == []


def test_by_default_the_drill_deletes_no_backup(synthesized: Synthesized) -> None:
    # Only the copy job deletes backups (tests/infra/test_backup_copies.py)
    assert allowing(synthesized.template, "cloudhsm:DeleteBackup") == []


def test_opted_in_it_deletes_only_backups_tagged_for_a_drill() -> None:
    template = drill_templates()[NAME.removesuffix("-dr-drill")]  # delete_drill_backups
    [delete] = allowing(template, "cloudhsm:DeleteBackup")
    assert delete["Condition"] == {"StringLike": {f"aws:ResourceTag/{DRILL_KEY}": "*"}}
    [tag_backups] = [
        s
        for s in allowing(template, "cloudhsm:TagResource")
        if ":backup/*" in json.dumps(s["Resource"])
    ]
    assert tag_backups["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == [DRILL_KEY]
    # CloudHSM makes a drill cluster's backups, so the drill tags them afterwards: that
    # tag must never reach this project's copies or golden backups.
    denied = {
        key
        for s in denying(template, "cloudhsm:DeleteBackup")
        if "cloudhsm:TagResource" in actions(s) and ":backup/*" in json.dumps(s["Resource"])
        for key, absent in s["Condition"]["Null"].items()
        if absent == "false"
    }
    assert denied == {"aws:ResourceTag/hsmdr:source-backup", "aws:ResourceTag/hsmdr:golden"}


def test_ec2_actions_cloudhsm_needs_are_allowed_only_through_cloudhsm(
    synthesized: Synthesized,
) -> None:
    [statement] = allowing(synthesized.template, "ec2:CreateSecurityGroup")
    assert statement["Condition"]["Bool"] == {"aws:ViaAWSService": "true"}
    assert "ec2:AuthorizeSecurityGroupIngress" in actions(statement)


def test_with_key_verification_the_drill_opens_only_tagged_groups_and_the_verifier() -> None:
    template = drill_templates()[NAME.removesuffix("-dr-drill")]
    ingress = [
        s
        for s in allowing(template, "ec2:AuthorizeSecurityGroupIngress")
        if "Bool" not in s.get("Condition", {})
    ]
    [direct] = ingress
    assert direct["Condition"] == {"StringLike": {f"ec2:ResourceTag/{DRILL_KEY}": "*"}}
    [egress] = [
        s
        for s in allowing(template, "ec2:RevokeSecurityGroupEgress")
        if "Bool" not in s.get("Condition", {})
    ]
    assert "VerifierGroup" in json.dumps(egress["Resource"])
    assert "Condition" not in egress  # one group by ARN: the verifier's own
    [tags] = allowing(template, "ec2:CreateTags")
    assert tags["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == [DRILL_KEY]
    # The group is made by CloudHSM and tagged afterwards: never the protected one.
    [deny] = denying(template, "ec2:CreateTags")
    assert {"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress"} <= set(
        actions(deny)
    )
    assert ":security-group/sg-" in json.dumps(deny["Resource"])
    # And the state machine invokes the verify-keys function
    verify = drill_machine(template)["States"]["VerifyKeys"]
    assert '"manifest_cluster_id.$": "$.job.plan.source_cluster_id"' in json.dumps(verify)
    [machine] = [
        r
        for r in resources(template, "AWS::StepFunctions::StateMachine").values()
        if r["Properties"]["StateMachineName"] == NAME
    ]
    assert "KeyVerificationVerifyKeysFunction" in json.dumps(machine["Properties"])


# Timeout, schedule, alarms --------------------------------------------------------------------


def test_teardown_deadline_ends_well_inside_the_state_machine_timeout(
    synthesized: Synthesized,
) -> None:
    config = load_config(SANDBOX_CONFIG)
    timeout = drill_machine(synthesized.template)["TimeoutSeconds"]
    assert timeout == state_machine_timeout_minutes(config) * 60
    # the loop's deadline, then the retries of a last round that fails
    last_teardown_deadline = work_minutes(config) + 2 * config.drills.teardown_timeout_minutes
    assert timeout - last_teardown_deadline * 60 == MARGIN_MINUTES * 60 >= 3600


def test_every_step_after_plan_is_caught_into_teardown(synthesized: Synthesized) -> None:
    states = drill_machine(synthesized.template)["States"]
    guarded = ["CreateCluster", "CheckCluster", "OpenNetwork", "CreateHsm", "CheckHsm"]
    guarded += ["DiscardHsm", "CheckDiscard", "RecordSkippedKeys"]
    for name in guarded:
        [catch] = states[name]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "TeardownAfterFailure"
    teardown = states["Teardown"]
    # A failed round goes to the page with its error shortened to one line
    assert teardown["Catch"][0]["Next"] == "ShortenTeardownError"
    shorten = states["ShortenTeardownError"]
    assert shorten["Default"] == "NotifyTeardownFailure"
    assert states[shorten["Choices"][0]["Next"]]["Next"] == "ShortenTeardownErrorHasMessage?"
    # Any error is retried, backing off, for as long as the teardown deadline
    retry = teardown["Retry"][-1]
    assert retry["ErrorEquals"] == ["States.ALL"] and retry["BackoffRate"] == 1.5
    assert retry["MaxDelaySeconds"] == 30
    minutes = load_config(SANDBOX_CONFIG).drills.teardown_timeout_minutes
    assert retry["MaxAttempts"] == teardown_retry_attempts(minutes)
    waits = sum(min(1.5**k, 30) for k in range(retry["MaxAttempts"]))
    assert minutes * 60 <= waits < minutes * 60 + 30
    refused = {"ErrorEquals": ["NotOwnedByThisDrill", "TeardownIncomplete"], "MaxAttempts": 0}
    assert refused in teardown["Retry"]
    # The teardown page is published by Step Functions itself, not by the function
    assert states["NotifyTeardownFailure"]["Resource"].endswith(":sns:publish")


def test_quarterly_schedule_starts_the_state_machine(synthesized: Synthesized) -> None:
    [schedule] = [
        r["Properties"]
        for k, r in resources(synthesized.template, "AWS::Scheduler::Schedule").items()
        if k.startswith("DrDrill")
    ]
    assert schedule["ScheduleExpression"] == "cron(0 9 1 1,4,7,10 ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert json.loads(schedule["Target"]["Input"]) == {"trigger": "schedule"}
    assert "DrDrillWorkflow" in json.dumps(schedule["Target"]["Arn"])
    assert "DeadLetterConfig" in schedule["Target"]


def test_a_timed_out_or_aborted_drill_pages_and_reaches_the_function(
    synthesized: Synthesized,
) -> None:
    template = synthesized.template
    [alarm] = [
        r["Properties"]
        for k, r in resources(template, "AWS::CloudWatch::Alarm").items()
        if k.startswith("DrDrillWorkflowStoppedAlarm")
    ]
    metrics = {
        m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m
    }
    assert metrics == {"ExecutionsTimedOut", "ExecutionsAborted"}
    assert "AlertingTopic" in json.dumps(alarm["AlarmActions"])
    [rule] = [
        r["Properties"]
        for k, r in resources(template, "AWS::Events::Rule").items()
        if k.startswith("DrDrill")
    ]
    assert rule["EventPattern"]["detail"]["status"] == ["TIMED_OUT", "ABORTED"]
    function_id, _ = drill_function(template)
    assert function_id in json.dumps(rule["Targets"])


# The report bucket ---------------------------------------------------------------------------


def test_reports_bucket_is_kms_encrypted_versioned_private_and_tls_only(
    synthesized: Synthesized,
) -> None:
    template = synthesized.template
    [(bucket_id, bucket)] = [
        (k, r["Properties"])
        for k, r in resources(template, "AWS::S3::Bucket").items()
        if k.startswith("DrDrillReports") and "AccessLogs" not in k
    ]
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "DrDrillReportKey" in json.dumps(rule["ServerSideEncryptionByDefault"])
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert "LoggingConfiguration" in bucket
    [policy] = [
        r["Properties"]["PolicyDocument"]
        for r in resources(template, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )
    [put] = [s for s in role_statements(template) if "s3:PutObject" in actions(s)]
    assert "/reports/drills/*" in json.dumps(put["Resource"])


def test_function_environment_carries_the_drill_settings(synthesized: Synthesized) -> None:
    _, props = drill_function(synthesized.template)
    variables = props["Environment"]["Variables"]
    settings = json.loads(variables[DrillEnv.SETTINGS])
    assert settings["rto_minutes"] == 60 and settings["hsm_hour_usd"] == 1.85
    assert settings["default_cluster"] == "cluster-sandboxprimary"
    assert settings["key_verification"] is False
    assert DrillEnv.REPORT_BUCKET in variables and DrillEnv.PAGE_TOPIC_ARN in variables


def test_metric_names_are_the_ones_the_alarms_and_dashboard_read() -> None:
    assert [DRILL_SUCCEEDED, DRILL_RECOVERY_TIME, DRILL_BACKUP_AGE, DRILL_HSM_HOURS] == [
        "DrillSucceeded",
        "DrillRecoveryTimeSeconds",
        "DrillBackupAgeSeconds",
        "DrillHsmHours",
    ]
