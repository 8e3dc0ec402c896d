"""The cluster lock around planning: taken first, given back when the plan fails."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from lambdas.shared.errors import ClusterBusy, InvalidInput
from lambdas.shared.locks import ClusterLock

CLUSTER = "cluster-abcdefghijk"


def lock() -> ClusterLock:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="locks",
        KeySchema=[{"AttributeName": "cluster_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "cluster_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ClusterLock("locks", client)


def items() -> list[dict[str, object]]:
    return list(boto3.client("dynamodb", region_name="us-east-1").scan(TableName="locks")["Items"])


@mock_aws
def test_a_refused_plan_gives_the_cluster_back() -> None:
    locks = lock()
    with (
        pytest.raises(InvalidInput),
        locks.held_for_planning(CLUSTER, "run-1", "on-demand backup", 3600, lambda _holder: True),
    ):
        assert len(items()) == 1  # taken before the plan reads anything
        raise InvalidInput("strategy", "cycle-hsm needs allow_downtime on a one-HSM cluster")
    assert items() == []


@mock_aws
def test_a_plan_made_keeps_the_lock_and_a_second_run_is_told_who_has_it() -> None:
    locks = lock()
    with locks.held_for_planning(CLUSTER, "run-1", "on-demand backup", 3600, lambda _: True):
        pass
    [item] = items()
    assert item["holder"] == {"S": "run-1"}
    with (
        pytest.raises(ClusterBusy, match="on-demand backup run-1"),
        locks.held_for_planning(CLUSTER, "run-2", "HSM replacement", 3600, lambda _holder: True),
    ):
        pytest.fail("the plan must not run while another run holds the cluster")
    [still] = items()
    assert still["holder"] == {"S": "run-1"}  # the refused run did not release another's lock


class _Described:
    """A Step Functions client that answers DescribeExecution with one error code."""

    def __init__(self, code: str) -> None:
        self.code = code

    def describe_execution(self, executionArn: str) -> dict[str, str]:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": self.code, "Message": "x"}}, "DescribeExecution")


@pytest.mark.parametrize(
    ("code", "running"),
    [("ExecutionDoesNotExist", False), ("InvalidArn", False), ("AccessDeniedException", True)],
)
def test_a_holder_that_cannot_be_read_keeps_its_lock(code: str, running: bool) -> None:
    from lambdas.shared.executions import execution_running

    arn = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-restore-cluster:run"
    assert execution_running(_Described(code), arn) is running


def test_a_stopped_rule_handler_reads_only_an_execution_status_change() -> None:
    from lambdas.shared.errors import InvalidInput
    from lambdas.shared.executions import stopped_execution

    arn = "arn:aws:states:us-east-1:123456789012:execution:hsmdr-restore-cluster:run"
    event = {"detail": {"executionArn": arn, "status": "ABORTED"}}
    assert stopped_execution(event) == (arn, "ABORTED")
    with pytest.raises(InvalidInput, match=r"detail\.executionArn"):
        stopped_execution({"detail": {"status": "ABORTED"}})
