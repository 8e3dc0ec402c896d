"""The restore-cluster state machine (runbook 9.2.1, complete cluster failure), in CDK Python.

Identify the backup -> create the cluster from it (ACTIVE with no InitializeCluster)
-> first HSM -> publish the client configuration and announce the service restored
-> verify (API) -> verify the keys (when key verification is deployed: let the
verifier in, invoke it, a finding fails the restore) -> the remaining HSMs, one at a
time -> report. Every HSM phase is one
plan/act/wait loop: the plan step decides to create, wait, discard a DEGRADED HSM this
execution created, or move on. Any failure reports what exists, alerts and stops:
nothing is deleted, an engineer decides.
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.restore.keys import KEYS_FAILED, NOT_CONFIGURED
from lambdas.restore.plan import CREATE, DISCARD, IN_TRANSIT, WAIT
from lambdas.shared import runbooks
from stacks.constructs.shared.steps import (
    at,
    lambda_step,
    poll_wait,
    publish_alert,
    publish_text,
    verify_keys_step,
)

CATCH_ALL = ["States.ALL"]


def _is(path: str, value: str) -> sfn.Condition:
    return sfn.Condition.string_equals(path, value)


def build(
    scope: Construct,
    *,
    function: lambda_.IFunction,
    topic: sns.ITopic,
    verify_keys: lambda_.IFunction | None = None,
    keys_absent: str = NOT_CONFIGURED,
) -> sfn.IChainable:
    """`verify_keys`: the key verifier's function when this stack has it; otherwise
    `keys_absent` is what the report says instead of the keys' check."""
    # Failure path: report what exists, alert, fail with the original error.
    failed = sfn.Fail(scope, "Failed", error_path="$.error.Error", cause_path="$.error.Cause")
    notify_failure = publish_alert(
        scope, "NotifyFailure", topic, "$.failure.alert", "What failed, what exists, what next"
    )
    notify_failure.add_catch(failed, errors=CATCH_ALL, result_path=sfn.JsonPath.DISCARD)
    notify_failure.next(failed)
    fallback = publish_text(
        scope,
        "NotifyFailureFallback",
        topic,
        subject=sfn.JsonPath.format("Restore FAILED: {}", at("$.error.Error")),
        text="A CloudHSM restore failed ({}: {}) and its report could not be built. Nothing "
        "was deleted: look for clusters tagged hsmdr:restore-id with aws cloudhsmv2 "
        "describe-clusters, then resume: hsmdr restore --config <deployment config> "
        "--restore-id <its restore id> --source-cluster <cluster id> --follow. Runbook: "
        + runbooks.COMPLETE_CLUSTER_FAILURE
        + ". Execution: {}",
        values=[at("$.error.Error"), at("$.error.Cause"), at("$.execution")],
        comment="The failure report itself failed: alert with what the state machine knows",
        then=failed,
    )
    report_failure = lambda_step(
        scope,
        "ReportFailure",
        function,
        "failure",
        comment="List what exists now (no deletion) and write the alert",
        payload={
            "step": "failure",
            "job.$": "$.job",
            "error.$": "$.error",
            "input.$": "$.input",
            "execution.$": "$.execution",
        },
        result_path="$.failure",
    )
    report_failure.add_catch(fallback, errors=CATCH_ALL, result_path="$.reportError")
    report_failure.next(notify_failure)

    def step(
        state_id: str, name: str, comment: str, payload: dict[str, str] | None = None
    ) -> tasks.LambdaInvoke:
        task = lambda_step(scope, state_id, function, name, comment=comment, payload=payload)
        task.add_catch(report_failure, errors=CATCH_ALL, result_path="$.error")
        return task

    def hsm_phase(
        prefix: str, create_state: str, phase: str, done: sfn.IChainable
    ) -> sfn.IChainable:
        """Plan -> create | discard | wait -> check until settled -> plan again; the plan
        step's only other answer is done."""
        plan = step(
            f"Plan{prefix}",
            "plan_hsm",
            f"Create, wait for, or discard an HSM ({phase} phase), or move on",
            payload={"step": "plan_hsm", "phase": phase, "job.$": "$.job"},
        )
        create = step(create_state, "create_hsm", "Create one HSM in the planned AZ")
        discard = step(
            f"DiscardDegraded{prefix}",
            "discard_hsm",
            "Delete a DEGRADED HSM this execution created (it never recovers)",
        )
        wait = poll_wait(scope, f"WaitFor{prefix}", "Let the HSM change finish")
        check = step(f"Check{prefix}", "check_hsm", "Read the HSM's state")
        in_transit = sfn.Condition.or_(*(_is("$.job.run.hsm.status", s) for s in IN_TRANSIT))
        create.next(wait)
        discard.next(wait)
        wait.next(check).next(
            sfn.Choice(scope, f"{prefix}Settled?").when(in_transit, wait).otherwise(plan)
        )
        plan.next(
            sfn.Choice(scope, f"{prefix}Action?")
            .when(_is("$.job.run.next", CREATE), create)
            .when(_is("$.job.run.next", DISCARD), discard)
            .when(_is("$.job.run.next", WAIT), wait)
            .otherwise(done)
        )
        return plan

    # Success path, built backwards.
    succeeded = sfn.Succeed(scope, "Succeeded", output_path="$.result.report")
    notify_success = publish_alert(
        scope, "NotifySuccess", topic, "$.result.alert", "RPO, RTO, the new cluster, next steps"
    )
    notify_success.add_catch(succeeded, errors=CATCH_ALL, result_path=sfn.JsonPath.DISCARD)
    notify_success.next(succeeded)
    final = lambda_step(
        scope,
        "FinalReport",
        function,
        "report",
        comment="Report RPO, RTO, time to full HA, every step; publish IPs that changed",
        result_path="$.result",
    )
    final.add_catch(report_failure, errors=CATCH_ALL, result_path="$.error")
    final.next(notify_success)

    next_hsms = hsm_phase("NextHsm", "AddNextHsm", "next", final)
    keys = _keys(
        scope, function, verify_keys, keys_absent=keys_absent, failed=report_failure, then=next_hsms
    )
    verify = step("VerifyRecovery", "verify", "API checks: cluster, source backup, type, mode, HSM")
    verify.next(keys)
    notify_restored = publish_alert(
        scope,
        "NotifyServiceRestored",
        topic,
        "$.job.run.service_alert",
        "Service is back: the time it took and what clients must do",
    )
    # A lost notice must not stop the restore: the final report repeats what clients need.
    notify_restored.add_catch(verify, errors=CATCH_ALL, result_path="$.serviceNoticeError")
    notify_restored.next(verify)
    publish = step(
        "PublishClientConfig", "publish", "SSM parameters for clients, trust anchor copy"
    )
    publish.next(notify_restored)

    first_hsm = hsm_phase("FirstHsm", "CreateFirstHsm", "first", publish)
    wait_cluster = poll_wait(scope, "WaitForCluster", "Let CloudHSM create the cluster")
    check_cluster = step("CheckCluster", "check_cluster", "Is the cluster ACTIVE?")
    create_cluster = step(
        "CreateCluster", "create_cluster", "CreateCluster from the backup, tagged (or adopt)"
    )
    create_cluster.next(wait_cluster).next(check_cluster).next(
        sfn.Choice(scope, "ClusterActive?")
        .when(_is("$.job.run.cluster.status", "ACTIVE"), first_hsm)
        .otherwise(wait_cluster)
    )
    identify = lambda_step(
        scope,
        "IdentifyBackup",
        function,
        "identify",
        comment="Check the input, choose the backup, subnets and quotas; claim the restore id",
        payload={
            "step": "identify",
            "input.$": "$.input",
            "execution.$": "$.execution",
            "execution_name.$": "$.execution_name",
            "started_at.$": "$.started_at",
        },
    )
    # Another execution is running this restore: this one created nothing and pages
    # nobody (the running one reports); it ends refused, naming that execution.
    identify.add_catch(
        sfn.Fail(scope, "Refused", error_path="$.error.Error", cause_path="$.error.Cause"),
        errors=["RestoreAlreadyRunning"],
        result_path="$.error",
    )
    identify.add_catch(report_failure, errors=CATCH_ALL, result_path="$.error")
    start = sfn.Pass(
        scope,
        "Start",
        parameters={
            "input.$": "$",
            "execution.$": "$$.Execution.Id",
            "execution_name.$": "$$.Execution.Name",
            "started_at.$": "$$.Execution.StartTime",
            "job": {},
        },
        comment="Keep the input, the execution and its start time together",
    )
    return start.next(identify).next(
        sfn.Choice(scope, "ClusterToCreate?")
        .when(sfn.Condition.is_null("$.job.run.cluster_id"), create_cluster)
        .otherwise(check_cluster)
    )


def _keys(
    scope: Construct,
    function: lambda_.IFunction,
    verify_keys: lambda_.IFunction | None,
    *,
    keys_absent: str,
    failed: sfn.IChainable,
    then: sfn.IChainable,
) -> sfn.IChainable:
    """The key check once the first HSM is ACTIVE; any error finding fails the restore
    (the cluster is kept and named in the page), nothing found wrong goes on to `then`."""
    if verify_keys is None:
        absent = sfn.Pass(
            scope,
            "KeyVerificationNotRun",
            result=sfn.Result.from_object({"status": "NOT_RUN", "summary": keys_absent}),
            result_path="$.job.run.key_verification",
            comment="No key verifier in this stack: the report says why the keys were not checked",
        )
        absent.next(then)
        return absent
    keys_failed = sfn.Pass(
        scope,
        "KeysFailed",
        parameters={"Error": KEYS_FAILED, "Cause.$": "$.job.run.key_verification.summary"},
        result_path="$.error",
        comment="The keys do not match the manifest: fail, keep the cluster, page the findings",
    )
    keys_failed.next(failed)
    record_keys = lambda_step(
        scope,
        "RecordKeys",
        function,
        "record_keys",
        comment="Keep the key check's findings for the report and the page",
        payload={"step": "record_keys", "job.$": "$.job", "keys.$": "$.keys"},
    )
    record_keys_error = lambda_step(
        scope,
        "RecordKeysError",
        function,
        "record_keys",
        comment="The key check could not run: a finding",
        payload={"step": "record_keys", "job.$": "$.job", "keys_error.$": "$.keysError"},
    )
    for task in (record_keys, record_keys_error):
        task.add_catch(failed, errors=CATCH_ALL, result_path="$.error")
    verified = (
        sfn.Choice(scope, "KeysVerified?")
        .when(_is("$.job.run.key_verification.status", "FAILED"), keys_failed)
        .otherwise(then)
    )
    record_keys.next(verified)
    record_keys_error.next(verified)
    verify = verify_keys_step(
        scope,
        verify_keys,
        cluster_id="$.job.run.cluster_id",
        hsm_ips="$.job.run.key_network.hsm_ips",
        comment="The verify-keys function: the restored cluster against the manifest "
        "captured at or before the backup's time",
        on_error=record_keys_error,
        then=record_keys,
    )
    open_network = lambda_step(
        scope,
        "OpenKeyNetwork",
        function,
        "open_key_network",
        comment="Let the key verifier reach the restored HSMs (TCP 2223-2225, kept after)",
    )
    open_network.add_catch(record_keys_error, errors=CATCH_ALL, result_path="$.keysError")
    open_network.next(
        sfn.Choice(scope, "VerifierReachable?")
        .when(_is("$.job.run.key_network.status", "OPEN"), verify)
        .otherwise(then)
    )
    return open_network
