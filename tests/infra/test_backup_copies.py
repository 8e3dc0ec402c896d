"""The copy job in the main stack: its schedule, and the exact permissions of the only
role in the project that can delete a backup."""

from __future__ import annotations

import json
from typing import Any

from lambdas.shared.env import Env
from tests.conftest import Synthesized
from tests.infra.test_stack import _text, function, only, resources

PARTITION = {"Ref": "AWS::Partition"}


def arn(rest: str) -> dict[str, Any]:
    """An ARN as the template writes it: arn:<partition>:cloudhsm:..."""
    return {"Fn::Join": ["", ["arn:", PARTITION, f":cloudhsm:{rest}"]]}


def role_statements(template: dict[str, Any], service: str) -> list[dict[str, Any]]:
    _, props = function(template, service)
    role_id = props["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def cloudhsm_statements(template: dict[str, Any], service: str) -> list[dict[str, Any]]:
    return [
        s
        for s in role_statements(template, service)
        if any(a.startswith("cloudhsm:") for a in _actions(s))
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    found = statement["Action"]
    return [found] if isinstance(found, str) else list(found)


def test_copy_role_has_exactly_these_cloudhsm_permissions(synthesized: Synthesized) -> None:
    statements = cloudhsm_statements(synthesized.template, "copy-backups")
    backups_east = arn("us-east-1:123456789012:backup/*")
    backups_west = arn("us-west-2:123456789012:backup/*")
    copy_keys = ["managed-by", "hsmdr:source-cluster", "hsmdr:source-backup", "hsmdr:deployment"]
    assert statements == [
        {
            "Action": ["cloudhsm:DescribeClusters", "cloudhsm:DescribeBackups"],
            "Effect": "Allow",
            "Resource": "*",
        },
        {"Action": "cloudhsm:CopyBackupToRegion", "Effect": "Allow", "Resource": backups_east},
        {
            "Action": ["cloudhsm:ListTags", "cloudhsm:ModifyBackupAttributes"],
            "Effect": "Allow",
            "Resource": [backups_east, backups_west],
        },
        # The tags that make a copy deletable: with the copy request's tag set...
        {
            "Action": "cloudhsm:TagResource",
            "Condition": {
                "StringEquals": {
                    "aws:RequestTag/managed-by": "cloudhsm-dr",
                    "aws:RequestTag/hsmdr:deployment": "hsmdr-sandbox",
                },
                "ForAllValues:StringEquals": {"aws:TagKeys": copy_keys},
            },
            "Effect": "Allow",
            "Resource": [backups_east, backups_west],
            "Sid": "TagCopiesAtCreation",
        },
        {
            "Action": "cloudhsm:UntagResource",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": copy_keys}},
            "Effect": "Allow",
            "Resource": [backups_east, backups_west],
            "Sid": "UntagCopiesAtCreation",
        },
        # Existing backups: the golden mark alone, which no permission depends on.
        {
            "Action": ["cloudhsm:TagResource", "cloudhsm:UntagResource"],
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["hsmdr:golden"]}},
            "Effect": "Allow",
            "Resource": [backups_east, backups_west],
            "Sid": "MarkGoldenBackups",
        },
        {
            "Action": "cloudhsm:ModifyCluster",
            "Effect": "Allow",
            "Resource": arn("us-east-1:123456789012:cluster/cluster-sandboxprimary"),
        },
        # ...and never on a backup that already exists where DeleteBackup reaches: a
        # copy being made has no id yet, so only a foreign backup matches backup-*.
        {
            "Action": "cloudhsm:TagResource",
            "Condition": {"Null": {"aws:RequestTag/managed-by": "false"}},
            "Effect": "Deny",
            "Resource": arn("us-west-2:123456789012:backup/backup-*"),
            "Sid": "NeverTagExistingBackupsAsCopies",
        },
        {
            "Action": "cloudhsm:DeleteBackup",
            "Condition": {"StringEquals": {"aws:ResourceTag/managed-by": "cloudhsm-dr"}},
            "Effect": "Allow",
            "Resource": backups_west,
        },
    ]


def test_delete_is_granted_nowhere_else_in_any_stack(synthesized: Synthesized) -> None:
    holders = [
        (stack, logical_id)
        for stack, template in synthesized.templates.items()
        for logical_id, policy in resources(template, "AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(a in ("cloudhsm:DeleteBackup", "cloudhsm:*") for a in _actions(statement))
    ]
    assert len(holders) == 1
    assert holders[0][0] == "hsmdr-sandbox" and "BackupCopies" in holders[0][1]


def test_copy_function_environment_carries_clusters_and_backup_settings(
    synthesized: Synthesized,
) -> None:
    _, props = function(synthesized.template, "copy-backups")
    env = props["Environment"]["Variables"]
    assert props["Handler"] == "lambdas.backups.copy_handler.handler"
    assert props["Timeout"] == 600
    backup_settings = json.loads(env[Env.BACKUP_SETTINGS])
    assert backup_settings["dr_regions"] == ["us-west-2"]
    assert backup_settings["copy_interval_minutes"] == 24 * 60
    assert [c["id"] for c in json.loads(env[Env.PROTECTED_CLUSTERS])] == ["cluster-sandboxprimary"]
    topic_id, _ = only(synthesized.template, "AWS::SNS::Topic", "AlertingTopic")
    assert env[Env.ALERT_TOPIC_ARN] == {"Ref": topic_id}


def test_verification_function_knows_the_dr_regions_too(synthesized: Synthesized) -> None:
    _, props = function(synthesized.template, "verify-backups")
    env = props["Environment"]["Variables"]
    assert json.loads(env[Env.BACKUP_SETTINGS])["dr_regions"] == ["us-west-2"]


def test_copy_schedule_runs_daily_with_dead_letters_and_alarms(synthesized: Synthesized) -> None:
    template = synthesized.template
    function_id, _ = function(template, "copy-backups")
    _, schedule = only(template, "AWS::Scheduler::Schedule", "BackupCopies")
    queue_id, _ = only(template, "AWS::SQS::Queue", "BackupCopies")
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert schedule["Target"]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    topic_id, _ = only(template, "AWS::SNS::Topic", "AlertingTopic")
    alarms = [
        a["Properties"]
        for k, a in resources(template, "AWS::CloudWatch::Alarm").items()
        if k.startswith("BackupCopies")
    ]
    assert sorted(a["MetricName"] for a in alarms) == [
        "ApproximateNumberOfMessagesVisible",
        "Errors",
    ]
    assert all(a["AlarmActions"] == [{"Ref": topic_id}] for a in alarms)
    errors = next(a for a in alarms if a["MetricName"] == "Errors")
    assert "hsmdr backup copy --deployment" in _text(errors["AlarmDescription"])
