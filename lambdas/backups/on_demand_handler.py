"""The steps of the on-demand backup state machine (one function, one step per call).

Each call gets `{"step": NAME, "job": {...}}` and returns the updated job, which the
state machine keeps at `$.job`. Waiting is the state machine's Wait/Choice loops: no
step sleeps. Every HSM this execution creates is recorded in `job.run` at once, and
only those are ever deleted (the cycled HSM is the one exception the input opted in to).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.alerting.workflow_alerts import on_demand_failure_alert
from lambdas.backups.on_demand import (
    CYCLE_HSM,
    MAX_HSM_ATTEMPTS,
    lock_ttl_seconds,
    make_plan,
    newest_backup_since,
    parse_request,
)
from lambdas.backups.on_demand_cleanup import plan_cleanup
from lambdas.shared.console import execution_url
from lambdas.shared.deadlines import deadline, passed
from lambdas.shared.env import Env
from lambdas.shared.errors import (
    CloudHsmDrError,
    HsmCreationFailed,
    HsmTimeout,
    InvalidInput,
    NotOwnedByThisRun,
)
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import BACKUP_READY, GONE, HSM_ACTIVE, HSM_DEGRADED, hsm_status
from lambdas.shared.observability import logger, tracer
from lambdas.shared.settings import BackupSettings, VerificationSettings

Job = dict[str, Any]


class BackupTimeout(CloudHsmDrError):
    """No backup created since the start became READY within the configured timeout."""


class BackupVerificationFailed(CloudHsmDrError):
    """The new backup cannot restore this cluster, or the cluster did not end as it began."""


class CleanupIncomplete(CloudHsmDrError):
    """The cluster could not be brought back to its starting HSMs in time."""


def _now() -> datetime:
    return datetime.now(UTC)


def _gateway(job: Job) -> CloudHsmGateway:
    return CloudHsmGateway.for_region(job["plan"]["region"])


# Steps -------------------------------------------------------------------------


def validate(event: dict[str, Any]) -> Job:
    """Check the input and the cluster, lock the cluster, and plan. Creates nothing."""
    from lambdas.shared.locks import ClusterLock

    settings = VerificationSettings.from_env()
    backup_settings = BackupSettings.from_env()
    request = parse_request(event.get("input") or {}, backup_settings)
    spec = settings.protected(request.cluster_id)
    execution = str(event.get("execution") or "manual")
    lock = ClusterLock(os.environ[Env.LOCK_TABLE])
    ttl = lock_ttl_seconds(backup_settings)
    with lock.held_for_planning(spec.id, execution, "on-demand backup", ttl, _execution_running):
        cluster, hsms_in_region = CloudHsmGateway.for_region(spec.region).cluster_and_region_hsms(
            spec.id
        )
        plan = make_plan(
            request=request,
            spec=spec,
            cluster=cluster,
            hsms_in_region=hsms_in_region,
            settings=backup_settings,
            now=_now(),
        )
    logger.info("cluster locked and plan made", extra={"plan": plan.to_dict()})
    return {
        "plan": {**plan.to_dict(), "execution": execution},
        "run": {
            "step": "validate",
            "attempts": 0,
            "created_hsm_ids": [],
            "removed_hsm_ids": [],
            "hsm": None,
            "backup": None,
        },
    }


def create_hsm(job: Job) -> Job:
    from lambdas.shared.hsm_attempts import adoptable_hsm

    plan, run = job["plan"], job["run"]
    known = {*plan["hsms_before"], *run["created_hsm_ids"], *run["removed_hsm_ids"]}
    earlier = adoptable_hsm(_gateway(job).get_cluster(plan["cluster_id"]), known, plan["zones"])
    if earlier is not None:  # an earlier try of this step made it; its response was lost
        run["attempts"] += 1
        run["created_hsm_ids"].append(earlier.hsm_id)
        run.setdefault("adopted_hsm_ids", []).append(earlier.hsm_id)
        run["hsm"] = _waiting_on(
            earlier.hsm_id, earlier.availability_zone, earlier.state, plan["hsm_timeout_minutes"]
        )
        logger.info("HSM adopted", extra={"hsm_id": earlier.hsm_id})
        return _done(job, "create_hsm")
    if run["attempts"] >= MAX_HSM_ATTEMPTS:
        raise HsmCreationFailed(
            f"{run['attempts']} HSMs created in {', '.join(plan['zones'])} all ended DEGRADED"
        )
    zones = plan["zones"]
    zone = zones[run["attempts"] % len(zones)]
    ip = plan["cycled"]["eni_ip"] if plan["strategy"] == CYCLE_HSM else None
    # Not retried by the SDK: a retry after a lost response would make a second HSM. The
    # state machine retries the step, which first adopts what a lost try made.
    once = CloudHsmGateway.for_region(plan["region"], max_attempts=1)
    hsm = once.create_hsm(plan["cluster_id"], zone, ip)
    run["attempts"] += 1
    run["created_hsm_ids"].append(hsm.hsm_id)  # recorded before anything else can fail
    run["hsm"] = _waiting_on(hsm.hsm_id, zone, hsm.state, plan["hsm_timeout_minutes"])
    logger.info("HSM created", extra={"hsm_id": hsm.hsm_id, "zone": zone, "ip": ip})
    return _done(job, "create_hsm")


def check_hsm(job: Job) -> Job:
    run, plan = job["run"], job["plan"]
    waiting = run["hsm"]
    cluster = _gateway(job).get_cluster(plan["cluster_id"])
    waiting["status"] = hsm_status(cluster, waiting["hsm_id"])
    if waiting["status"] not in (HSM_ACTIVE, HSM_DEGRADED, GONE) and passed(
        waiting["deadline"], _now()
    ):
        raise HsmTimeout(
            f"HSM {waiting['hsm_id']} is still {waiting['status']} after "
            f"{plan['hsm_timeout_minutes']} minutes"
        )
    return _done(job, "check_hsm")


def discard_hsm(job: Job) -> Job:
    """Delete the DEGRADED HSM this run created: it never recovers."""
    return _delete_created(job, job["run"]["hsm"]["hsm_id"], "discard_hsm")


def remove_temporary_hsm(job: Job) -> Job:
    return _delete_created(job, job["run"]["hsm"]["hsm_id"], "remove_temporary_hsm")


def remove_cycled_hsm(job: Job) -> Job:
    plan, run = job["plan"], job["run"]
    cycled = plan["cycled"]
    if plan["strategy"] != CYCLE_HSM or cycled["hsm_id"] not in plan["hsms_before"]:
        raise NotOwnedByThisRun(f"refusing to delete {cycled and cycled['hsm_id']}")
    _gateway(job).delete_hsm(plan["cluster_id"], cycled["hsm_id"])
    run["removed_hsm_ids"].append(cycled["hsm_id"])
    run["hsm"] = _waiting_on(
        cycled["hsm_id"],
        cycled["availability_zone"],
        "DELETE_IN_PROGRESS",
        plan["hsm_timeout_minutes"],
    )
    return _done(job, "remove_cycled_hsm")


def check_backup(job: Job) -> Job:
    plan, run = job["plan"], job["run"]
    now = _now()
    if not run["backup"]:
        run["backup"] = {"deadline": deadline(now, plan["backup_timeout_minutes"])}
    recent = list(
        _gateway(job).iter_backups(cluster_ids=[plan["cluster_id"]], newest_first=True, limit=10)
    )
    backup = newest_backup_since(recent, datetime.fromisoformat(plan["started_at"]))
    run["backup"].update(
        backup_id=backup.backup_id if backup else None, state=backup.state if backup else "NONE"
    )
    if (backup is None or backup.state != BACKUP_READY) and passed(run["backup"]["deadline"], now):
        found = f"{backup.backup_id} is still {backup.state}" if backup else "none appeared"
        raise BackupTimeout(
            f"no backup of {plan['cluster_id']} became READY within "
            f"{plan['backup_timeout_minutes']} minutes ({found})"
        )
    return _done(job, "check_backup")


def describe(job: Job) -> dict[str, Any]:
    from lambdas.backups.on_demand_result import describe_result

    result = describe_result(job, _gateway(job), BackupSettings.from_env(), _now())
    if result["verification_problems"]:
        raise BackupVerificationFailed("; ".join(result["verification_problems"]))
    return result


def clean_up(event: dict[str, Any]) -> Job:
    job, error = event["job"], event.get("error") or {}
    plan, run = job["plan"], job["run"]
    gateway = _gateway(job)
    now = _now()
    state = run.setdefault("cleanup", {"actions": [], "deadline": None, "attempts": 0})
    if not state["deadline"]:
        state["deadline"] = deadline(now, 2 * plan["hsm_timeout_minutes"])
    cluster = gateway.get_cluster(plan["cluster_id"])
    _adopt_unrecorded(plan, run, cluster, state["actions"])
    decision = plan_cleanup(plan, run, cluster)
    for hsm_id in decision.delete:
        _require_created(run, hsm_id)
        gateway.delete_hsm(plan["cluster_id"], hsm_id)
        run["removed_hsm_ids"].append(hsm_id)
        state["actions"].append(f"deleted HSM {hsm_id}, which this run created")
    for zone, ip in decision.create:
        state["attempts"] += 1
        hsm = gateway.create_hsm(plan["cluster_id"], zone, ip)
        run["created_hsm_ids"].append(hsm.hsm_id)
        state["actions"].append(f"re-created HSM {hsm.hsm_id} in {zone} at {ip or 'a new IP'}")
    state["done"] = decision.done
    state["remaining"] = list(decision.remaining)
    if not decision.done and passed(state["deadline"], now):
        state["alert"] = on_demand_failure_alert(job, error, execution_url(plan["execution"]))
        raise CleanupIncomplete("; ".join(decision.remaining))
    if decision.done:
        state["alert"] = on_demand_failure_alert(job, error, execution_url(plan["execution"]))
    return _done(job, "clean_up")


# An execution that was stopped ---------------------------------------------------


def stopped(event: dict[str, Any]) -> dict[str, Any]:
    """EventBridge: an execution was ABORTED or TIMED_OUT, so its clean-up loop never
    ran. Delete what it created (found in its history, and only that), release its
    lock, and page with what is left."""
    import boto3

    from lambdas.alerting.alerts import Alert
    from lambdas.alerting.delivery import publish
    from lambdas.alerting.workflow_alerts import stopped_alert
    from lambdas.backups.on_demand_cleanup import plan_after_stop
    from lambdas.shared import runbooks
    from lambdas.shared.executions import last_job, stopped_execution
    from lambdas.shared.locks import ClusterLock
    from lambdas.shared.settings import AlertTopics

    execution, status = stopped_execution(event)
    execution_input, job = last_job(boto3.client("stepfunctions"), execution)
    plan = (job or {}).get("plan") or {}
    cluster_id = str(plan.get("cluster_id") or execution_input.get("cluster_id") or "")
    spec = VerificationSettings.from_env().protected(cluster_id)  # refuses anything else
    actions: list[str] = []
    left: list[str] = []
    if job is not None:
        run = job["run"]
        gateway = CloudHsmGateway.for_region(plan["region"])
        decision = plan_after_stop(plan, run, gateway.get_cluster(spec.id))
        for hsm_id in decision.delete:
            _require_created(run, hsm_id)
            try:
                gateway.delete_hsm(spec.id, hsm_id)
                actions.append(f"deleted HSM {hsm_id}, which this execution created")
            except CloudHsmDrError as error:
                left.append(f"HSM {hsm_id} (this execution's) could not be deleted: {error}")
        left += decision.left
    ClusterLock(os.environ[Env.LOCK_TABLE]).release(spec.id, execution)
    actions.append("released its cluster lock")
    alert = stopped_alert(
        workflow="on-demand backup",
        cluster=spec.id,
        status=status,
        actions=actions,
        left=left,
        next_steps=[
            f"Check the HSMs: aws cloudhsmv2 describe-clusters --region {spec.region} "
            f"--filters clusterIds={spec.id}",
            "Start it again once the cause is fixed: hsmdr backup create --config "
            f"<deployment config> --cluster {spec.id} --follow",
        ],
        runbook=runbooks.ON_DEMAND_BACKUP,
        console_url=execution_url(execution),
    )
    settings = VerificationSettings.from_env()
    publish(
        Alert(alert["subject"], alert["body"]),
        AlertTopics(page=settings.alert_topic_arn),
    )
    logger.warning("on-demand execution stopped", extra={"execution": execution, "left": left})
    return {"execution": execution, "status": status, "actions": actions, "left": left}


# Helpers -----------------------------------------------------------------------


def _waiting_on(hsm_id: str, zone: str, status: str, timeout_minutes: float) -> dict[str, Any]:
    return {
        "hsm_id": hsm_id,
        "availability_zone": zone,
        "status": status,
        "deadline": deadline(_now(), timeout_minutes),
    }


def _adopt_unrecorded(
    plan: dict[str, Any], run: dict[str, Any], cluster: Any, actions: list[str]
) -> None:
    """A CreateHsm whose response was lost (the failure being cleaned up, say) made an
    HSM nobody recorded: record it, so clean-up deletes it with the others."""
    from lambdas.shared.hsm_attempts import adoptable_hsm

    while True:
        known = {*plan["hsms_before"], *run["created_hsm_ids"], *run["removed_hsm_ids"]}
        earlier = adoptable_hsm(cluster, known, plan["zones"])
        if earlier is None:
            return
        run["created_hsm_ids"].append(earlier.hsm_id)
        actions.append(f"found HSM {earlier.hsm_id}, made by a CreateHsm whose answer was lost")


def _require_created(run: dict[str, Any], hsm_id: str) -> None:
    if hsm_id not in run["created_hsm_ids"]:
        raise NotOwnedByThisRun(f"refusing to delete HSM {hsm_id}: this run did not create it")


def _delete_created(job: Job, hsm_id: str, step: str) -> Job:
    plan, run = job["plan"], job["run"]
    _require_created(run, hsm_id)
    if hsm_id in plan["hsms_before"]:
        raise NotOwnedByThisRun(f"refusing to delete HSM {hsm_id}: it existed before the run")
    _gateway(job).delete_hsm(plan["cluster_id"], hsm_id)
    run["removed_hsm_ids"].append(hsm_id)
    run["hsm"] = _waiting_on(
        hsm_id, run["hsm"]["availability_zone"], "DELETE_IN_PROGRESS", plan["hsm_timeout_minutes"]
    )
    return _done(job, step)


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
    "remove_temporary_hsm": remove_temporary_hsm,
    "remove_cycled_hsm": remove_cycled_hsm,
    "check_backup": check_backup,
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
    if step == "clean_up":
        return clean_up(event)
    if step not in STEPS:
        raise InvalidInput("step", f"{step!r} is not a step of the on-demand backup")
    return STEPS[step](json.loads(json.dumps(event["job"])))
