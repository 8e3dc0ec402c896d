"""The on-demand backup state machine, in CDK Python.

CloudHSM has no backup API; it backs a cluster up when an HSM is added or removed.
`add-temporary-hsm` adds one HSM, waits for the backup, removes it; `cycle-hsm`
removes one HSM and re-creates it with the same IP. Any failure after validation
runs the clean-up loop (back to the starting HSMs), alerts, and releases the lock.
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
    as_json,
    at,
    lambda_step,
    one_line_cause,
    poll_wait,
    publish_by_severity,
    publish_text,
    release_lock,
    start,
    validate_and_lock,
)

CATCH_ALL = ["States.ALL"]


def _status_is(path: str, value: str) -> sfn.Condition:
    return sfn.Condition.string_equals(path, value)


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

    # Failure path: clean up until the cluster is as it was, alert, release, fail.
    failed = sfn.Fail(scope, "Failed", error_path="$.error.Error", cause_path="$.error.Cause")
    release_after_failure = release_lock(scope, "ReleaseLockAfterFailure", locks, then=failed)
    notify_failure = publish_by_severity(
        scope,
        "NotifyFailure",
        page_topic=topic,
        notify_topic=notify_topic,
        alert_path="$.job.run.cleanup.alert",
        comment="Tell on-call what failed, what clean-up did and what to run next",
        then=release_after_failure,
    )
    notify_cleanup_failure = publish_text(
        scope,
        "NotifyCleanupFailure",
        topic,
        subject=sfn.JsonPath.format(
            "On-demand backup FAILED on {} and clean-up did not finish", at("$.job.plan.cluster_id")
        ),
        text="The on-demand backup of {} failed ({}) and its clean-up did not finish: {} "
        "The cluster may not have the HSMs it started with ({}). Check now: "
        "aws cloudhsmv2 describe-clusters --region {} --filters clusterIds={} "
        "and delete any HSM this execution created (list them: hsmdr cluster health "
        "--config <deployment config> --cluster {}). Runbook: "
        + runbooks.ON_DEMAND_BACKUP
        + ". Execution: {}",
        values=[
            at("$.job.plan.cluster_id"),
            at("$.error.Error"),
            at("$.cleanupError.Cause"),
            as_json("$.job.plan.hsms_per_az_before"),
            at("$.job.plan.region"),
            at("$.job.plan.cluster_id"),
            at("$.job.plan.cluster_id"),
            at("$.job.plan.execution"),
        ],
        comment="Page: clean-up itself failed, a person must check the cluster",
        then=release_after_failure,
    )
    clean_up = lambda_step(
        scope,
        "CleanUp",
        function,
        "clean_up",
        comment="Delete HSMs this run created, re-create one it removed",
        payload={"step": "clean_up", "job.$": "$.job", "error.$": "$.error"},
    )
    clean_up.add_catch(notify_cleanup_failure, errors=CATCH_ALL, result_path="$.cleanupError")
    wait_for_cleanup = poll_wait(scope, "WaitForCleanUp", "Let deletions and creations finish")
    clean_up.next(
        sfn.Choice(scope, "CleanedUp?")
        .when(sfn.Condition.boolean_equals("$.job.run.cleanup.done", True), notify_failure)
        .otherwise(wait_for_cleanup.next(clean_up))
    )

    def guarded(task: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
        task.add_catch(clean_up, errors=CATCH_ALL, result_path="$.error")
        return task

    # Success path.
    succeeded = sfn.Succeed(scope, "Succeeded", output_path="$.result")
    release = release_lock(scope, "ReleaseLock", locks, then=succeeded)
    describe = guarded(
        lambda_step(
            scope,
            "DescribeBackup",
            function,
            "describe",
            comment="Verify the new backup and report it with its copies",
            result_path="$.result",
        )
    )
    describe.next(release)

    check_removal = guarded(step("CheckRemoval", "check_hsm", "Is the temporary HSM gone?"))
    wait_for_removal = poll_wait(scope, "WaitForRemoval", "Let the temporary HSM go")
    remove_temporary = guarded(
        step("RemoveTemporaryHsm", "remove_temporary_hsm", "Delete the temporary HSM")
    )
    remove_temporary.next(wait_for_removal).next(check_removal).next(
        sfn.Choice(scope, "Removed?")
        .when(_status_is("$.job.run.hsm.status", "GONE"), describe)
        .otherwise(wait_for_removal)
    )

    check_backup = guarded(
        step("CheckBackup", "check_backup", "Has a backup made since the start become READY?")
    )
    wait_for_backup = poll_wait(scope, "WaitForBackup", "Let CloudHSM finish the backup")
    wait_for_backup.next(check_backup).next(
        sfn.Choice(scope, "BackupReady?")
        .when(
            _status_is("$.job.run.backup.state", "READY"),
            sfn.Choice(scope, "TemporaryHsmToRemove?")
            .when(_status_is("$.job.plan.strategy", "cycle-hsm"), describe)
            .otherwise(remove_temporary),
        )
        .otherwise(wait_for_backup)
    )

    create_hsm = guarded(step("CreateHsm", "create_hsm", "Add one HSM (the backup trigger)"))
    wait_for_new = poll_wait(scope, "WaitForNewHsm", "Let the HSM be created")
    check_new = guarded(step("CheckNewHsm", "check_hsm", "Is the new HSM ACTIVE?"))
    discard = guarded(step("DiscardDegradedHsm", "discard_hsm", "Delete the DEGRADED HSM"))
    wait_for_discard = poll_wait(scope, "WaitForDiscard", "Let the DEGRADED HSM go")
    check_discard = guarded(step("CheckDiscard", "check_hsm", "Is the DEGRADED HSM gone?"))
    discard.next(wait_for_discard).next(check_discard).next(
        sfn.Choice(scope, "Discarded?")
        .when(_status_is("$.job.run.hsm.status", "GONE"), create_hsm)
        .otherwise(wait_for_discard)
    )
    create_hsm.next(wait_for_new).next(check_new).next(
        sfn.Choice(scope, "NewHsmActive?")
        .when(_status_is("$.job.run.hsm.status", "ACTIVE"), wait_for_backup)
        .when(_status_is("$.job.run.hsm.status", "DEGRADED"), discard)
        .otherwise(wait_for_new)
    )

    remove_cycled = guarded(
        step("RemoveCycledHsm", "remove_cycled_hsm", "Delete the HSM being cycled")
    )
    wait_for_cycled = poll_wait(scope, "WaitForCycledRemoval", "Let the cycled HSM go")
    check_cycled = guarded(step("CheckCycledRemoval", "check_hsm", "Is the cycled HSM gone?"))
    remove_cycled.next(wait_for_cycled).next(check_cycled).next(
        sfn.Choice(scope, "CycledRemoved?")
        .when(_status_is("$.job.run.hsm.status", "GONE"), create_hsm)
        .otherwise(wait_for_cycled)
    )

    validate = validate_and_lock(
        scope,
        function,
        "Check the input and the cluster, plan, and lock the cluster",
        crashed=_validation_crashed(scope, topic, locks),
    )
    return (
        start(scope)
        .next(validate)
        .next(
            sfn.Choice(scope, "Strategy?")
            .when(_status_is("$.job.plan.strategy", "cycle-hsm"), remove_cycled)
            .otherwise(create_hsm)
        )
    )


def _validation_crashed(
    scope: Construct, topic: sns.ITopic, locks: dynamodb.ITableV2
) -> sfn.IChainable:
    """The first step failed without refusing (a crash, a timeout): nothing was created,
    but nobody asked for this to stop. Page, give back a lock it may have taken, fail."""
    crashed = sfn.Fail(
        scope, "ValidationCrashed", error_path="$.error.Error", cause_path="$.error.Cause"
    )
    release = release_lock(
        scope,
        "ReleaseLockAfterCrash",
        locks,
        then=crashed,
        cluster_path="$.input.cluster_id",
        holder_path="$.execution",
    )
    # A missing or odd cluster_id would fail the release's key outright: check it first.
    lock_to_release = (
        sfn.Choice(scope, "LockToRelease?")
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_present("$.input.cluster_id"),
                sfn.Condition.is_string("$.input.cluster_id"),
            ),
            release,
        )
        .otherwise(crashed)
    )
    notify = publish_text(
        scope,
        "NotifyValidationCrash",
        topic,
        subject=sfn.JsonPath.format(
            "On-demand backup FAILED to start: {} (not a refusal)", at("$.error.Error")
        ),
        text="The on-demand backup started with input {} failed in its first step "
        "(ValidateAndLock) with {}: {} This is not a refusal of the input or a busy "
        "cluster: the step itself failed, before it created anything. Read the step function logs "
        "and the execution (hsmdr report <execution ARN>), fix the cause, then start "
        "it again: hsmdr backup create --config <deployment config> --cluster <cluster id> "
        "--follow. Runbook: " + runbooks.ON_DEMAND_BACKUP + ". Execution: {}",
        values=[as_json("$.input"), at("$.error.Error"), at("$.error.Cause"), at("$.execution")],
        comment="Page: the first step crashed (a refusal would have gone to Rejected)",
        then=lock_to_release,
    )
    return one_line_cause(scope, "ShortenValidationError", "$.error", then=notify)
