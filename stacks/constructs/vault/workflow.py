"""The vault refresh state machine, in CDK Python (lambdas/vault/steps.py has the steps).

Plan (which shared backups to pull) -> for each, one at a time: create the vault cluster
from the shared backup's ARN -> wait ACTIVE -> one HSM: create, wait ACTIVE (a DEGRADED
one is discarded and another created), delete, wait gone -> tag the backup that made ->
keep or delete the vault cluster. Any failure of a refresh runs the clean-up step
(deletes the HSM the execution recorded creating, after re-reading the cluster's tags),
then the refresh fails; the execution pages. After every refresh: prune and copy.
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.shared import runbooks
from lambdas.vault.plan import CREATE, DISCARD, REMOVE, WAIT
from stacks.constructs.shared.steps import at, lambda_step, poll_wait, publish_text

CATCH_ALL = ["States.ALL"]
HSM_IN_TRANSIT = ("CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS")


def _is(path: str, value: str) -> sfn.Condition:
    return sfn.Condition.string_equals(path, value)


def build(scope: Construct, *, function: lambda_.IFunction, topic: sns.ITopic) -> sfn.IChainable:
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
    refreshes.item_processor(_one_refresh(scope, function))
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


def _one_refresh(scope: Construct, function: lambda_.IFunction) -> sfn.IChainable:
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
    finish.next(sfn.Succeed(scope, "RefreshDone"))
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
    plan_hsm.next(
        sfn.Choice(scope, "HsmAction?")
        .when(_is("$.job.run.next", CREATE), create_hsm)
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
