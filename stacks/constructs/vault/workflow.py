"""The vault refresh state machine, in CDK Python (lambdas/vault/steps.py has the steps).

Plan (which shared backups to pull) -> for each, one at a time: create the vault cluster
from the shared backup's ARN -> wait ACTIVE -> one HSM: create, wait ACTIVE (a DEGRADED
one is discarded and another created), delete, wait gone -> tag the backup that made ->
keep or delete the vault cluster. With the vault's key verifier (`capture`), between
the HSM being ACTIVE and its removal: open the verifier's way in, capture the vault
cluster's key manifest, record it and revoke (a failed capture is recorded, not fatal:
the HSM is still removed and the backup made); a refresh whose keys changed since the
vault's previous manifest, or whose capture failed, pages once its backup is tagged
(lambdas/vault/keys.py). Any failure of a refresh runs the clean-up step
(deletes the HSM the execution recorded creating, after re-reading the cluster's tags),
then the refresh fails; the execution pages. After every refresh: prune and copy.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.shared import runbooks
from lambdas.vault.keys import CHANGED, FAILED
from lambdas.vault.plan import CREATE, DISCARD, REMOVE, WAIT
from stacks.constructs.shared.steps import (
    LAMBDA_TRANSIENT,
    at,
    lambda_step,
    poll_wait,
    publish_text,
)

CATCH_ALL = ["States.ALL"]
HSM_IN_TRANSIT = ("CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS")


def _is(path: str, value: str) -> sfn.Condition:
    return sfn.Condition.string_equals(path, value)


def build(
    scope: Construct,
    *,
    function: lambda_.IFunction,
    topic: sns.ITopic,
    capture: lambda_.IFunction | None = None,
) -> sfn.IChainable:
    """`capture`: the vault key verifier's capture function, when configured."""
    failed = sfn.Fail(scope, "Failed", error_path="$.error.Error", cause_path="$.error.Cause")
    notify_failure = publish_text(
        scope,
        "NotifyFailure",
        topic,
        subject=sfn.JsonPath.format("Vault refresh FAILED: {}", at("$.error.Error")),
        text="The recovery-account vault refresh failed ({}: {}). Its clean-up step deleted "
        "the HSM it had created, if any (see the execution). Runbook: "
        + runbooks.VAULT
        + ". Execution: {}",
        values=[at("$.error.Error"), at("$.error.Cause"), at("$.execution")],
        comment="Page with what failed; the next scheduled run tries again",
        then=failed,
    )
    refreshes = sfn.Map(
        scope,
        "EachRefresh",
        comment="One shared backup at a time: each makes one vault backup",
        items_path="$.job.refreshes",
        max_concurrency=1,
        item_selector={
            "job": {
                "plan.$": "$.job.plan",
                "refresh.$": "$$.Map.Item.Value",
                "run": {},
            }
        },
        result_path="$.refreshed",
    )
    refreshes.item_processor(_one_refresh(scope, function, topic, capture))
    refreshes.add_catch(notify_failure, errors=CATCH_ALL, result_path="$.error")
    maintain = lambda_step(
        scope,
        "PruneAndCopy",
        function,
        "maintain",
        comment="Prune vault backups by recovery_account.retention; copy to its DR regions",
        payload={"step": "maintain"},
        result_path="$.maintained",
    )
    maintain.add_catch(notify_failure, errors=CATCH_ALL, result_path="$.error")
    plan = lambda_step(
        scope,
        "Plan",
        function,
        "plan",
        comment="Which shared backups are newer than the vault's newest",
        payload={"step": "plan", "execution.$": "$.execution"},
    )
    plan.add_catch(notify_failure, errors=CATCH_ALL, result_path="$.error")
    start = sfn.Pass(
        scope,
        "Start",
        parameters={"execution.$": "$$.Execution.Id", "job": {}},
        comment="Keep the execution id: it names the vault clusters this run creates",
    )
    return start.next(plan).next(refreshes).next(maintain).next(sfn.Succeed(scope, "Succeeded"))


def _one_refresh(
    scope: Construct,
    function: lambda_.IFunction,
    topic: sns.ITopic,
    capture: lambda_.IFunction | None,
) -> sfn.IChainable:
    refresh_failed = sfn.Fail(
        scope, "RefreshFailed", error_path="$.error.Error", cause_path="$.error.Cause"
    )
    cleanup = lambda_step(
        scope,
        "Cleanup",
        function,
        "cleanup",
        comment="Delete the HSM this execution created, tags re-read first (never raises)",
        payload={"step": "cleanup", "job.$": "$.job"},
        result_path="$.cleanup",
    )
    cleanup.add_catch(refresh_failed, errors=CATCH_ALL, result_path="$.cleanupError")
    cleanup.next(refresh_failed)

    def step(state_id: str, name: str, comment: str) -> sfn.TaskStateBase:
        task = lambda_step(scope, state_id, function, name, comment=comment)
        task.add_catch(cleanup, errors=CATCH_ALL, result_path="$.error")
        return task

    finish = step("FinishCluster", "finish_cluster", "Keep the vault cluster (no HSM) or delete it")
    done = sfn.Succeed(scope, "RefreshDone")
    if capture is None:
        finish.next(done)
    else:
        finish.next(_keys_page(scope, topic, then=done))
    tag_backup = step("TagVaultBackup", "tag_backup", "Tag the backup the HSM change made")
    wait_backup = poll_wait(scope, "WaitForBackup", "Let the vault backup become READY")
    wait_backup.next(tag_backup)
    tag_backup.next(
        sfn.Choice(scope, "BackupTagged?")
        .when(_is("$.job.run.backup.status", "READY"), finish)
        .otherwise(wait_backup)
    )

    plan_hsm = step("PlanHsm", "plan_hsm", "Create, wait for, discard or remove the vault HSM")
    create_hsm = step("CreateHsm", "create_hsm", "One HSM in the vault cluster")
    delete_hsm = step("DeleteHsm", "delete_hsm", "Delete the recorded HSM (tags re-read)")
    wait_hsm = poll_wait(scope, "WaitForHsm", "Let the HSM change finish")
    check_hsm = step("CheckHsm", "check_hsm", "Read the HSM's state; deadline")
    in_transit = sfn.Condition.or_(*(_is("$.job.run.hsm.status", s) for s in HSM_IN_TRANSIT))
    create_hsm.next(wait_hsm)
    delete_hsm.next(wait_hsm)
    wait_hsm.next(check_hsm).next(
        sfn.Choice(scope, "HsmSettled?").when(in_transit, wait_hsm).otherwise(plan_hsm)
    )
    hsm_action = sfn.Choice(scope, "HsmAction?")
    if capture is not None:
        # Once, while the HSM is ACTIVE: the manifest of the very backup its removal makes.
        capture_keys = _capture(scope, function, capture, cleanup=cleanup, then=delete_hsm)
        hsm_action.when(
            sfn.Condition.and_(
                _is("$.job.run.next", REMOVE), sfn.Condition.is_not_present("$.job.run.keys")
            ),
            capture_keys,
        )
    plan_hsm.next(
        hsm_action.when(_is("$.job.run.next", CREATE), create_hsm)
        .when(_is("$.job.run.next", DISCARD), delete_hsm)
        .when(_is("$.job.run.next", REMOVE), delete_hsm)
        .when(_is("$.job.run.next", WAIT), wait_hsm)
        .otherwise(tag_backup)
    )

    create_cluster = step("CreateVaultCluster", "create_cluster", "From the shared backup's ARN")
    wait_cluster = poll_wait(scope, "WaitForCluster", "Let CloudHSM create the cluster")
    check_cluster = step("CheckCluster", "check_cluster", "Is the vault cluster ACTIVE?")
    create_cluster.next(wait_cluster).next(check_cluster).next(
        sfn.Choice(scope, "ClusterActive?")
        .when(_is("$.job.run.cluster.status", "ACTIVE"), plan_hsm)
        .otherwise(wait_cluster)
    )
    return create_cluster


def _capture(
    scope: Construct,
    function: lambda_.IFunction,
    capture: lambda_.IFunction,
    *,
    cleanup: sfn.IChainable,
    then: sfn.IChainable,
) -> sfn.IChainable:
    """Open the verifier's way in, capture, record and revoke; a capture that fails is
    recorded (VAULT_KEYS_NOT_CAPTURED) and the refresh goes on to remove its HSM."""
    record = lambda_step(
        scope,
        "RecordCapture",
        function,
        "record_capture",
        comment="Keep the capture's outcome (CAPTURED or CHANGED); revoke the verifier's rules",
        payload={"step": "record_capture", "job.$": "$.job", "capture.$": "$.capture"},
    )
    record_error = lambda_step(
        scope,
        "RecordCaptureError",
        function,
        "record_capture",
        comment="The capture failed: record it (FAILED), revoke the verifier's rules",
        payload={"step": "record_capture", "job.$": "$.job", "capture_error.$": "$.captureError"},
    )
    for task in (record, record_error):
        task.add_catch(cleanup, errors=CATCH_ALL, result_path="$.error")
        task.next(then)
    invoke = tasks.LambdaInvoke(
        scope,
        "CaptureKeys",
        lambda_function=capture,
        payload=sfn.TaskInput.from_object(
            {
                "cluster_id.$": "$.job.run.cluster_id",
                "manifest_cluster_id.$": "$.job.refresh.source_cluster",
                "hsm_ips.$": "$.job.run.capture_network.hsm_ips",
            }
        ),
        payload_response_only=True,
        result_path="$.capture",
        comment="The vault's capture-key-manifest: the vault cluster's keys, filed under the "
        "production cluster, compared with the vault's previous manifest of it",
    )
    invoke.add_retry(
        errors=LAMBDA_TRANSIENT, interval=Duration.seconds(2), backoff_rate=2, max_attempts=3
    )
    invoke.add_catch(record_error, errors=CATCH_ALL, result_path="$.captureError")
    invoke.next(record)
    open_network = lambda_step(
        scope,
        "OpenCaptureNetwork",
        function,
        "open_capture_network",
        comment="Let the vault's key verifier reach the ACTIVE HSM (TCP 2223-2225)",
    )
    open_network.add_catch(record_error, errors=CATCH_ALL, result_path="$.captureError")
    open_network.next(invoke)
    return open_network


def _keys_page(scope: Construct, topic: sns.ITopic, *, then: sfn.IChainable) -> sfn.IChainable:
    """The vault backup is made and tagged: page if its keys changed since the vault's
    previous manifest (VAULT_KEYS_CHANGED) or were not captured (VAULT_KEYS_NOT_CAPTURED)."""
    page = publish_text(
        scope,
        "NotifyKeys",
        topic,
        subject=sfn.JsonPath.format("Vault refresh: {}", at("$.job.run.keys.code")),
        text="The vault refresh made vault backup {} of production cluster {}, and its keys "
        "need attention: {} Next: {} Runbook: " + runbooks.VAULT + "#keys",
        values=[
            at("$.job.run.backup.backup_id"),
            at("$.job.refresh.source_cluster"),
            at("$.job.run.keys.summary"),
            at("$.job.run.keys.next_step"),
        ],
        comment="Page: keys gone or changed since the vault's previous manifest, or not captured",
        then=then,
    )
    return (
        sfn.Choice(scope, "KeysNeedAttention?")
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_present("$.job.run.keys.status"),
                sfn.Condition.or_(
                    _is("$.job.run.keys.status", CHANGED), _is("$.job.run.keys.status", FAILED)
                ),
            ),
            page,
        )
        .otherwise(then)
    )
