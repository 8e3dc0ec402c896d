"""The on-demand backup workflow in the template: permissions and wiring."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Synthesized
from tests.infra.test_stack import function, resources

PROTECTED_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":cloudhsm:us-east-1:123456789012:cluster/cluster-sandboxprimary",
        ],
    ]
}


def statements_of(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def actions(statement: dict[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def test_hsm_changes_are_limited_to_the_protected_clusters(synthesized: Synthesized) -> None:
    _, props = function(synthesized.template, "on-demand-backup")
    statements = statements_of(synthesized.template, props["Role"]["Fn::GetAtt"][0])
    [statement] = [s for s in statements if "cloudhsm:CreateHsm" in actions(s)]
    assert actions(statement) == {"cloudhsm:CreateHsm"}
    assert statement["Resource"] == PROTECTED_ARN
    # DeleteHsm takes no resource in IAM (tests/infra/test_hsm_permissions.py).
    [delete] = [s for s in statements if "cloudhsm:DeleteHsm" in actions(s)]
    assert actions(delete) == {"cloudhsm:DeleteHsm"} and delete["Resource"] == "*"
    everything = set().union(*(actions(s) for s in statements))
    cloudhsm = {a for a in everything if a.startswith("cloudhsm:")}
    assert cloudhsm == {
        "cloudhsm:CreateHsm",
        "cloudhsm:DeleteHsm",
        "cloudhsm:DescribeClusters",
        "cloudhsm:DescribeBackups",
    }
    assert not any("DeleteBackup" in a or "DeleteCluster" in a for a in everything)


def test_state_machine_is_named_logged_traced_and_uses_the_function(
    synthesized: Synthesized,
) -> None:
    machines = resources(synthesized.template, "AWS::StepFunctions::StateMachine")
    [(_, machine)] = [
        (k, v)
        for k, v in machines.items()
        if v["Properties"]["StateMachineName"].endswith("on-demand-backup")
    ]
    props = machine["Properties"]
    assert props["StateMachineName"] == "hsmdr-sandbox-on-demand-backup"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    definition = "".join(
        p if isinstance(p, str) else json.dumps(p) for p in props["DefinitionString"]["Fn::Join"][1]
    )
    function_id, _ = function(synthesized.template, "on-demand-backup")
    assert function_id in definition
    for state in (
        "ValidateAndLock",
        "CreateHsm",
        "CheckBackup",
        "CleanUp",
        "NotifyFailure",
        "ReleaseLock",
    ):
        assert f'"{state}"' in definition


def test_lock_table_is_encrypted_recoverable_and_expires_locks(synthesized: Synthesized) -> None:
    [table] = [
        t
        for k, t in resources(synthesized.template, "AWS::DynamoDB::GlobalTable").items()
        if k.startswith("ClusterLocks")
    ]
    props = table["Properties"]
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    [replica] = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def stopped_rule_target(template: dict[str, Any], machine_suffix: str) -> str:
    """The logical id of the function that the state machine's stopped rule invokes."""
    machines = resources(template, "AWS::StepFunctions::StateMachine")
    [machine_id] = [
        k
        for k, v in machines.items()
        if v["Properties"]["StateMachineName"].endswith(machine_suffix)
    ]
    found = []
    for rule in resources(template, "AWS::Events::Rule").values():
        pattern = rule["Properties"]["EventPattern"]
        if pattern.get("detail", {}).get("stateMachineArn") == [{"Ref": machine_id}]:
            assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
            assert sorted(pattern["detail"]["status"]) == ["ABORTED", "TIMED_OUT"]
            [target] = rule["Properties"]["Targets"]
            found.append(target["Arn"]["Fn::GetAtt"][0])
    [function_id] = found
    return str(function_id)


def test_a_stopped_execution_goes_to_the_step_function_which_may_read_it_and_page(
    synthesized: Synthesized,
) -> None:
    template = synthesized.template
    function_id, props = function(template, "on-demand-backup")
    assert stopped_rule_target(template, "on-demand-backup") == function_id
    statements = statements_of(template, props["Role"]["Fn::GetAtt"][0])
    assert any("states:GetExecutionHistory" in actions(s) for s in statements)
    assert any("sns:Publish" in actions(s) for s in statements)
    assert "HSMDR_ALERT_TOPIC_ARN" in props["Environment"]["Variables"]


def test_the_lock_outlives_the_state_machine_timeout() -> None:
    from lambdas.backups.on_demand import lock_ttl_seconds, workflow_timeout_minutes
    from lambdas.shared.settings import BackupSettings

    for settings in (
        BackupSettings(),
        BackupSettings(hsm_timeout_minutes=5, backup_timeout_minutes=1440),
    ):
        timeout = workflow_timeout_minutes(
            settings.hsm_timeout_minutes, settings.backup_timeout_minutes
        )
        assert lock_ttl_seconds(settings) > timeout * 60


def test_the_state_machine_timeout_comes_from_the_same_function(synthesized: Synthesized) -> None:
    from lambdas.backups.on_demand import workflow_timeout_minutes

    machines = resources(synthesized.template, "AWS::StepFunctions::StateMachine")
    [machine] = [
        v
        for v in machines.values()
        if v["Properties"]["StateMachineName"].endswith("on-demand-backup")
    ]
    definition = "".join(
        p if isinstance(p, str) else json.dumps(p)
        for p in machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    )
    from stacks.config import load_config
    from tests.conftest import SANDBOX_CONFIG

    on_demand = load_config(SANDBOX_CONFIG).backups.on_demand
    expected = workflow_timeout_minutes(
        on_demand.hsm_timeout_minutes, on_demand.backup_timeout_minutes
    )
    assert f'"TimeoutSeconds":{expected * 60}' in definition
