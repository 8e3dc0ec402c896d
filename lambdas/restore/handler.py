"""The steps of the restore-cluster state machine (runbook 9.2.1: complete cluster failure).

Each call gets `{"step": NAME, "job": {...}}` and returns the updated job, which the
state machine keeps at `$.job`; waiting is the state machine's Wait/Choice loops.

Safety rules, enforced here and not only in IAM:
- nothing is created before the input, the backup, the subnets and the quotas pass
  (lambdas/restore/identify.py);
- the restored cluster is found again by its `hsmdr:restore-id` tag before any
  CreateCluster, so a retried step or a second run of the same restore adopts it;
- the only thing ever deleted is a DEGRADED HSM whose id this execution recorded when
  it created it (`require_created`); on any failure nothing is deleted at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.restore.claims import execution_running
from lambdas.restore.client_config import publish_client_config
from lambdas.restore.identify import identify_restore, single_restore_cluster
from lambdas.restore.job import (
    Job,
    active_ips,
    adopt,
    cluster_record,
    done,
    mark,
    refresh_hsms,
    require_created,
    waiting_on,
)
from lambdas.restore.keys import (
    hsm_permission,
    keys_result,
    not_run,
    other_region,
)
from lambdas.restore.plan import (
    DISCARD,
    DONE,
    WAIT,
    cluster_status,
    next_hsm,
    settled,
)
from lambdas.restore.report import (
    REPORT_PREFIX,
    failure_alert,
    failure_report,
    final_report,
    service_restored_alert,
    success_alert,
)
from lambdas.restore.report_html import render_html
from lambdas.restore.settings import RestoreSettings
from lambdas.restore.tags import RESTORE_ID_KEY, cluster_tags, restore_clusters
from lambdas.shared.console import execution_url
from lambdas.shared.deadlines import passed
from lambdas.shared.env import Env
from lambdas.shared.errors import (
    CloudHsmDrError,
    HsmTimeout,
    InvalidInput,
)
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import CLUSTER_ACTIVE, HSM_ACTIVE, HSM_DEGRADED, Cluster, hsm_status
from lambdas.shared.observability import logger, tracer
from lambdas.shared.report_store import report_location, store_report
from lambdas.shared.settings import VerificationSettings


class RecoveryVerificationFailed(CloudHsmDrError):
    """The restored cluster is not what the plan asked for (API checks)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _gateway(region: str, *, retried: bool = True) -> CloudHsmGateway:
    # CreateCluster and CreateHsm are not retried by the SDK: a retry after a lost
    # response could create a second resource. The state machine retries the whole
    # step instead, and the step first looks for what an earlier try created.
    if retried:
        return CloudHsmGateway.for_region(region)
    return CloudHsmGateway.for_region(region, max_attempts=1)


def _client(service: str, region: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region)


def _lookup_gateway(region: str) -> CloudHsmGateway:
    """For looking up backups in the other regions: a region other than the function's
    own may be the one that is down (the primary, from a DR-region stack), so one
    attempt and short timeouts; the target region gets the retried gateway."""
    from lambdas.shared import cross_region

    if region == os.environ.get("AWS_REGION"):
        return _gateway(region)
    return CloudHsmGateway(cross_region.client("cloudhsmv2", region))


def _cluster(job: Job) -> Cluster:
    return _gateway(job["plan"]["region"]).get_cluster(job["run"]["cluster_id"])


# Steps ---------------------------------------------------------------------------


def identify(event: Mapping[str, Any]) -> Job:
    settings = RestoreSettings.from_env()
    job = identify_restore(
        event,
        settings=settings,
        deployment=VerificationSettings.from_env(),
        default_region=os.environ.get("AWS_REGION") or settings.primary_region,
        gateway_for=_gateway,
        lookup_for=_lookup_gateway,
        client_for=_client,
        holder_running=execution_running,
        now=_now,
    )
    logger.info("restore planned", extra={"plan": job["plan"]})
    return job


def create_cluster(job: Job) -> Job:
    plan, run = job["plan"], job["run"]
    found = _gateway(plan["region"]).describe_clusters()
    existing = single_restore_cluster(
        restore_clusters(found, plan["deployment"], plan["restore_id"])
    )
    if existing is not None:  # an earlier try of this step created it
        adopt(job, existing, "adopted cluster {} that an earlier try of this step created", _now())
        return done(job, "create_cluster")
    cluster = _gateway(plan["region"], retried=False).create_cluster(
        hsm_type=plan["hsm_type"],
        subnet_ids=plan["subnet_ids"],
        source_backup_id=plan["backup"]["backup_id"],
        mode=plan["mode"],
        tags=cluster_tags(
            plan["deployment"],
            plan["restore_id"],
            plan["backup"]["backup_id"],
            plan["source_cluster_id"],
            plan["execution"],
        ),
    )
    run["cluster_id"] = cluster.cluster_id  # recorded before anything else can fail
    run["cluster"] = cluster_record(job, cluster, _now())
    mark(run, "cluster_created", _now())
    logger.info("cluster created", extra={"cluster_id": cluster.cluster_id})
    return done(job, "create_cluster")


def check_cluster(job: Job) -> Job:
    plan, run = job["plan"], job["run"]
    cluster = _gateway(plan["region"]).find_clusters([run["cluster_id"]]).get(run["cluster_id"])
    now = _now()
    if run["cluster"] is None:
        run["cluster"] = cluster_record(job, cluster, now)
    run["cluster"]["status"] = cluster_status(
        cluster, run["cluster_id"], datetime.fromisoformat(run["cluster"]["deadline"]), now
    )
    if cluster is not None and cluster.state == CLUSTER_ACTIVE:
        mark(run, "cluster_active", now)
        # The cluster's own subnet mapping is authoritative; keep the order given.
        mapping = dict(cluster.subnet_mapping)
        plan["zones"] = [z for z in plan["zones"] if z in mapping] + sorted(
            set(mapping) - set(plan["zones"])
        )
        run["cluster"]["security_group"] = cluster.security_group
    return done(job, "check_cluster")


def plan_hsm(event: Mapping[str, Any]) -> Job:
    """Decide the next HSM action of a phase: `first` (service) or `next` (full HA)."""
    job: Job = json.loads(json.dumps(event["job"]))
    phase = event.get("phase")
    if phase not in ("first", "next"):
        raise InvalidInput("phase", f"{phase!r} is not first or next")
    plan, run = job["plan"], job["run"]
    cluster, now = _cluster(job), _now()
    refresh_hsms(run, cluster, now)
    decision = next_hsm(
        cluster,
        target=1 if phase == "first" else plan["hsm_count"],
        zones=plan["zones"],
        created=run["created_hsm_ids"],
        degraded_zones=run["degraded_zones"],
        failures_in_a_row=run["failures_in_a_row"],
        max_attempts=plan["max_hsm_attempts"],
    )
    run["next"] = decision.action
    run["notes"] += [n for n in decision.notes if n not in run["notes"]]
    if decision.action in (WAIT, DISCARD):
        assert decision.hsm_id is not None
        same = (run["hsm"] or {}).get("hsm_id") == decision.hsm_id
        status = hsm_status(cluster, decision.hsm_id)
        run["hsm"] = run["hsm"] if same else waiting_on(plan, decision.hsm_id, status, "wait", now)
    else:
        run["hsm"] = {"zone": decision.zone} if decision.zone else None
    if decision.action == DONE:
        mark(run, "first_hsm_active", now)
        if phase == "next":
            mark(run, "ha_reached", now)
    return done(job, f"plan_{phase}_hsm")


def create_hsm(job: Job) -> Job:
    plan, run = job["plan"], job["run"]
    zone = run["hsm"]["zone"]
    hsm = _gateway(plan["region"], retried=False).create_hsm(run["cluster_id"], zone)
    run["created_hsm_ids"].append(hsm.hsm_id)  # recorded before anything else can fail
    now = _now()
    run["hsms"][hsm.hsm_id] = {"availability_zone": zone, "created_at": now.isoformat()}
    run["hsm"] = waiting_on(plan, hsm.hsm_id, hsm.state, "create", now)
    logger.info("HSM created", extra={"hsm_id": hsm.hsm_id, "zone": zone})
    return done(job, "create_hsm")


def check_hsm(job: Job) -> Job:
    plan, run = job["plan"], job["run"]
    waiting = run["hsm"]
    cluster, now = _cluster(job), _now()
    refresh_hsms(run, cluster, now)
    status = waiting["status"] = hsm_status(cluster, waiting["hsm_id"])
    creating = waiting["purpose"] != "discard"
    if creating and status == HSM_DEGRADED:
        run["failures_in_a_row"] += 1
    elif creating and status == HSM_ACTIVE:
        run["failures_in_a_row"] = 0
        mark(run, "first_hsm_active", now)
    if not settled(status) and passed(waiting["deadline"], now):
        raise HsmTimeout(
            f"HSM {waiting['hsm_id']} is still {status} after {plan['hsm_timeout_minutes']} "
            "minutes (hsm_timeout_minutes)"
        )
    return done(job, "check_hsm")


def discard_hsm(job: Job) -> Job:
    """Delete a DEGRADED HSM this execution created: it never recovers."""
    plan, run = job["plan"], job["run"]
    hsm_id = run["hsm"]["hsm_id"]
    require_created(run, hsm_id)
    _gateway(plan["region"]).delete_hsm(run["cluster_id"], hsm_id)
    now = _now()
    run["removed_hsm_ids"].append(hsm_id)
    record = run["hsms"].setdefault(hsm_id, {})
    record["removed_at"] = now.isoformat()
    run["degraded_zones"].append(record.get("availability_zone") or "")
    run["hsm"] = waiting_on(plan, hsm_id, "DELETE_IN_PROGRESS", "discard", now)
    return done(job, "discard_hsm")


def publish(job: Job) -> Job:
    """Service is back: tell clients where (SSM parameters, trust anchor, one message)."""
    run = job["run"]
    cluster = _cluster(job)
    ips = active_ips(cluster)
    run["published"] = _publish(job, cluster, ips)
    mark(run, "service_restored", _now())
    run["service_alert"] = service_restored_alert(
        job, cluster.cluster_id, ips, cluster.security_group
    )
    return done(job, "publish")


def verify(job: Job) -> Job:
    """What the API can show about the restored cluster. The keys themselves are
    checked by the VerifyKeys state (PKCS#11), when key verification is configured."""
    plan, run = job["plan"], job["run"]
    cluster = _cluster(job)
    source = plan["backup"]
    checks = {
        "cluster ACTIVE": cluster.state == CLUSTER_ACTIVE,
        "restored from the planned backup": cluster.source_backup_id
        in (source["backup_id"], source["backup_arn"]),
        f"HsmType {plan['hsm_type']}": cluster.hsm_type == plan["hsm_type"],
        f"Mode {plan['mode']}": cluster.mode == plan["mode"],
        "an ACTIVE HSM with an IP": bool(active_ips(cluster)),
        "tagged with the restore id": cluster.tags.get(RESTORE_ID_KEY) == plan["restore_id"],
    }
    failed = [name for name, ok in checks.items() if not ok]
    run["verification"] = {
        "checks": checks,
        "summary": "API checks passed" if not failed else f"failed: {', '.join(failed)}",
    }
    if failed:
        raise RecoveryVerificationFailed(
            f"cluster {cluster.cluster_id} failed: {', '.join(failed)} (source backup "
            f"{cluster.source_backup_id or '-'}, {cluster.hsm_type}, {cluster.mode}, "
            f"{cluster.state})"
        )
    mark(run, "verified", _now())
    return done(job, "verify")


def open_key_network(job: Job) -> Job:
    """Let the key verifier reach the restored cluster's HSMs (TCP 2223-2225), or record
    why the check cannot run (lambdas/restore/keys.py)."""
    plan, run = job["plan"], job["run"]
    settings = RestoreSettings.from_env()
    verifier_group = os.environ.get(Env.RESTORE_VERIFIER_SECURITY_GROUP, "")
    # The verifier is in this function's stack, so in its region (main or DR stack).
    verifier_region = os.environ.get("AWS_REGION", settings.primary_region)
    if plan["region"] != verifier_region:
        run["key_network"] = {"status": "UNREACHABLE"}
        run["key_verification"] = other_region(plan["region"], verifier_region)
        return done(job, "open_key_network")
    if not verifier_group:
        run["key_network"] = {"status": "UNREACHABLE"}
        run["key_verification"] = not_run("the verifier's security group is not configured")
        return done(job, "open_key_network")
    cluster = _cluster(job)
    group = cluster.security_group
    ec2 = _client("ec2", plan["region"])
    ec2.create_tags(Resources=[group], Tags=[{"Key": RESTORE_ID_KEY, "Value": plan["restore_id"]}])
    _idempotent(
        lambda: ec2.authorize_security_group_ingress(
            GroupId=group, IpPermissions=[hsm_permission(verifier_group, plan["restore_id"])]
        )
    )
    _idempotent(
        lambda: ec2.authorize_security_group_egress(
            GroupId=verifier_group, IpPermissions=[hsm_permission(group, plan["restore_id"])]
        )
    )
    run["key_network"] = {
        "status": "OPEN",
        "cluster_security_group": group,
        "verifier_security_group": verifier_group,
        "hsm_ips": active_ips(cluster),
    }
    return done(job, "open_key_network")


def record_keys(event: Mapping[str, Any]) -> Job:
    """What the verify-keys function found (or why it could not say)."""
    job: Job = json.loads(json.dumps(event["job"]))
    run = job["run"]
    run["key_verification"] = keys_result(event.get("keys"), event.get("keys_error"))
    if run["key_verification"]["status"] == "SUCCEEDED":
        mark(run, "keys_verified", _now())
    logger.info("keys checked", extra={"key_verification": run["key_verification"]})
    _close_key_network(job)
    return done(job, "record_keys")


def _close_key_network(job: Job) -> None:
    """A DR stack's verifier is let in for the check only, then its rules are revoked:
    no manifest capture runs in that region to need them. (The main stack's stay: the
    daily capture reads the restored cluster through them.) A revoke that fails is
    recorded, not fatal: the check itself is done."""
    from botocore.exceptions import ClientError

    plan, run = job["plan"], job["run"]
    network = run.get("key_network") or {}
    settings = RestoreSettings.from_env()
    if network.get("status") != "OPEN":
        return
    if os.environ.get("AWS_REGION", settings.primary_region) == settings.primary_region:
        return
    ec2 = _client("ec2", plan["region"])
    group, verifier_group = network["cluster_security_group"], network["verifier_security_group"]
    try:
        _tolerating_gone(
            lambda: ec2.revoke_security_group_egress(
                GroupId=verifier_group,
                IpPermissions=[hsm_permission(group, plan["restore_id"])],
            )
        )
        _tolerating_gone(
            lambda: ec2.revoke_security_group_ingress(
                GroupId=group, IpPermissions=[hsm_permission(verifier_group, plan["restore_id"])]
            )
        )
    except ClientError as error:
        network["close_error"] = str(error)
        logger.warning("key network not closed", extra={"key_network": network})
        return
    network["status"] = "CLOSED"


def _tolerating_gone(call: Any) -> None:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "InvalidPermission.NotFound":
            raise


def _idempotent(call: Any) -> None:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "InvalidPermission.Duplicate":
            raise


def report(job: Job) -> dict[str, Any]:
    plan, run = job["plan"], job["run"]
    cluster = _cluster(job)
    ips = active_ips(cluster)
    announced = (run.get("published") or {}).get("hsm_ips") or []
    if announced != ips:  # HSMs added (or replaced) since the service-restored message
        run["published"] = {
            **_publish(job, cluster, ips),
            # An IP announced earlier that no longer serves: clients must be re-pointed.
            "ips_changed_since_service_restored": bool(set(announced) - set(ips)),
        }
    result = final_report(job, cluster, _now())
    result["report_location"] = _store_report(result)
    return {"report": result, "alert": success_alert(result, job, execution_url(plan["execution"]))}


def failure(event: Mapping[str, Any]) -> dict[str, Any]:
    """What failed and what exists now, for the alert and the engineer. Deletes nothing."""
    job = event.get("job") or {}
    plan = job.get("plan") or {}
    clusters: list[Cluster] = []
    problem = None
    if plan:
        try:
            found = _gateway(plan["region"]).describe_clusters()
            clusters = restore_clusters(found, plan["deployment"], plan["restore_id"])
        except Exception as error:  # the alert must go out even if CloudHSM cannot be read
            problem = f"{type(error).__name__}: {error}"
    result = failure_report(job, event.get("error") or {}, clusters, _now(), problem)
    execution = str(event.get("execution") or plan.get("execution") or "")
    result["execution"] = result.get("execution") or execution
    result["report_location"] = _store_report(result)
    alert = failure_alert(result, event.get("input") or {}, execution_url(execution))
    return {"report": result, "alert": alert}


def stopped(event: Mapping[str, Any]) -> dict[str, Any]:
    """EventBridge: a restore was ABORTED or TIMED_OUT, so its failure path never ran.
    Do what it does: delete the DEGRADED HSMs this execution recorded creating (they never
    recover) and nothing else, and page with what exists and how to resume."""
    from lambdas.alerting.alerts import Alert
    from lambdas.alerting.delivery import publish as publish_alert
    from lambdas.shared.executions import last_job, stopped_execution
    from lambdas.shared.settings import AlertTopics

    execution, status = stopped_execution(event)
    execution_input, job = last_job(_client("stepfunctions", execution.split(":")[3]), execution)
    run = (job or {}).get("run") or {}
    discarded: list[str] = []
    if job is not None and run.get("cluster_id"):
        gateway = _gateway(job["plan"]["region"])
        cluster = gateway.find_clusters([run["cluster_id"]]).get(run["cluster_id"])
        for hsm in cluster.hsms if cluster else ():
            if hsm.hsm_id in run["created_hsm_ids"] and hsm.state == HSM_DEGRADED:
                require_created(run, hsm.hsm_id)
                gateway.delete_hsm(run["cluster_id"], hsm.hsm_id)
                discarded.append(hsm.hsm_id)
    error = {
        "Error": f"Execution{status.title().replace('_', '')}",
        "Cause": f"the execution was {status} before it finished",
    }
    result = failure(
        {"job": job or {}, "error": error, "execution": execution, "input": execution_input}
    )
    alert = result["alert"]
    if discarded:
        alert["body"] += (
            "\nDeleted for the stopped execution (DEGRADED HSMs it had created): "
            + ", ".join(discarded)
        )
    topic = VerificationSettings.from_env().alert_topic_arn
    publish_alert(Alert(alert["subject"], alert["body"]), AlertTopics(page=topic))
    logger.warning("restore execution stopped", extra={"execution": execution})
    return {"execution": execution, "status": status, "discarded": discarded, "alert": alert}


def _store_report(result: dict[str, Any]) -> dict[str, Any]:
    """Write the report (JSON and the HTML page, RTO and RPO against the objectives) to
    the reports bucket; where it went, or why it did not, goes into the report's output
    and alert. Never raises: the alert must still go out."""
    try:
        started = str(result.get("started_at") or result.get("failed_at") or _now().isoformat())
        location: dict[str, Any] = report_location(
            REPORT_PREFIX, started, str(result.get("execution") or "")
        )
        document = {**result, "report_location": location}
        rto_minutes, rpo_hours = _objectives(result)
        page = render_html(document, rto_minutes=rto_minutes, rpo_hours=rpo_hours)
        error = store_report(location, json.dumps(document, indent=2, default=str), page)
    except Exception as failure:  # a report that cannot be built is said, not raised
        return {"error": f"{type(failure).__name__}: {failure}"}
    return {**location, "error": error} if error else location


def _objectives(result: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """The RTO (drills.rto_minutes, the deployment's recovery time objective) and the
    source cluster's RPO, when the function knows them."""
    rto_minutes = RestoreSettings.from_env().rto_minutes
    try:
        deployment = VerificationSettings.from_env()
    except Exception:  # the objectives are a comparison, not the report
        return rto_minutes, None
    source = next((c for c in deployment.clusters if c.id == result.get("source_cluster_id")), None)
    return rto_minutes, deployment.rpo_hours_for(source) if source else deployment.rpo_hours


def _publish(job: Job, cluster: Cluster, ips: list[str]) -> dict[str, Any]:
    from lambdas.shared import cross_region

    target = job["plan"]["region"]

    def ssm_for(region: str) -> Any:
        # Only the trust anchor is read elsewhere (the primary region): fail fast there.
        return _client("ssm", region) if region == target else cross_region.client("ssm", region)

    return publish_client_config(
        job["plan"],
        cluster,
        ips,
        settings=RestoreSettings.from_env(),
        ssm_for=ssm_for,
        now=_now(),
    )


STEPS = {
    "create_cluster": create_cluster,
    "check_cluster": check_cluster,
    "create_hsm": create_hsm,
    "check_hsm": check_hsm,
    "discard_hsm": discard_hsm,
    "publish": publish,
    "verify": verify,
    "open_key_network": open_key_network,
    "report": report,
}


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if event.get("detail-type") == "Step Functions Execution Status Change":
        return stopped(event)
    step = event.get("step")
    if step == "identify":
        return identify(event)
    if step == "plan_hsm":
        return plan_hsm(event)
    if step == "failure":
        return failure(event)
    if step == "record_keys":
        return record_keys(event)
    if step not in STEPS:
        raise InvalidInput("step", f"{step!r} is not a step of the restore")
    return STEPS[step](json.loads(json.dumps(event["job"])))
