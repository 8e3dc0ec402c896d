"""The steps of the HSM replacement state machine (one function, one step per call).

Each call gets `{"step": NAME, "job": {...}}` and returns the updated job, kept at
`$.job`; waiting is the state machine's Wait/Choice loops. Every HSM this execution
creates is recorded in `job.run` before anything else can fail. Deletes go through
`_guarded_delete`: a fresh read of the cluster right before DeleteHsm, and the pure
`deletion_verdict` refuses anything not named by the plan or not DEGRADED.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.replacement.replace import (
    DELETE,
    GONE,
    RefusedToDelete,
    ReplacementFailed,
    SyncTimeout,
    deletion_verdict,
    hsm_status,
    make_plan,
    parse_request,
    sync_waits,
)
from lambdas.replacement.report import REPORT_PREFIX, failure_document, timing
from lambdas.replacement.report_html import render_html
from lambdas.replacement.result import describe_result
from lambdas.replacement.settings import ReplacementSettings
from lambdas.shared.console import execution_url
from lambdas.shared.deadlines import deadline, passed
from lambdas.shared.env import Env
from lambdas.shared.errors import (
    CloudHsmDrError,
    CloudHsmInvalidRequest,
    HsmTimeout,
    InvalidInput,
)
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import HSM_ACTIVE, HSM_DEGRADED, Cluster
from lambdas.shared.observability import logger, tracer
from lambdas.shared.report_store import report_location, store_report
from lambdas.shared.settings import VerificationSettings

Job = dict[str, Any]
LOCK_PURPOSE = "HSM replacement"


def _now() -> datetime:
    return datetime.now(UTC)


def _gateway(job: Job) -> CloudHsmGateway:
    return CloudHsmGateway.for_region(job["plan"]["region"])


# Steps -------------------------------------------------------------------------


def validate(event: dict[str, Any]) -> Job:
    """Check the input and the cluster, lock the cluster, plan. Creates nothing."""
    from lambdas.shared.locks import ClusterLock

    settings = ReplacementSettings.from_env()
    request = parse_request(event.get("input") or {}, settings)
    # A cluster the config does not protect is refused before any call names it.
    spec = VerificationSettings.from_env().protected(request.cluster_id)
    execution = str(event.get("execution") or "manual")
    lock = ClusterLock(os.environ[Env.LOCK_TABLE])
    ttl = int((2 * settings.max_attempts + 2) * request.hsm_timeout_minutes * 60) + 3600
    with lock.held_for_planning(spec.id, execution, LOCK_PURPOSE, ttl, _execution_running):
        cluster, hsms_in_region = CloudHsmGateway.for_region(spec.region).cluster_and_region_hsms(
            spec.id
        )
        plan = make_plan(
            request=request,
            spec=spec,
            cluster=cluster,
            hsms_in_region=hsms_in_region,
            settings=settings,
            now=_now(),
        )
    logger.info("cluster locked and replacement planned", extra={"plan": plan.to_dict()})
    return {
        "plan": {**plan.to_dict(), "execution": execution},
        "run": {
            "step": "validate",
            "attempts": 0,
            "created_hsm_ids": [],
            "deleted_hsm_ids": [],
            "replacement_hsm_id": None,
            "hsm": None,
            "sync": None,
            "actions": [],
            # For the report: phase milestones and each created HSM's life.
            "times": {"planned": _now().isoformat()},
            "hsm_log": {},
        },
    }


def create_hsm(job: Job) -> Job:
    from lambdas.shared.hsm_attempts import adoptable_hsm

    plan, run = job["plan"], job["run"]
    known = {*plan["hsms_before"], *run["created_hsm_ids"], *run["deleted_hsm_ids"]}
    earlier = adoptable_hsm(_cluster(job), known, [plan["zone"]])
    if earlier is not None:  # an earlier try of this step made it; its response was lost
        run["attempts"] += 1
        run["created_hsm_ids"].append(earlier.hsm_id)
        _log_hsm(run, earlier.hsm_id, "created_at", availability_zone=plan["zone"])
        run["hsm"] = _waiting_on(earlier.hsm_id, earlier.state, plan["hsm_timeout_minutes"])
        run["actions"].append(
            f"adopted HSM {earlier.hsm_id} in {plan['zone']}, which an earlier try of this "
            "step created (its response was lost)"
        )
        return _done(job, "create_hsm")
    if run["attempts"] >= plan["max_attempts"]:
        raise ReplacementFailed(
            f"{run['attempts']} HSM(s) created in {plan['zone']} all ended DEGRADED; the "
            f"failed HSM was kept (max_attempts {plan['max_attempts']})"
        )
    # Not retried by the SDK: a retry after a lost response would make a second HSM. The
    # state machine retries the step, which first adopts what a lost try made.
    gateway = CloudHsmGateway.for_region(plan["region"], max_attempts=1)
    ip = plan["ip_address"]
    try:
        hsm = gateway.create_hsm(plan["cluster_id"], plan["zone"], ip)
    except CloudHsmInvalidRequest as error:
        # "...has not yet been fully activated" (one HSM at a time) is not about the IP.
        if not ip or "activated" in str(error):
            raise
        # The old IP is outside the subnet or taken after all: a new IP still restores capacity.
        run["actions"].append(f"CreateHsm with IP {ip} was refused ({error}); used a new IP")
        plan["ip_address"], ip = None, None
        hsm = gateway.create_hsm(plan["cluster_id"], plan["zone"], None)
    run["attempts"] += 1
    run["created_hsm_ids"].append(hsm.hsm_id)  # recorded before anything else can fail
    _log_hsm(run, hsm.hsm_id, "created_at", availability_zone=plan["zone"])
    run["hsm"] = _waiting_on(hsm.hsm_id, hsm.state, plan["hsm_timeout_minutes"])
    run["actions"].append(
        f"created HSM {hsm.hsm_id} in {plan['zone']} at {hsm.eni_ip or ip or 'a new IP'} "
        f"(attempt {run['attempts']} of {plan['max_attempts']})"
    )
    logger.info("replacement HSM created", extra={"hsm_id": hsm.hsm_id, "ip": ip})
    return _done(job, "create_hsm")


def check_hsm(job: Job) -> Job:
    plan, run = job["plan"], job["run"]
    waiting = run["hsm"]
    waiting["status"] = hsm_status(_cluster(job), waiting["hsm_id"])
    _log_status(run, waiting["hsm_id"], waiting["status"])
    if waiting["status"] == HSM_ACTIVE and waiting["hsm_id"] in run["created_hsm_ids"]:
        run["replacement_hsm_id"] = waiting["hsm_id"]
        _mark(run, "replacement_active")
    elif waiting["status"] not in (HSM_DEGRADED, GONE) and passed(waiting["deadline"], _now()):
        raise HsmTimeout(
            f"HSM {waiting['hsm_id']} is still {waiting['status']} after "
            f"{plan['hsm_timeout_minutes']:g} minutes"
        )
    return _done(job, "check_hsm")


def discard_hsm(job: Job) -> Job:
    """The replacement ended DEGRADED at creation: it never recovers, delete it."""
    run = job["run"]
    hsm_id = run["hsm"]["hsm_id"]
    _guarded_delete(job, hsm_id, allowed=run["created_hsm_ids"], why="ended DEGRADED at creation")
    run["hsm"] = _waiting_on(hsm_id, "DELETE_IN_PROGRESS", job["plan"]["hsm_timeout_minutes"])
    return _done(job, "discard_hsm")


def delete_failed_hsm(job: Job) -> Job:
    """Delete the plan's DEGRADED HSM, only once its replacement (if any) is ACTIVE."""
    plan, run = job["plan"], job["run"]
    failed = plan["failed_hsm"]
    if failed is None:
        raise RefusedToDelete("refusing to delete: this run's plan names no failed HSM")
    replacement = run["replacement_hsm_id"] if plan["create"] else None
    if plan["create"] and replacement is None:
        raise RefusedToDelete(f"refusing to delete {failed['hsm_id']}: no ACTIVE replacement yet")
    why = (
        f"DEGRADED; its replacement {replacement} is ACTIVE"
        if replacement
        else "DEGRADED; the zone already has its desired ACTIVE HSMs"
    )
    _guarded_delete(job, failed["hsm_id"], [failed["hsm_id"]], why, replacement=replacement)
    _mark(run, "failed_hsm_deleted")
    return _done(job, "delete_failed_hsm")


def check_sync(job: Job) -> Job:
    """Done when the zone shows its desired HSMs all ACTIVE and the failed HSM is gone."""
    plan, run = job["plan"], job["run"]
    now = _now()
    sync = run["sync"] or {"deadline": deadline(now, plan["hsm_timeout_minutes"])}
    waits = sync_waits(_cluster(job), plan)
    sync.update(done=not waits, waiting_for=waits)
    if not waits:
        sync["at"] = now.isoformat()
        _mark(run, "synchronised")
    elif passed(sync["deadline"], now):
        raise SyncTimeout("; ".join(waits))
    run["sync"] = sync
    return _done(job, "check_sync")


def describe(job: Job) -> dict[str, Any]:
    """The result, with the success alert the state machine publishes; its report
    (phases, HSMs, time to restored capacity) goes to the reports bucket."""
    result = describe_result(job, _cluster(job), _now())
    result.update(timing(job, result["finished_at"]))
    result["report_location"] = _store_report(result)
    result["alert"]["body"] += report_line(result["report_location"])
    return result


def report_failure(event: dict[str, Any]) -> Job:
    """After any failure: delete the DEGRADED HSMs this run created (they never recover
    and cost money), keep everything else, and write the alert."""
    from lambdas.replacement.alerts import replacement_failure_alert

    job, error = event["job"], event.get("error") or {}
    run = job["run"]
    cleanup: list[str] = []
    cluster: Cluster | None = None
    try:
        cluster = _cluster(job)
        for hsm in cluster.hsms:  # each delete is recorded in run.actions
            if hsm.hsm_id in run["created_hsm_ids"] and hsm.state == HSM_DEGRADED:
                _guarded_delete(
                    job, hsm.hsm_id, run["created_hsm_ids"], "created by this run, DEGRADED"
                )
        cluster = _cluster(job)
    except CloudHsmDrError as failure:
        cleanup.append(f"could not finish the clean-up: {type(failure).__name__}: {failure}")
    alert = replacement_failure_alert(job, error, cluster, cleanup)
    document = failure_document(job, error, alert, _now())
    location = _store_report(document)
    alert["body"] += report_line(location)
    run["failure"] = {"alert": alert, "report_location": location}
    logger.warning("replacement failed", extra={"error": error, "cleanup": cleanup})
    return _done(job, run.get("step") or "report_failure")


def stopped(event: dict[str, Any]) -> dict[str, Any]:
    """EventBridge: an execution was ABORTED or TIMED_OUT, so its failure report never
    ran. Do what it does (delete the DEGRADED HSMs this execution created, keep the
    rest: a replacement that is ACTIVE is capacity), release the lock, and page."""
    import boto3

    from lambdas.alerting.alerts import Alert
    from lambdas.alerting.delivery import publish
    from lambdas.shared.executions import last_job, stopped_execution
    from lambdas.shared.locks import ClusterLock
    from lambdas.shared.settings import AlertTopics

    execution, status = stopped_execution(event)
    execution_input, job = last_job(boto3.client("stepfunctions"), execution)
    plan = (job or {}).get("plan") or {}
    settings = VerificationSettings.from_env()
    spec = settings.protected(str(plan.get("cluster_id") or execution_input.get("cluster_id")))
    error = {
        "Error": f"Execution{status.title().replace('_', '')}",
        "Cause": (
            f"the execution was {status} before it finished; its failure report ran from the "
            "stopped-execution rule"
        ),
    }
    alert: dict[str, str] | None = None
    if job is not None:
        alert = report_failure({"job": job, "error": error})["run"]["failure"]["alert"]
    ClusterLock(os.environ[Env.LOCK_TABLE]).release(spec.id, execution)
    if alert is None:  # stopped before it planned anything: nothing was created
        alert = {
            "subject": f"CloudHSM HSM replacement {status} on {spec.label}",
            "body": f"The HSM replacement of {spec.label} was {status} before it planned "
            "anything: it created and deleted nothing. Start it again: hsmdr hsm replace "
            f"--config <deployment config> --cluster {spec.id} --follow\nExecution: "
            f"{execution_url(execution)}",
        }
    alert["body"] += "\nIts cluster lock was released."
    publish(Alert(alert["subject"], alert["body"]), AlertTopics(page=settings.alert_topic_arn))
    logger.warning("replacement execution stopped", extra={"execution": execution})
    return {"execution": execution, "status": status, "alert": alert}


# Helpers -----------------------------------------------------------------------


def _cluster(job: Job) -> Cluster:
    return _gateway(job).get_cluster(job["plan"]["cluster_id"])


def _guarded_delete(
    job: Job, hsm_id: str, allowed: Collection[str], why: str, replacement: str | None = None
) -> None:
    """The only DeleteHsm of this workflow: re-read, judge, then delete."""
    plan, run = job["plan"], job["run"]
    verdict, reason = deletion_verdict(_cluster(job), hsm_id, allowed, replacement)
    if verdict == DELETE:
        _gateway(job).delete_hsm(plan["cluster_id"], hsm_id)
        run["deleted_hsm_ids"].append(hsm_id)
        if hsm_id in (run.get("hsm_log") or {}):
            _log_hsm(run, hsm_id, "removed_at")
        run["actions"].append(f"deleted HSM {hsm_id} ({why})")
    else:
        run["actions"].append(f"did not delete {hsm_id}: {reason}")
    logger.info("delete decided", extra={"hsm_id": hsm_id, "verdict": verdict, "why": reason})


def _store_report(document: dict[str, Any]) -> dict[str, Any]:
    """Write the report (JSON and HTML) to the reports bucket; where, or why not.
    Never raises: the alert and the lock release must still happen."""
    try:
        started = str(document.get("started_at") or document["finished_at"])
        location: dict[str, Any] = report_location(
            REPORT_PREFIX, started, str(document.get("execution") or "")
        )
        stored = {**document, "report_location": location}
        error = store_report(
            location, json.dumps(stored, indent=2, default=str), render_html(stored)
        )
    except Exception as failure:  # a report that cannot be built is said, not raised
        return {"error": f"{type(failure).__name__}: {failure}"}
    return {**location, "error": error} if error else location


def report_line(location: Mapping[str, Any]) -> str:
    if location.get("error"):
        return f"\nReport not written to the reports bucket: {location['error']}"
    return f"\nReport (JSON and HTML): s3://{location['bucket']}/{location['html_key']}"


def _mark(run: dict[str, Any], milestone: str) -> None:
    """The first time the run reached `milestone` (a retried step keeps the first)."""
    run.setdefault("times", {}).setdefault(milestone, _now().isoformat())


def _log_hsm(run: dict[str, Any], hsm_id: str, event: str, **facts: str) -> None:
    """When an HSM this run created reached `event` (created_at, active_at, ...)."""
    record = run.setdefault("hsm_log", {}).setdefault(hsm_id, {**facts})
    record.setdefault(event, _now().isoformat())


def _log_status(run: dict[str, Any], hsm_id: str, status: str) -> None:
    event = {HSM_ACTIVE: "active_at", HSM_DEGRADED: "degraded_at", GONE: "gone_at"}.get(status)
    if event and hsm_id in (run.get("hsm_log") or {}):
        _log_hsm(run, hsm_id, event)


def _waiting_on(hsm_id: str, status: str, timeout_minutes: float) -> dict[str, Any]:
    return {"hsm_id": hsm_id, "status": status, "deadline": deadline(_now(), timeout_minutes)}


def _done(job: Job, step: str) -> Job:
    job["run"]["step"] = step
    return job


def _execution_running(execution_arn: str) -> bool:
    import boto3

    from lambdas.shared.executions import execution_running

    return execution_running(boto3.client("stepfunctions"), execution_arn)


STEPS = {
    "create_hsm": create_hsm,
    "check_hsm": check_hsm,
    "discard_hsm": discard_hsm,
    "delete_failed_hsm": delete_failed_hsm,
    "check_sync": check_sync,
    "describe": describe,
}


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if event.get("detail-type") == "Step Functions Execution Status Change":
        return stopped(event)
    step = event.get("step")
    if step == "validate":
        return validate(event)
    if step == "report_failure":
        return report_failure(json.loads(json.dumps(event)))
    if step not in STEPS:
        raise InvalidInput("step", f"{step!r} is not a step of the HSM replacement")
    return STEPS[step](json.loads(json.dumps(event["job"])))
