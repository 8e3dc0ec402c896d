"""The moto plug-in: routing, restoring moto, wire format, and Step Functions' aws-sdk
integration with real error names."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from moto import mock_aws

from sandbox.emulator import PROFILES, CloudHsmWorld, install
from sandbox.emulator.moto_plugin import serve
from tests.emulator.helpers import REGION, Network, backups_of, client, make_network, seed

SFN_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
SFN_ERRORS_MODULE = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_aws_sdk"
)


def _sfn_error_names() -> dict[str, str]:
    import importlib

    table: dict[str, str] = importlib.import_module(SFN_ERRORS_MODULE)._SERVICE_ERROR_NAMES
    return table


def test_install_routes_calls_and_restores_moto_on_exit() -> None:
    """Given moto's own cloudhsmv2 responder
    When a world is installed, used, and the block exits
    Then calls inside reach the world, and afterwards moto's call_action and Step
    Functions' error names and response normaliser are exactly as before."""
    import importlib

    from moto.cloudhsmv2.responses import CloudHSMV2Response

    task_class = importlib.import_module(SFN_ERRORS_MODULE).StateTaskServiceAwsSdk
    before_action = CloudHSMV2Response.call_action
    before_normaliser = task_class._normalise_response
    before_names = dict(_sfn_error_names())
    world = CloudHsmWorld(profile=PROFILES["test"])

    with mock_aws(), install(world):
        client("cloudhsmv2", REGION).describe_clusters()
        inside_names = dict(_sfn_error_names())

    assert world.api_calls == {"DescribeClusters": 1}
    assert inside_names["cloudhsmv2"] == "CloudHsmV2"
    assert CloudHSMV2Response.call_action is before_action
    assert _sfn_error_names() == before_names
    assert task_class._normalise_response is before_normaliser


def test_a_second_world_cannot_be_installed_at_the_same_time() -> None:
    """Given an installed world
    When another install is attempted inside it
    Then RuntimeError is raised and the first world stays installed."""
    first = CloudHsmWorld(profile=PROFILES["test"])
    with mock_aws(), install(first):
        with pytest.raises(RuntimeError), install(CloudHsmWorld(profile=PROFILES["test"])):
            pass
        client("cloudhsmv2", REGION).describe_backups()

    assert first.api_calls == {"DescribeBackups": 1}


def test_wire_format_is_aws_json_with_epoch_timestamps_and_typed_errors(
    network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster
    When requests are served directly in awsJson1_1
    Then timestamps are epoch-second numbers, errors carry __type and message with their
    HTTP status, and a body that is not JSON is a serialization error."""
    seed(world, network)

    status, headers, body = serve(world, "DescribeBackups", REGION, b"{}", {})
    error_status, _, error_body = serve(
        world, "DeleteBackup", REGION, '{"BackupId": "backup-aaaaaaaaaaa"}', {}
    )
    bad_status, _, bad_body = serve(world, "DescribeBackups", REGION, "{oops", {})

    assert status == 200
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    timestamp = json.loads(body)["Backups"][0]["CreateTimestamp"]
    assert isinstance(timestamp, float)
    assert abs(time.time() - timestamp - 2 * 3600) < 60
    assert error_status == 400
    assert json.loads(error_body)["__type"] == "CloudHsmResourceNotFoundException"
    assert "backup-aaaaaaaaaaa" in json.loads(error_body)["message"]
    assert (bad_status, json.loads(bad_body)["__type"]) == (400, "SerializationException")


def test_api_calls_are_counted_per_operation(
    hsm: Any, network: Network, world: CloudHsmWorld
) -> None:
    """Given a seeded cluster
    When a few operations are called, one of them failing
    Then world.api_calls counts every request by operation name."""
    cluster_id = seed(world, network)
    hsm.describe_clusters()
    backups_of(hsm, clusterIds=[cluster_id])
    with pytest.raises(hsm.exceptions.CloudHsmResourceNotFoundException):
        hsm.delete_backup(BackupId="backup-aaaaaaaaaaa")

    assert world.api_calls == {"DescribeClusters": 1, "DescribeBackups": 1, "DeleteBackup": 1}


def _run(sfn: Any, definition: dict[str, Any], name: str) -> dict[str, Any]:
    machine = sfn.create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sandbox-sfn",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError(f"execution {name} still running")


@pytest.mark.slow
def test_step_functions_aws_sdk_tasks_reach_the_world_with_real_error_names() -> None:
    """Given a seeded cluster and state machines using aws-sdk:cloudhsmv2 tasks
    When one describes clusters then catches a failing DeleteBackup, and another lets a
    failing call escape
    Then the first succeeds with the cluster in its output (timestamps as ISO-8601 UTC
    strings, as Step Functions renders them) and the caught error named
    CloudHsmV2.CloudHsmResourceNotFoundException; the second fails with
    CloudHsmV2.CloudHsmInvalidRequestException."""
    world = CloudHsmWorld(profile=PROFILES["test"], rng_seed=3)
    with mock_aws(config=SFN_CONFIG), install(world):
        network = make_network(REGION)
        cluster_id = seed(world, network)
        sfn = client("stepfunctions", REGION)
        caught = _run(
            sfn,
            {
                "StartAt": "Describe",
                "States": {
                    "Describe": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::aws-sdk:cloudhsmv2:describeClusters",
                        "Parameters": {"Filters": {"clusterIds": [cluster_id]}},
                        "ResultPath": "$.described",
                        "Next": "Delete",
                    },
                    "Delete": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::aws-sdk:cloudhsmv2:deleteBackup",
                        "Parameters": {"BackupId": "backup-aaaaaaaaaaa"},
                        "Catch": [
                            {
                                "ErrorEquals": ["CloudHsmV2.CloudHsmResourceNotFoundException"],
                                "ResultPath": "$.error",
                                "Next": "Done",
                            }
                        ],
                        "End": True,
                    },
                    "Done": {"Type": "Succeed"},
                },
            },
            "caught",
        )
        failed = _run(
            sfn,
            {
                "StartAt": "CreateHsm",
                "States": {
                    "CreateHsm": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::aws-sdk:cloudhsmv2:createHsm",
                        "Parameters": {"ClusterId": cluster_id, "AvailabilityZone": "us-east-1f"},
                        "End": True,
                    }
                },
            },
            "failed",
        )

    assert caught["status"] == "SUCCEEDED"
    output = json.loads(caught["output"])
    described = output["described"]["Clusters"][0]
    assert described["ClusterId"] == cluster_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", described["CreateTimestamp"])
    assert output["error"]["Error"] == "CloudHsmV2.CloudHsmResourceNotFoundException"
    assert failed["status"] == "FAILED"
    assert failed["error"] == "CloudHsmV2.CloudHsmInvalidRequestException"
    assert world.api_calls == {"DescribeClusters": 1, "DeleteBackup": 1, "CreateHsm": 1}
