"""The DR drill state machine, in CDK Python (runbook 9.3; docs/runbooks/dr-drill.md).

Plan (creates nothing) -> restore the backup into an isolated cluster with one HSM ->
let the key verifier in -> verify the keys -> teardown -> report -> notify.

A drill that is ABORTED or TIMED_OUT runs no Catch: its stopped rule starts a
teardown-only run of this same state machine (input `{"teardown_of": ARN}`), which
resumes the stopped drill's job from its history and goes through teardown, report
and page like any failed drill.

Every step after Plan is caught: any failure goes to the same teardown loop, and the
report and the page still follow. A teardown that keeps failing pages from Step
Functions itself (SNS publish, no Lambda), so it goes out even if the function is
broken. With key verification deployed, VerifyKeys invokes its container function.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration
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
    publish_text,
    start,
    verify_keys_step,
)

CATCH_ALL = ["States.ALL"]
# Teardown steps retry any error (a crashed, throttled or timed-out round) with backoff,
# 1 s growing by half each time to at most TEARDOWN_MAX_DELAY apart, for as long as
# teardown_timeout_minutes: a drill cluster is billed by the hour, so teardown never
# gives up early. Not retried: a refusal to delete what is not this drill's, and the
# round's own verdict that the deadline passed (TeardownIncomplete).
TEARDOWN_RETRY_INTERVAL = Duration.seconds(1)
TEARDOWN_BACKOFF = 1.5
TEARDOWN_MAX_DELAY_SECONDS = 30
NOT_RETRIED = ["NotOwnedByThisDrill", "TeardownIncomplete"]


def teardown_retry_attempts(teardown_timeout_minutes: float) -> int:
    """Retries whose waits, backing off, add up to the teardown deadline."""
    waited, delay, attempts = 0.0, 1.0, 0
    while waited < teardown_timeout_minutes * 60:
        waited += min(delay, TEARDOWN_MAX_DELAY_SECONDS)
        delay *= TEARDOWN_BACKOFF
        attempts += 1
    return attempts


def _is(path: str, value: str) -> sfn.Condition:
    return sfn.Condition.string_equals(path, value)


def build(
    scope: Construct,
    *,
    function: lambda_.IFunction,
    verify_keys: lambda_.IFunction | None,
    page_topic: sns.ITopic,
    notify_topic: sns.ITopic,
    teardown_timeout_minutes: float,
) -> sfn.IChainable:
    report, failed = _ending(scope, function, page_topic, notify_topic)
    teardown, teardown_after_failure = _teardown(
        scope,
        function,
        page_topic,
        report,
        failed,
        teardown_timeout_minutes=teardown_timeout_minutes,
    )

    def guarded(task: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
        task.add_catch(teardown_after_failure, errors=CATCH_ALL, result_path="$.error")
        return task

    keys = _keys(scope, function, verify_keys, guarded, teardown)
    create_cluster = _restore(scope, function, guarded, keys)
    first, plan = _start(scope, function, page_topic, teardown)
    plan.next(create_cluster)
    return first


def _ending(
    scope: Construct,
    function: lambda_.IFunction,
    page_topic: sns.ITopic,
    notify_topic: sns.ITopic,
) -> tuple[tasks.LambdaInvoke, sfn.Fail]:
    """Report, then notify (success) or page (failure)."""
    succeeded = sfn.Succeed(scope, "Succeeded", output_path="$.result")
    failed = sfn.Fail(scope, "Failed", error_path="$.result.error", cause_path="$.result.cause")
    notify_success = tasks.SnsPublish(
        scope,
        "NotifySuccess",
        topic=notify_topic,
        subject=sfn.JsonPath.string_at("$.result.alert.subject"),
        message=sfn.TaskInput.from_json_path_at("$.result.alert.body"),
        result_path=sfn.JsonPath.DISCARD,
        comment="The drill's summary to the notify contacts (working hours)",
    )
    notify_success.add_catch(succeeded, errors=CATCH_ALL, result_path=sfn.JsonPath.DISCARD)
    notify_success.next(succeeded)
    notify_failure = tasks.SnsPublish(
        scope,
        "NotifyFailure",
        topic=page_topic,
        subject=sfn.JsonPath.string_at("$.result.alert.subject"),
        message=sfn.TaskInput.from_json_path_at("$.result.alert.body"),
        result_path=sfn.JsonPath.DISCARD,
        comment="Page: the drill failed; what failed, what teardown did, what to run next",
    )
    notify_failure.add_catch(failed, errors=CATCH_ALL, result_path=sfn.JsonPath.DISCARD)
    notify_failure.next(failed)
    report_failed = sfn.Fail(
        scope, "ReportFailed", error_path="$.reportError.Error", cause_path="$.reportError.Cause"
    )
    notify_report_failure = publish_text(
        scope,
        "NotifyReportFailure",
        page_topic,
        subject="DR drill report FAILED (the drill cluster was torn down)",
        text="The DR drill execution {} tore its cluster down, but writing its report "
        "failed: {}: {}. The drill counts as failed. Read the execution history: "
        "hsmdr report {}. Runbook: " + runbooks.DR_DRILL,
        values=[
            at("$.job.plan.execution"),
            at("$.reportError.Error"),
            at("$.reportError.Cause"),
            at("$.job.plan.execution"),
        ],
        comment="Page: the report step itself failed",
        then=report_failed,
    )
    report = lambda_step(
        scope,
        "Report",
        function,
        "report",
        comment="Measure, write the report (JSON, Markdown) to S3, emit the metrics",
        result_path="$.result",
    )
    report.add_catch(
        one_line_cause(scope, "ShortenReportError", "$.reportError", then=notify_report_failure),
        errors=CATCH_ALL,
        result_path="$.reportError",
    )
    report.next(
        sfn.Choice(scope, "Passed?")
        .when(_is("$.result.status", "SUCCEEDED"), notify_success)
        .otherwise(notify_failure)
    )
    return report, failed


def _teardown(
    scope: Construct,
    function: lambda_.IFunction,
    page_topic: sns.ITopic,
    report: tasks.LambdaInvoke,
    failed: sfn.Fail,
    *,
    teardown_timeout_minutes: float,
) -> tuple[tasks.LambdaInvoke, tasks.LambdaInvoke]:
    """The teardown loop: after success, and after any failure (with the error)."""
    teardown_failed = sfn.Fail(
        scope,
        "TeardownFailed",
        error="TeardownFailed",
        cause="The drill cluster may still exist: see the page sent by NotifyTeardownFailure",
    )
    report_teardown_failure = lambda_step(
        scope,
        "ReportTeardownFailure",
        function,
        "report",
        comment="The report, saying teardown did not finish",
        payload={"step": "report", "job.$": "$.job", "teardown_error.$": "$.teardownError"},
        result_path="$.result",
    )
    report_teardown_failure.add_catch(
        teardown_failed, errors=CATCH_ALL, result_path=sfn.JsonPath.DISCARD
    )
    report_teardown_failure.next(failed)
    notify_teardown_failure = publish_text(
        scope,
        "NotifyTeardownFailure",
        page_topic,
        subject="DR drill TEARDOWN FAILED: a drill cluster may be left running",
        text="The DR drill execution {} could not tear its cluster down: {}: {}. The "
        "drill cluster (recorded: {}) in {} is billed by the hour: delete its HSMs, "
        "then the cluster (aws cloudhsmv2 describe-clusters --region {}; look for "
        "the tag hsmdr:drill={}, or run hsmdr drill status --config <deployment "
        "config>). Runbook: " + runbooks.DR_DRILL,
        values=[
            at("$.job.plan.execution"),
            at("$.teardownError.Error"),
            at("$.teardownError.Cause"),
            as_json("$.job.run.cluster"),
            at("$.job.plan.region"),
            at("$.job.plan.region"),
            at("$.job.plan.execution"),
        ],
        comment="Page from Step Functions itself: works even when the function is broken",
        then=report_teardown_failure,
    )
    # The page carries the error type and a one-line message, never a stack trace.
    shorten_teardown_error = one_line_cause(
        scope, "ShortenTeardownError", "$.teardownError", then=notify_teardown_failure
    )

    def teardown_step(state_id: str, payload: dict[str, str], comment: str) -> tasks.LambdaInvoke:
        task = lambda_step(scope, state_id, function, "teardown", comment=comment, payload=payload)
        task.add_retry(errors=NOT_RETRIED, max_attempts=0)
        task.add_retry(
            errors=CATCH_ALL,
            interval=TEARDOWN_RETRY_INTERVAL,
            backoff_rate=TEARDOWN_BACKOFF,
            max_delay=Duration.seconds(TEARDOWN_MAX_DELAY_SECONDS),
            max_attempts=teardown_retry_attempts(teardown_timeout_minutes),
        )
        task.add_catch(shorten_teardown_error, errors=CATCH_ALL, result_path="$.teardownError")
        return task

    teardown = teardown_step(
        "Teardown",
        {"step": "teardown", "job.$": "$.job"},
        "Revoke the verifier rule, delete the HSM, then the cluster, then its backups",
    )
    teardown_after_failure = teardown_step(
        "TeardownAfterFailure",
        {"step": "teardown", "job.$": "$.job", "error.$": "$.error"},
        "A step failed: record why, and tear down all the same",
    )
    wait_for_teardown = poll_wait(scope, "WaitForTeardown", "Let deletions finish")
    torn_down = (
        sfn.Choice(scope, "TornDown?")
        .when(sfn.Condition.boolean_equals("$.job.run.teardown.done", True), report)
        .otherwise(wait_for_teardown.next(teardown))
    )
    teardown.next(torn_down)
    teardown_after_failure.next(torn_down)
    return teardown, teardown_after_failure


Guard = Callable[[tasks.LambdaInvoke], tasks.LambdaInvoke]


def _keys(
    scope: Construct,
    function: lambda_.IFunction,
    verify_keys: lambda_.IFunction | None,
    guarded: Guard,
    teardown: tasks.LambdaInvoke,
) -> sfn.IChainable:
    """VerifyKeys (when deployed and reachable) and the step that records its result."""
    record_skipped = guarded(
        lambda_step(
            scope,
            "RecordSkippedKeys",
            function,
            "record_keys",
            comment="No key check ran (not deployed, or the verifier cannot reach the cluster)",
        )
    )
    record_skipped.next(teardown)
    keys: sfn.IChainable = record_skipped
    if verify_keys is not None:
        record_keys = guarded(
            lambda_step(
                scope,
                "RecordKeys",
                function,
                "record_keys",
                comment="Keep the key check's findings",
                payload={"step": "record_keys", "job.$": "$.job", "keys.$": "$.keys"},
            )
        )
        record_keys_error = guarded(
            lambda_step(
                scope,
                "RecordKeysError",
                function,
                "record_keys",
                comment="The key check could not run: a finding",
                payload={"step": "record_keys", "job.$": "$.job", "keys_error.$": "$.keysError"},
            )
        )
        record_keys.next(teardown)
        record_keys_error.next(teardown)
        verify = verify_keys_step(
            scope,
            verify_keys,
            cluster_id="$.job.run.cluster.cluster_id",
            hsm_ips="$.job.run.hsm_ips",
            comment="The verify-keys function: the drill cluster against the backup's manifest",
            on_error=record_keys_error,
            then=record_keys,
        )
        keys = (
            sfn.Choice(scope, "VerifierReachable?")
            .when(_is("$.job.run.network.status", "OPEN"), verify)
            .otherwise(record_skipped)
        )
    return keys


def _restore(
    scope: Construct, function: lambda_.IFunction, guarded: Guard, keys: sfn.IChainable
) -> tasks.LambdaInvoke:
    """CreateCluster, wait, open the network, CreateHsm, wait (DEGRADED: discard, retry)."""

    def step(state_id: str, name: str, comment: str) -> tasks.LambdaInvoke:
        return guarded(lambda_step(scope, state_id, function, name, comment=comment))

    create_hsm = step("CreateHsm", "create_hsm", "Add the drill cluster's one HSM")
    wait_for_hsm = poll_wait(scope, "WaitForHsm", "Let the HSM be created")
    check_hsm = step("CheckHsm", "check_hsm", "Is the HSM ACTIVE?")
    discard = step("DiscardHsm", "discard_hsm", "Delete the DEGRADED HSM")
    wait_for_discard = poll_wait(scope, "WaitForDiscard", "Let the DEGRADED HSM go")
    check_discard = step("CheckDiscard", "check_hsm", "Is the DEGRADED HSM gone?")
    discard.next(wait_for_discard).next(check_discard).next(
        sfn.Choice(scope, "Discarded?")
        .when(_is("$.job.run.hsm.status", "GONE"), create_hsm)
        .otherwise(wait_for_discard)
    )
    create_hsm.next(wait_for_hsm).next(check_hsm).next(
        sfn.Choice(scope, "HsmActive?")
        .when(_is("$.job.run.hsm.status", "ACTIVE"), keys)
        .when(_is("$.job.run.hsm.status", "DEGRADED"), discard)
        .otherwise(wait_for_hsm)
    )

    # -- the cluster -----------------------------------------------------------------------
    open_network = step("OpenNetwork", "open_network", "Let the key verifier reach the cluster")
    open_network.next(create_hsm)
    create_cluster = step("CreateCluster", "create_cluster", "CreateCluster from the backup")
    wait_for_cluster = poll_wait(scope, "WaitForCluster", "Let CloudHSM create the cluster")
    check_cluster = step("CheckCluster", "check_cluster", "Is the cluster ACTIVE?")
    create_cluster.next(wait_for_cluster).next(check_cluster).next(
        sfn.Choice(scope, "ClusterActive?")
        .when(_is("$.job.run.cluster_wait.status", "ACTIVE"), open_network)
        .otherwise(wait_for_cluster)
    )

    return create_cluster


def _start(
    scope: Construct,
    function: lambda_.IFunction,
    page_topic: sns.ITopic,
    teardown: tasks.LambdaInvoke,
) -> tuple[sfn.Pass, tasks.LambdaInvoke]:
    """Plan, or refuse before anything exists (a scheduled drill that cannot start pages).
    A teardown-only run (input `teardown_of`, started for a stopped drill) goes to the
    teardown loop with that drill's job instead."""
    rejected = sfn.Fail(scope, "Rejected", error_path="$.error.Error", cause_path="$.error.Cause")
    notify_rejected = publish_text(
        scope,
        "NotifyRejected",
        page_topic,
        subject="DR drill refused before anything was created",
        text="The DR drill execution {} was refused before anything was created: {}: {}. "
        "Fix what the message names and start the drill again: hsmdr drill start "
        "--follow --config <deployment config>. Runbook: " + runbooks.DR_DRILL,
        values=[at("$.execution"), at("$.error.Error"), at("$.error.Cause")],
        comment="A scheduled drill that cannot start is a finding in itself: page",
        then=rejected,
    )
    plan = lambda_step(
        scope,
        "Plan",
        function,
        "plan",
        comment="Check the input, choose the backup, check subnets and quotas; creates nothing",
        payload={"step": "plan", "input.$": "$.input", "execution.$": "$.execution"},
    )
    plan.add_catch(notify_rejected, errors=CATCH_ALL, result_path="$.error")
    first = start(scope)
    first.next(
        sfn.Choice(scope, "TeardownOnly?")
        .when(
            sfn.Condition.is_present("$.input.teardown_of"),
            _resume_teardown(scope, function, page_topic, teardown),
        )
        .otherwise(plan)
    )
    return first, plan


def _resume_teardown(
    scope: Construct,
    function: lambda_.IFunction,
    page_topic: sns.ITopic,
    teardown: tasks.LambdaInvoke,
) -> tasks.LambdaInvoke:
    """The stopped drill's job from its history, then the usual teardown loop."""
    not_resumed = sfn.Fail(
        scope, "TeardownNotResumed", error_path="$.error.Error", cause_path="$.error.Cause"
    )
    notify_not_resumed = publish_text(
        scope,
        "NotifyTeardownNotResumed",
        page_topic,
        subject="DR drill teardown run refused: nothing was deleted",
        text="The teardown-only run {} for the stopped DR drill execution {} refused to "
        "start: {}. A drill cluster may be left running (billed by the hour): look "
        "for clusters tagged hsmdr:drill with that execution (hsmdr drill status --config "
        "<deployment config>) and delete their HSMs, then the cluster. Runbook: "
        + runbooks.DR_DRILL,
        values=[
            at("$.execution"),
            at("$.input.teardown_of"),
            at("$.error.Cause"),
        ],
        comment="Page: the stopped drill could not be torn down automatically",
        then=not_resumed,
    )
    resume = lambda_step(
        scope,
        "ResumeTeardown",
        function,
        "resume_teardown",
        comment="The stopped drill's job, from its history; checks it may be torn down",
        payload={"step": "resume_teardown", "input.$": "$.input", "execution.$": "$.execution"},
    )
    # The page carries the error type and a one-line message, never a stack trace.
    shorten = one_line_cause(scope, "ShortenResumeError", "$.error", then=notify_not_resumed)
    resume.add_catch(shorten, errors=CATCH_ALL, result_path="$.error")
    resume.next(teardown)
    return resume
