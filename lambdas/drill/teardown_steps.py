"""Teardown, always: revoke the verifier's rule, delete the HSMs, then the cluster, then
the backups CloudHSM made of it; and the teardown of a drill that was stopped
(lambdas/drill/stop.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lambdas.alerting.workflow_alerts import error_summary
from lambdas.drill import step_support as support
from lambdas.drill.network import Ec2
from lambdas.drill.plan import (
    DRILL_KEY,
    TeardownIncomplete,
    deadline,
    passed,
    plan_backup_cleanup,
    plan_borrowed_teardown,
    plan_teardown,
)
from lambdas.drill.report import (
    stopped_alert,
)
from lambdas.drill.settings import DrillSettings
from lambdas.drill.step_support import Job
from lambdas.drill.stop import (
    TEARDOWN_OF,
    execution_to_tear_down,
    is_teardown_run,
    resumable_problem,
    resumed_job,
    teardown_run_name,
)
from lambdas.shared.errors import (
    CloudHsmInvalidRequest,
    InvalidInput,
)
from lambdas.shared.executions import state_machine_of
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import Cluster
from lambdas.shared.observability import logger

# Teardown: always ------------------------------------------------------------------------


def teardown(event: Mapping[str, Any]) -> Job:
    """One round: revoke the verifier's rule, delete the HSMs, then the cluster, then
    the backups CloudHSM made of it. Loops (Wait/Choice) until `done`."""
    job: Job = json.loads(json.dumps(event["job"]))
    settings = DrillSettings.from_env()
    plan_, run = job["plan"], job["run"]
    if event.get("error") and not run.get("error"):
        name, message = error_summary(event["error"])
        run["error"] = {"Error": name, "Message": message}
        run["last_step"] = run["step"]  # the last step that completed
    now = support.utc_now()
    state = run["teardown"] or {}  # a teardown-only run brings what was already done
    state.setdefault("deadline", deadline(now, plan_["teardown_timeout_minutes"]))
    for key in ("actions", "left", "owned"):
        state.setdefault(key, [])
    run["teardown"] = state
    support.mark(run, "teardown_started", now)
    region, execution = plan_["region"], plan_["execution"]
    gateway = support.gateway_in(region)
    recorded = [run["cluster"]["cluster_id"]] if run.get("cluster") else []
    tagged = [c.cluster_id for c in support.tagged(gateway, execution)]
    for cluster_id in tagged:
        if cluster_id not in recorded:
            state["actions"].append(f"found {cluster_id} by its {DRILL_KEY} tag (not recorded)")
            run["cluster"] = run.get("cluster") or {"cluster_id": cluster_id, "region": region}
    candidates = list(dict.fromkeys([*recorded, *tagged]))
    _close_network(job, settings, state)
    remaining: list[str] = []
    for cluster_id in candidates:
        remaining += _tear_down_cluster(job, gateway, cluster_id, state, now)
    if not remaining:
        support.mark(run, "cluster_gone", now)
        if settings.delete_drill_backups:
            remaining += _delete_drill_backups(job, gateway, state, now)
        else:
            _keep_drill_backups(job, gateway, state)
    state["remaining"] = remaining
    state["done"] = not remaining
    if state["done"]:
        support.mark(run, "teardown_done", now)
    elif passed(state["deadline"], now):
        raise TeardownIncomplete(
            f"after {plan_['teardown_timeout_minutes']} minutes: {'; '.join(remaining)}"
        )
    return support.done(job, "teardown")


def _tear_down_cluster(
    job: Job, gateway: CloudHsmGateway, cluster_id: str, state: dict[str, Any], now: datetime
) -> list[str]:
    run = job["run"]
    cluster = gateway.find_clusters([cluster_id]).get(cluster_id)
    hsms_now = {h.hsm_id for h in cluster.hsms} if cluster else set()
    for record in run["hsms"]:
        if record["hsm_id"] not in hsms_now:
            support.gone(run, record["hsm_id"], now)
    if support.borrowed(job, cluster_id):
        return _give_back_standby(job, gateway, cluster, state)
    decision = plan_teardown(cluster)
    if decision.gone:
        return []
    for hsm_id in decision.delete_hsms:
        support.require_owned(job, cluster_id, gateway)  # tags read again right before each delete
        gateway.delete_hsm(cluster_id, hsm_id)
        state["actions"].append(f"deleted HSM {hsm_id} of drill cluster {cluster_id}")
        if hsm_id not in {h["hsm_id"] for h in run["hsms"]}:
            run["hsms"].append(support.hsm_record(hsm_id, "", None))
    if decision.delete_cluster:
        support.require_owned(job, cluster_id, gateway)
        try:
            gateway.delete_cluster(cluster_id)
        except CloudHsmInvalidRequest as error:  # e.g. an HSM appeared meanwhile: next round
            return [f"cluster {cluster_id} not deleted yet: {error}"]
        state["actions"].append(f"deleted drill cluster {cluster_id}")
    if cluster_id not in state["owned"]:
        state["owned"].append(cluster_id)
    return list(decision.waiting)


def _give_back_standby(
    job: Job, gateway: CloudHsmGateway, cluster: Cluster | None, state: dict[str, Any]
) -> list[str]:
    """The borrowed standby stays: only the HSMs this drill created on it go (its tags
    read again right before each delete); the cluster, an HSM it had before and the
    backups CloudHSM makes of it are the standby refresher's."""
    run = job["run"]
    created = {h["hsm_id"] for h in run["hsms"]}
    decision = plan_borrowed_teardown(cluster, created)
    for hsm_id in decision.delete_hsms:
        assert cluster is not None  # an HSM to delete was found in it
        support.require_owned(job, cluster.cluster_id, gateway)
        gateway.delete_hsm(cluster.cluster_id, hsm_id)
        state["actions"].append(
            f"deleted HSM {hsm_id} the drill added to standby {cluster.cluster_id}"
        )
    if decision.gone and "standby_kept" not in state:
        state["standby_kept"] = run["cluster"]["cluster_id"]
        state["actions"].append(
            f"kept standby {run['cluster']['cluster_id']}: borrowed, not created by this drill"
        )
    return list(decision.waiting)


def _delete_drill_backups(
    job: Job, gateway: CloudHsmGateway, state: dict[str, Any], now: datetime
) -> list[str]:
    """CloudHSM backs the drill cluster up when its HSM is removed, and never deletes a
    cluster's last backup: delete those backups (restorable for 7 days)."""
    run, execution = job["run"], job["plan"]["execution"]
    owned = [c for c in state["owned"] if c not in support.protected()]
    if not owned:
        return []
    waited_since = datetime.fromisoformat(run["times"]["cluster_gone"])
    backups = list(gateway.iter_backups(cluster_ids=owned))
    cleanup = plan_backup_cleanup(
        backups,
        waited_since=waited_since,
        now=now,
        wait_minutes=DrillSettings.from_env().backup_wait_minutes,
    )
    for backup_id in cleanup.delete:
        # IAM allows DeleteBackup only on backups tagged hsmdr:drill.
        gateway.tag_resource(backup_id, {DRILL_KEY: execution})
        gateway.delete_backup(backup_id)
        state["actions"].append(f"deleted backup {backup_id} of the drill cluster")
    state["left"] = list(cleanup.left)
    return list(cleanup.waiting)


def _keep_drill_backups(job: Job, gateway: CloudHsmGateway, state: dict[str, Any]) -> None:
    """drills.delete_drill_backups is false (the default): only the copy job deletes
    backups. Name the drill cluster's backups so a person can delete them."""
    owned = [c for c in state["owned"] if c not in support.protected()]
    if not owned or state.get("kept") is not None:
        return
    state["kept"] = [
        f"backup {b.backup_id} of drill cluster {b.cluster_id} ({b.state}) is kept: it holds "
        f"production keys and never expires (a cluster's last backup); delete it with aws "
        f"cloudhsmv2 delete-backup --region {job['plan']['region']} --backup-id {b.backup_id}"
        for b in gateway.iter_backups(cluster_ids=owned)
        if b.state not in ("PENDING_DELETION", "DELETED")
    ]


def _close_network(job: Job, settings: DrillSettings, state: dict[str, Any]) -> None:
    """Revoke the verifier's egress rule to the drill cluster (computed, so a crash
    between authorizing it and recording it leaves nothing behind)."""
    run = job["run"]
    if not settings.key_verification or state.get("network_closed"):
        return
    group = (run.get("cluster") or {}).get("security_group")
    if not group:
        state["network_closed"] = True
        return
    rules = support.network_rules(job, settings, group)
    if rules.ingress is not None and support.borrowed(job, run["cluster"]["cluster_id"]):
        # A drill cluster's group goes with it; a borrowed standby's stays: revoke.
        Ec2.for_region(job["plan"]["region"]).revoke_ingress(group, rules.ingress)
        state["actions"].append(f"revoked the verifier's ingress rule on the standby ({group})")
    if rules.egress is not None:
        Ec2.for_region(settings.primary_region).revoke_egress(
            settings.verifier_security_group, rules.egress
        )
        state["actions"].append(
            f"revoked the verifier's egress rule to the drill cluster ({group})"
        )
    state["network_closed"] = True


# A drill that timed out or was aborted -----------------------------------------------------


def stopped(event: Mapping[str, Any]) -> dict[str, Any]:
    """EventBridge: a drill execution TIMED_OUT or was ABORTED, so its teardown did not
    run. Start a teardown-only run of the state machine for it (unless it was one
    itself: then a person takes over), and page with the drill clusters it left (found
    by their hsmdr:drill tag) and the teardown run's name."""
    import boto3

    from lambdas.shared.executions import last_job, start_once, stopped_execution

    settings = DrillSettings.from_env()
    execution, status = stopped_execution(event)
    if state_machine_of(execution).rsplit(":", 1)[-1] != settings.state_machine_name:
        raise InvalidInput("detail.executionArn", f"{execution} is not a DR drill execution")
    from botocore.exceptions import ClientError

    sfn = boto3.client("stepfunctions", region_name=execution.split(":")[3])
    try:
        execution_input, job = last_job(sfn, execution)
    except ClientError as error:  # no teardown run then: the page says what to delete
        logger.warning("stopped drill history unreadable", extra={"error": str(error)})
        execution_input, job = {}, None
    # A stopped teardown run leaves what its drill made: tagged with the drill's id.
    owner = str(execution_input.get(TEARDOWN_OF) or execution)
    left = [
        {"cluster_id": c.cluster_id, "region": region}
        for region in settings.regions
        for c in support.tagged(support.gateway_in(region), owner)
    ]
    teardown_run = None
    if job is not None and not is_teardown_run(execution_input):
        teardown_run, _ = start_once(
            sfn,
            state_machine_of(execution),
            teardown_run_name(execution),
            {TEARDOWN_OF: execution},
        )
    message = stopped_alert(
        execution,
        status,
        left,
        teardown_run=teardown_run,
        teardown_of=owner if owner != execution else None,
    )
    if settings.page_topic_arn:
        boto3.client("sns", region_name=settings.page_topic_arn.split(":")[3]).publish(
            TopicArn=settings.page_topic_arn, Subject=message["subject"], Message=message["body"]
        )
    logger.warning(
        "drill execution stopped",
        extra={"execution": execution, "left": left, "teardown_run": teardown_run},
    )
    return {
        "status": "FAILED" if left else "SUCCEEDED",
        "execution": execution,
        "left": left,
        "teardown_run": teardown_run,
    }


def resume_teardown(event: Mapping[str, Any]) -> Job:
    """The first step of a teardown-only run: the stopped execution's job, as its
    history last held it, set to tear down. Refuses before anything is deleted."""
    import boto3

    from lambdas.shared.executions import last_job

    this = str(event["execution"])
    target = execution_to_tear_down(event.get("input") or {}, this)
    sfn = boto3.client("stepfunctions", region_name=target.split(":")[3])
    try:
        status = str(sfn.describe_execution(executionArn=target)["status"])
    except sfn.exceptions.ExecutionDoesNotExist as error:
        raise InvalidInput(TEARDOWN_OF, f"no such execution: {target}") from error
    _, job = last_job(sfn, target) if status != "RUNNING" else ({}, None)
    problem = resumable_problem(status, job is not None)
    if problem or job is None:
        raise InvalidInput(TEARDOWN_OF, f"{target} cannot be torn down: {problem}")
    logger.info("teardown of a stopped drill", extra={"stopped": target, "status": status})
    return resumed_job(job, stopped_status=status, teardown_run=this)
