"""The HSM replacement state machine (runbook 9.2.2, single HSM failure), in CDK Python.

Capacity first: create the replacement in the failed HSM's zone, wait until it is
ACTIVE (one that ends DEGRADED is deleted and created again, at most max_attempts
times), only then delete the DEGRADED HSM, and wait until the zone shows its desired
HSMs all ACTIVE. Success and failure both alert; the lock is released on every path.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.shared import runbooks
from stacks.constructs.shared.steps import (
    at,
    lambda_step,
    poll_wait,
    publish_alert,
    publish_text,
    release_lock,
    start,
    validate_and_lock,
)

CATCH_ALL = ["States.ALL"]


def _status_is(value: str) -> sfn.Condition:
    return sfn.Condition.string_equals("$.job.run.hsm.status", value)


def build(
    scope: Construct,
    *,
    function: lambda_.IFunction,
    topic: sns.ITopic,
    notify_topic: sns.ITopic,
    locks: dynamodb.ITableV2,
) -> sfn.IChainable:
    def step(state_id: str, name: str, comment: str) -> tasks.LambdaInvoke:
        return lambda_step(scope, state_id, function, name, comment=comment)

    # Failure path: delete DEGRADED HSMs this run created, alert with what exists, release.
    failed = sfn.Fail(scope, "Failed", error_path="$.error.Error", cause_path="$.error.Cause")
    release_after_failure = release_lock(scope, "ReleaseLockAfterFailure", locks, then=failed)
    notify_failure = publish_alert(
        scope,
        "NotifyFailure",
        topic,
        "$.job.run.failure.alert",
        "Tell on-call what failed, what exists now and what to run next",
    )
    notify_failure.add_catch(
        release_after_failure, errors=CATCH_ALL, result_path=sfn.JsonPath.DISCARD
    )
    notify_failure.next(release_after_failure)
    notify_report_failure = publish_text(
        scope,
        "NotifyReportFailure",
        topic,
        subject=sfn.JsonPath.format(
            "CloudHSM HSM replacement FAILED on {}", at("$.job.plan.cluster_id")
        ),
        text="The HSM replacement on {} failed ({}) and its failure report failed too ({}). "
        "Check the HSMs now: aws cloudhsmv2 describe-clusters --region {} --filters "
        "clusterIds={} (or hsmdr cluster health --config <deployment config> --cluster "
        "{}) and delete only DEGRADED HSMs. Runbook: "
        + runbooks.SINGLE_HSM_FAILURE
        + ". Execution: {}",
        values=[
            at("$.job.plan.cluster_id"),
            at("$.error.Error"),
            at("$.reportError.Error"),
            at("$.job.plan.region"),
            at("$.job.plan.cluster_id"),
            at("$.job.plan.cluster_id"),
            at("$.job.plan.execution"),
        ],
        comment="Page: even the failure report failed, a person must check the cluster",
        then=release_after_failure,
    )
    report_failure = lambda_step(
        scope,
        "ReportFailure",
        function,
        "report_failure",
        comment="Delete DEGRADED HSMs this run created; write the alert",
        payload={"step": "report_failure", "job.$": "$.job", "error.$": "$.error"},
    )
    report_failure.add_catch(notify_report_failure, errors=CATCH_ALL, result_path="$.reportError")
    report_failure.next(notify_failure)

    def guarded(task: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
        task.add_catch(report_failure, errors=CATCH_ALL, result_path="$.error")
        return task

    # Success path: report, alert (on-call wants to know the automation acted), release.
    succeeded = sfn.Succeed(scope, "Succeeded", output_path="$.result")
    release = release_lock(scope, "ReleaseLock", locks, then=succeeded)
    notify_success = publish_alert(
        scope,
        "NotifySuccess",
        notify_topic,  # fixed: working hours are soon enough
        "$.result.alert",
        "Tell the notify contacts what the automation did",
    )
    notify_success.add_catch(release, errors=CATCH_ALL, result_path=sfn.JsonPath.DISCARD)
    notify_success.next(release)
    describe = guarded(
        lambda_step(
            scope,
            "DescribeReplacement",
            function,
            "describe",
            comment="Report what was replaced and the cluster now",
            result_path="$.result",
        )
    )
    describe.next(notify_success)

    wait_for_sync = poll_wait(scope, "WaitForSync", "Let the cluster settle")
    check_sync = guarded(
        step("CheckSynchronised", "check_sync", "Does the zone show its desired HSMs ACTIVE?")
    )
    wait_for_sync.next(check_sync).next(
        sfn.Choice(scope, "Synchronised?")
        .when(sfn.Condition.boolean_equals("$.job.run.sync.done", True), describe)
        .otherwise(wait_for_sync)
    )

    delete_failed = guarded(
        step(
            "DeleteFailedHsm",
            "delete_failed_hsm",
            "Re-read the failed HSM; delete it only if DEGRADED and its replacement is ACTIVE",
        )
    )
    delete_failed.next(wait_for_sync)
    failed_to_delete = (
        sfn.Choice(scope, "FailedHsmToDelete?")
        .when(sfn.Condition.boolean_equals("$.job.plan.delete_failed", True), delete_failed)
        .otherwise(wait_for_sync)
    )

    create = guarded(step("CreateReplacement", "create_hsm", "Create the HSM in the failed zone"))
    wait_for_new = poll_wait(scope, "WaitForReplacement", "Let the HSM be created")
    check_new = guarded(step("CheckReplacement", "check_hsm", "Is the new HSM ACTIVE?"))
    discard = guarded(
        step("DiscardDegradedReplacement", "discard_hsm", "Delete the new HSM that ended DEGRADED")
    )
    wait_for_discard = poll_wait(scope, "WaitForDiscard", "Let the DEGRADED HSM go")
    check_discard = guarded(step("CheckDiscard", "check_hsm", "Is the DEGRADED HSM gone?"))
    discard.next(wait_for_discard).next(check_discard).next(
        sfn.Choice(scope, "Discarded?").when(_status_is("GONE"), create).otherwise(wait_for_discard)
    )
    create.next(wait_for_new).next(check_new).next(
        sfn.Choice(scope, "ReplacementActive?")
        .when(_status_is("ACTIVE"), failed_to_delete)
        .when(_status_is("DEGRADED"), discard)
        .when(_status_is("GONE"), create)
        .otherwise(wait_for_new)
    )

    validate = validate_and_lock(
        scope, function, "Check the input and the cluster, lock it, plan what to replace"
    )
    return (
        start(scope)
        .next(validate)
        .next(
            sfn.Choice(scope, "CreateNeeded?")
            .when(sfn.Condition.boolean_equals("$.job.plan.create", True), create)
            .otherwise(failed_to_delete)
        )
    )
