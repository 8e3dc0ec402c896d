"""Building blocks every workflow shares: Lambda steps with retries, polls, lock release."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

# Transient failures worth a retry: Lambda's own, and CloudHSM saying "later".
TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "CloudHsmUnavailable",
]
LAMBDA_TRANSIENT = TRANSIENT_ERRORS[:4]  # Lambda's own: a function's errors are not retried


# What the validation step raises to refuse a start (the input, the cluster, the lock,
# the quota): the workflow ends in `Rejected`, nothing was created.
REFUSALS = [
    "InvalidInput",
    "ClusterBusy",
    "NoQuotaHeadroom",
    "NothingToReplace",
    "HsmNotFailed",
    "ClusterChanging",
]


def lambda_step(
    scope: Construct,
    state_id: str,
    function: lambda_.IFunction,
    step: str,
    *,
    comment: str,
    payload: dict[str, Any] | None = None,
    result_path: str = "$.job",
) -> tasks.LambdaInvoke:
    """Call one step of a step-dispatching function; the job travels at `$.job`."""
    task = tasks.LambdaInvoke(
        scope,
        state_id,
        lambda_function=function,
        payload=sfn.TaskInput.from_object(payload or {"step": step, "job.$": "$.job"}),
        payload_response_only=True,
        result_path=result_path,
        comment=comment,
    )
    task.add_retry(
        errors=TRANSIENT_ERRORS,
        interval=Duration.seconds(2),
        backoff_rate=2,
        max_attempts=3,
    )
    return task


def publish_alert(
    scope: Construct, state_id: str, topic: sns.ITopic, alert_path: str, comment: str
) -> tasks.SnsPublish:
    """Publish the {subject, body} a step wrote at `alert_path` (the step words it)."""
    return tasks.SnsPublish(
        scope,
        state_id,
        topic=topic,
        subject=sfn.JsonPath.string_at(f"{alert_path}.subject"),
        message=sfn.TaskInput.from_json_path_at(f"{alert_path}.body"),
        result_path=sfn.JsonPath.DISCARD,
        comment=comment,
    )


def start(scope: Construct) -> sfn.Pass:
    """The first state: the input and the execution id, together for every step."""
    return sfn.Pass(
        scope,
        "Start",
        parameters={"input.$": "$", "execution.$": "$$.Execution.Id"},
        comment="Keep the input and the execution id together",
    )


def validate_and_lock(
    scope: Construct,
    function: lambda_.IFunction,
    comment: str,
    *,
    crashed: sfn.IChainable | None = None,
) -> tasks.LambdaInvoke:
    """Check the input and the cluster, lock it, plan; a refusal ends the execution in
    `Rejected` before anything was created. With `crashed`, any other error (the
    function crashed, timed out, could not be invoked) goes there instead: it is not
    the input's fault, and someone must hear of it."""
    rejected = sfn.Fail(scope, "Rejected", error_path="$.error.Error", cause_path="$.error.Cause")
    validate = lambda_step(
        scope,
        "ValidateAndLock",
        function,
        "validate",
        comment=comment,
        payload={"step": "validate", "input.$": "$.input", "execution.$": "$.execution"},
    )
    if crashed is not None:
        validate.add_catch(rejected, errors=REFUSALS, result_path="$.error")
        validate.add_catch(crashed, errors=["States.ALL"], result_path="$.error")
    else:
        validate.add_catch(rejected, errors=["States.ALL"], result_path="$.error")
    return validate


def at(path: str) -> str:
    """A string from the state's input, for `publish_text`."""
    return sfn.JsonPath.string_at(path)


def as_json(path: str) -> str:
    """An object from the state's input, written as JSON, for `publish_text`."""
    return sfn.JsonPath.json_to_string(sfn.JsonPath.object_at(path))


def publish_text(
    scope: Construct,
    state_id: str,
    topic: sns.ITopic,
    *,
    subject: str,
    text: str,
    values: list[str],
    comment: str,
    then: sfn.IChainable,
) -> tasks.SnsPublish:
    """A message the state machine words itself, for when the step that words messages
    has failed: `text` with one {} per value (`at(...)`, `as_json(...)`). Goes on to
    `then` even if publishing fails."""
    if any(c in text for c in "'\\"):
        # States.Format takes the text as a quoted literal: these would end or break it.
        raise ValueError(f"{state_id}: a message text cannot hold ' or \\")
    task = tasks.SnsPublish(
        scope,
        state_id,
        topic=topic,
        subject=subject,
        message=sfn.TaskInput.from_text(sfn.JsonPath.format(text, *values)),
        result_path=sfn.JsonPath.DISCARD,
        comment=comment,
    )
    task.add_catch(then, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD)
    task.next(then)
    return task


def publish_by_severity(
    scope: Construct,
    state_id: str,
    *,
    page_topic: sns.ITopic,
    notify_topic: sns.ITopic,
    alert_path: str,
    comment: str,
    then: sfn.IChainable,
) -> sfn.Choice:
    """Publish the alert at `alert_path` to the topic its `severity` names ("notify", or
    page otherwise), then go on to `then`, even if publishing failed."""
    choice = sfn.Choice(scope, state_id, comment=f"{comment}: page or notify?")
    published = []
    for suffix, topic in (("Page", page_topic), ("Notify", notify_topic)):
        task = publish_alert(scope, f"{state_id}{suffix}", topic, alert_path, comment)
        task.add_catch(then, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD)
        published.append(task.next(then))
    severity = f"{alert_path}.severity"
    return choice.when(
        sfn.Condition.and_(
            sfn.Condition.is_present(severity), sfn.Condition.string_equals(severity, "notify")
        ),
        published[1],
    ).otherwise(published[0])


def poll_wait(scope: Construct, state_id: str, comment: str) -> sfn.Wait:
    """Wait the poll interval from the execution input (never a sleeping Lambda)."""
    return sfn.Wait(
        scope,
        state_id,
        time=sfn.WaitTime.seconds_path("$.job.plan.poll_seconds"),
        comment=comment,
    )


def release_lock(
    scope: Construct,
    state_id: str,
    table: dynamodb.ITableV2,
    *,
    then: sfn.IChainable,
    cluster_path: str = "$.job.plan.cluster_id",
    holder_path: str = "$.job.plan.execution",
) -> tasks.DynamoDeleteItem:
    """Give the cluster back, only if this execution still holds it, then go on to
    `then`, even if releasing failed: the lock expires on its own."""
    release = tasks.DynamoDeleteItem(
        scope,
        state_id,
        table=table,
        key={
            "cluster_id": tasks.DynamoAttributeValue.from_string(
                sfn.JsonPath.string_at(cluster_path)
            )
        },
        condition_expression="holder = :me",
        expression_attribute_values={
            ":me": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at(holder_path))
        },
        result_path=sfn.JsonPath.DISCARD,
        comment="Release the cluster lock held by this execution",
    )
    release.add_retry(errors=["DynamoDB.InternalServerErrorException"], max_attempts=3)
    release.add_catch(then, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD)
    release.next(then)
    return release


def one_line_cause(
    scope: Construct, state_id: str, error_path: str, *, then: sfn.IChainable
) -> sfn.Choice:
    """Before a state machine words a message from a caught error: a Lambda error's
    Cause is JSON with the message, the type, and a stack trace (file paths and all);
    keep `{errorType}: {errorMessage}` alone in `{error_path}.Cause`. Any other Cause
    (a States.* error's short text) is kept as it is."""
    cause = f"{error_path}.Cause"
    parsed = f"{error_path}.Parsed"
    parse = sfn.Pass(
        scope,
        f"{state_id}Parse",
        parameters={"Parsed.$": f"States.StringToJson({cause})"},
        result_path=parsed,
        comment="Read the Lambda error's JSON Cause",
    )
    shorten = sfn.Pass(
        scope,
        f"{state_id}Shorten",
        parameters={
            "Error.$": f"{error_path}.Error",
            "Cause.$": f"States.Format('{{}}: {{}}', {parsed}.Parsed.errorType, "
            f"{parsed}.Parsed.errorMessage)",
        },
        result_path=error_path,
        comment="Keep the error type and its message; drop the stack trace",
    )
    has_message = sfn.Choice(scope, f"{state_id}HasMessage?")
    has_message.when(
        sfn.Condition.and_(
            sfn.Condition.is_present(f"{parsed}.Parsed.errorMessage"),
            sfn.Condition.is_present(f"{parsed}.Parsed.errorType"),
        ),
        shorten.next(then),
    ).otherwise(then)
    return (
        sfn.Choice(scope, state_id, comment="A Lambda error's Cause: JSON with a stack trace")
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_present(cause),
                sfn.Condition.is_string(cause),
                # Whole JSON only: a Cause cut short would not parse.
                sfn.Condition.string_matches(cause, '{"error*}'),
            ),
            parse.next(has_message),
        )
        .otherwise(then)
    )


def verify_keys_step(
    scope: Construct,
    verify_keys: lambda_.IFunction,
    *,
    cluster_id: str,
    hsm_ips: str,
    comment: str,
    on_error: sfn.IChainable,
    then: sfn.IChainable,
) -> tasks.LambdaInvoke:
    """VerifyKeys: the verify-keys function checks the cluster at `cluster_id` (with its
    HSMs at `hsm_ips`) against the source cluster's manifest of the backup's time; its
    report at `$.keys`, or any failure at `$.keysError` for `on_error`. Retried only on
    Lambda's own transient errors (the verifier's findings are its answer)."""
    verify = tasks.LambdaInvoke(
        scope,
        "VerifyKeys",
        lambda_function=verify_keys,
        payload=sfn.TaskInput.from_object(
            {
                "cluster_id.$": cluster_id,
                "manifest_cluster_id.$": "$.job.plan.source_cluster_id",
                "at.$": "$.job.plan.backup.create_timestamp",
                "hsm_ips.$": hsm_ips,
                "region.$": "$.job.plan.region",
            }
        ),
        payload_response_only=True,
        result_path="$.keys",
        comment=comment,
    )
    verify.add_retry(
        errors=LAMBDA_TRANSIENT, interval=Duration.seconds(2), backoff_rate=2, max_attempts=3
    )
    verify.add_catch(on_error, errors=["States.ALL"], result_path="$.keysError")
    verify.next(then)
    return verify
