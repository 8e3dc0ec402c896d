"""The steps of the DR drill state machine (runbook 9.3: quarterly DR drills).

Each call gets `{"step": NAME, "job": {...}}` and returns the updated job, which the
state machine keeps at `$.job`; waiting is the state machine's Wait/Choice loops.
The drill restores a real backup into an isolated cluster with one HSM, checks its
keys, measures, and always tears the cluster down.

Safety rules, enforced here and not only in IAM:
- nothing is created before `plan` passes (input, backup READY, subnets, quotas, no
  other drill cluster in the region);
- the drill cluster is tagged `hsmdr:drill=<execution id>` at CreateCluster; teardown
  deletes a cluster only if this execution recorded it (or finds it by that tag) AND
  its tags, read again right before each DeleteHsm/DeleteCluster, name this execution;
  a production (protected) cluster is refused whatever its tags say.

An EventBridge rule also sends this function the drill's TIMED_OUT and ABORTED
executions (`stopped`): it starts a teardown-only run of the state machine for each
(lambdas/drill/stop.py) and pages with the drill clusters they left behind.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.alerting.workflow_alerts import error_summary
from lambdas.drill.network import Ec2
from lambdas.drill.plan import (
    DR_COPY,
    DRILL_KEY,
    FAILED_STATUS,
    GONE,
    READY_STATUS,
    DrillRequest,
    NotOwnedByThisDrill,
    TeardownIncomplete,
    check_quota,
    choose_backup,
    cluster_status,
    deadline,
    drill_subnets,
    drill_tags,
    hsm_status,
    network_plan,
    next_zone,
    ownership_problem,
    parse_request,
    passed,
    plan_backup_cleanup,
    plan_teardown,
    zones_of,
)
from lambdas.drill.report import (
    ERROR,
    KEY_VERIFICATION_ERROR,
    KEY_VERIFICATION_NOT_CONFIGURED,
    KEY_VERIFICATION_UNREACHABLE,
    WARNING,
    alert,
    build_report,
    emf_document,
    finding,
    render_markdown,
    stopped_alert,
    to_json,
)
from lambdas.drill.settings import DrillSettings
from lambdas.drill.stop import (
    TEARDOWN_OF,
    execution_to_tear_down,
    is_teardown_run,
    resumable_problem,
    resumed_job,
    state_machine_of,
    teardown_run_name,
)
from lambdas.shared.console import execution_url
from lambdas.shared.env import METRICS_NAMESPACE
from lambdas.shared.errors import (
    CloudHsmDrError,
    CloudHsmInvalidRequest,
    HsmCreationFailed,
    HsmTimeout,
    InvalidInput,
)
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.hsm_attempts import check_attempts
from lambdas.shared.models import (
    BACKUP_READY,
    HSM_ACTIVE,
    HSM_CREATE_IN_PROGRESS,
    HSM_DELETE_IN_PROGRESS,
    Backup,
    Cluster,
)
from lambdas.shared.observability import logger, tracer
from lambdas.shared.protected import ProtectedCluster
from lambdas.shared.settings import VerificationSettings

Job = dict[str, Any]
SERVICE = "dr-drill"  # stacks.names.DR_DRILL: the metrics' service dimension
_LIVE = ("DELETE_IN_PROGRESS", "DELETED")


def _now() -> datetime:
    return datetime.now(UTC)


def _gateway(region: str, *, retried: bool = True) -> CloudHsmGateway:
    # CreateCluster and CreateHsm are not retried by the SDK: a retry after a lost
    # response could create a second resource. The state machine retries the step,
    # and the step first looks for what an earlier try created.
    if retried:
        return CloudHsmGateway.for_region(region)
    return CloudHsmGateway.for_region(region, max_attempts=1)


def _protected() -> dict[str, ProtectedCluster]:
    return {c.id: c for c in VerificationSettings.from_env().clusters}


def _mark(run: dict[str, Any], milestone: str, now: datetime | None = None) -> None:
    run["times"].setdefault(milestone, (now or _now()).isoformat())


def _done(job: Job, step: str) -> Job:
    job["run"]["step"] = step
    return job


# Plan: creates nothing ------------------------------------------------------------------


def plan(event: Mapping[str, Any]) -> Job:
    """Check the input, choose the backup, check subnets and quotas. Creates nothing."""
    settings = DrillSettings.from_env()
    specs = _protected()
    execution = str(event.get("execution") or "")
    if not execution.startswith("arn:"):
        execution = f"manual-{uuid.uuid4()}"  # a tag value no other run shares
    request = parse_request(event.get("input") or {}, settings, specs)
    spec = specs[request.cluster_id]
    found = _backups(request, spec, settings)
    choice = choose_backup(request, spec, found, settings.dr_regions)
    region = choice.region
    subnet_ids = drill_subnets(request, settings, region)
    subnets = Ec2.for_region(region).subnets(subnet_ids)
    zones = zones_of(subnet_ids, subnets, region)
    clusters = _gateway(region).describe_clusters()
    _refuse_other_drills(clusters, settings.deployment_name, region)
    check_quota(
        clusters, region, settings.clusters_per_region_quota, settings.hsms_per_region_quota
    )
    now = _now()
    notes = []
    if request.source != choice.source:
        notes.append(f"backup_id {choice.backup.backup_id} is a {choice.source} backup")
    job: Job = {
        "plan": {
            "execution": execution,
            "deployment": settings.deployment_name,
            "trigger": request.trigger,
            "started_at": now.isoformat(),
            "source_cluster_id": spec.id,
            "source_cluster_region": spec.region,
            "source": choice.source,
            "region": region,
            "subnets": zones,
            "zones": list(zones),
            "subnet_cidrs": [s.cidr for s in subnets if s.subnet_id in subnet_ids],
            "backup": _backup_record(choice.backup, region),
            "hsm_type": choice.hsm_type,
            "mode": choice.mode,
            "tags": drill_tags(
                settings.deployment_name, execution, choice.backup.backup_id, spec.id
            ),
            "poll_seconds": request.poll_seconds,
            "cluster_timeout_minutes": settings.cluster_timeout_minutes,
            "hsm_timeout_minutes": settings.hsm_timeout_minutes,
            "max_hsm_attempts": settings.max_hsm_attempts,
            "teardown_timeout_minutes": settings.teardown_timeout_minutes,
            "key_verification": {
                "configured": settings.key_verification,
                "required": settings.require_key_verification,
            },
            "notes": notes,
        },
        "run": {
            "step": "plan",
            "cluster": None,
            "cluster_wait": None,
            "hsm": None,
            "hsms": [],
            "hsm_ips": [],
            "attempts": 0,
            "degraded_zones": [],
            "network": {"status": "NOT_OPENED"},
            "keys": None,
            "findings": [],
            "error": None,
            "teardown": None,
            "times": {"started": now.isoformat()},
        },
    }
    logger.info("drill planned", extra={"plan": job["plan"]})
    return job


def _backups(
    request: DrillRequest, spec: ProtectedCluster, settings: DrillSettings
) -> dict[str, list[Backup]]:
    if request.backup_id is not None:
        regions = dict.fromkeys([spec.region, *settings.dr_regions])
        return {r: list(_gateway(r).iter_backups(backup_ids=[request.backup_id])) for r in regions}
    if request.source == DR_COPY:
        # Copies carry no ClusterId: list the region's READY backups, match SourceCluster.
        return {r: list(_gateway(r).iter_backups(state=BACKUP_READY)) for r in settings.dr_regions}
    newest = _gateway(spec.region).iter_backups(cluster_ids=[spec.id], state=BACKUP_READY, limit=1)
    return {spec.region: list(newest)}


class DrillBusy(CloudHsmDrError):
    """Another drill cluster of this deployment exists in the region."""


def _refuse_other_drills(clusters: list[Cluster], deployment: str, region: str) -> None:
    others = [
        c
        for c in clusters
        if DRILL_KEY in c.tags
        and c.tags.get("hsmdr:deployment") == deployment
        and c.state not in _LIVE
    ]
    if others:
        other = others[0]
        raise DrillBusy(
            f"drill cluster {other.cluster_id} of execution {other.tags[DRILL_KEY]} still "
            f"exists in {region}: wait for that drill to end; if it is no longer running, "
            "delete the cluster by hand (docs/runbooks/dr-drill.md)"
        )


def _backup_record(backup: Backup, region: str) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value else None

    return {
        "backup_id": backup.backup_id,
        "backup_arn": backup.backup_arn,
        "region": region,
        "state": backup.state,
        "create_timestamp": iso(backup.create_timestamp),
        "copy_timestamp": iso(backup.copy_timestamp),
        "hsm_type": backup.hsm_type,
        "mode": backup.mode,
        "is_copy": backup.is_copy,
        "source_backup": backup.source_backup or None,
        "source_region": backup.source_region or None,
    }


# The cluster -----------------------------------------------------------------------------


def create_cluster(job: Job) -> Job:
    plan_, run = job["plan"], job["run"]
    region, execution = plan_["region"], plan_["execution"]
    mine = _tagged(_gateway(region), execution)
    if mine:  # an earlier try of this step created it before its response was lost
        cluster = mine[0]
        plan_["notes"].append(f"adopted {cluster.cluster_id}, tagged with this execution")
    else:
        _mark(run, "create_requested")
        cluster = _gateway(region, retried=False).create_cluster(
            hsm_type=plan_["hsm_type"],
            subnet_ids=list(plan_["subnets"].values()),
            source_backup_id=plan_["backup"]["backup_id"],
            mode=plan_["mode"],
            tags=plan_["tags"],
        )
    run["cluster"] = _cluster_record(cluster, region)
    run["cluster_wait"] = {
        "status": "WAITING",
        "deadline": deadline(_now(), plan_["cluster_timeout_minutes"]),
    }
    logger.info("drill cluster created", extra={"cluster": run["cluster"]})
    return _done(job, "create_cluster")


def check_cluster(job: Job) -> Job:
    plan_, run = job["plan"], job["run"]
    cluster_id = run["cluster"]["cluster_id"]
    now = _now()
    cluster = _gateway(plan_["region"]).find_clusters([cluster_id]).get(cluster_id)
    status = cluster_status(cluster, cluster_id, run["cluster_wait"]["deadline"], now)
    run["cluster_wait"]["status"] = status
    if cluster is not None:
        run["cluster"] = _cluster_record(cluster, plan_["region"])
    if status == READY_STATUS:
        _mark(run, "cluster_active", now)
    return _done(job, "check_cluster")


def open_network(job: Job) -> Job:
    """Let the key verifier reach the drill cluster's HSMs (TCP 2223-2225)."""
    settings = DrillSettings.from_env()
    plan_, run = job["plan"], job["run"]
    if not settings.key_verification:
        run["network"] = {"status": "SKIPPED", "note": "key verification is not deployed"}
        return _done(job, "open_network")
    cluster = _owned_cluster(job, run["cluster"]["cluster_id"])
    rules = _network(job, settings, cluster.security_group)
    if rules.problem:
        required = plan_["key_verification"]["required"]
        run["network"] = {"status": "UNREACHABLE", "problem": rules.problem}
        run["findings"].append(
            finding(
                KEY_VERIFICATION_UNREACHABLE,
                rules.problem,
                "set drills.verifier_cidrs, or run the drill with source primary",
                ERROR if required else WARNING,
            )
        )
        return _done(job, "open_network")
    assert rules.ingress is not None and rules.egress is not None
    region = plan_["region"]
    drill_ec2 = Ec2.for_region(region)
    drill_ec2.tag_group(cluster.security_group, {DRILL_KEY: plan_["execution"]})
    drill_ec2.authorize_ingress(cluster.security_group, rules.ingress)
    Ec2.for_region(settings.primary_region).authorize_egress(
        settings.verifier_security_group, rules.egress
    )
    run["network"] = {
        "status": "OPEN",
        "cluster_security_group": cluster.security_group,
        "verifier_security_group": settings.verifier_security_group,
    }
    return _done(job, "open_network")


def _network(job: Job, settings: DrillSettings, drill_group: str) -> Any:
    plan_ = job["plan"]
    return network_plan(
        drill_region=plan_["region"],
        verifier_region=settings.primary_region,
        verifier_group=settings.verifier_security_group,
        drill_group=drill_group,
        verifier_cidrs=settings.verifier_cidrs,
        drill_subnet_cidrs=plan_["subnet_cidrs"],
        execution_name=plan_["execution"].rsplit(":", 1)[-1],
    )


# The HSM ---------------------------------------------------------------------------------


def create_hsm(job: Job) -> Job:
    plan_, run = job["plan"], job["run"]
    cluster = _owned_cluster(job, run["cluster"]["cluster_id"])
    known = {h["hsm_id"] for h in run["hsms"]}
    serving = [h for h in cluster.hsms if h.state in (HSM_ACTIVE, HSM_CREATE_IN_PROGRESS)]
    if serving:  # an earlier try of this step created it before its response was lost
        hsm = serving[0]
        if hsm.hsm_id not in known:
            run["hsms"].append(_hsm_record(hsm.hsm_id, hsm.availability_zone, _now().isoformat()))
    else:
        zone = next_zone(plan_["zones"], run["degraded_zones"])
        # The drill's HSMs so far all ended DEGRADED (none stayed ACTIVE): the restore's
        # rule, per zone, so an unsupported AZ does not use up a spare zone's attempts.
        check_attempts(zone, run["degraded_zones"], plan_["max_hsm_attempts"])
        _mark(run, "hsm_requested")
        hsm = _gateway(plan_["region"], retried=False).create_hsm(cluster.cluster_id, zone)
        # Billed from now: recorded before anything else can fail.
        run["hsms"].append(_hsm_record(hsm.hsm_id, zone, _now().isoformat()))
        run["attempts"] += 1
    run["hsm"] = {
        "hsm_id": hsm.hsm_id,
        "zone": hsm.availability_zone,
        "purpose": "create",
        "status": hsm.state,
        "deadline": deadline(_now(), plan_["hsm_timeout_minutes"]),
    }
    logger.info("drill HSM created", extra={"hsm": run["hsm"]})
    return _done(job, "create_hsm")


def check_hsm(job: Job) -> Job:
    plan_, run = job["plan"], job["run"]
    waiting = run["hsm"]
    now = _now()
    cluster = _gateway(plan_["region"]).find_clusters([run["cluster"]["cluster_id"]])
    found = cluster.get(run["cluster"]["cluster_id"])
    status = GONE if found is None else hsm_status(found, waiting["hsm_id"])
    waiting["status"] = status
    if status == HSM_ACTIVE:
        _mark(run, "hsm_active", now)
        run["hsm_ips"] = [
            h.eni_ip for h in (found.hsms if found else ()) if h.hsm_id == waiting["hsm_id"]
        ]
    if status == GONE:
        _gone(run, waiting["hsm_id"], now)
        if waiting.get("purpose") == "create":
            raise HsmCreationFailed(f"HSM {waiting['hsm_id']} disappeared while being created")
    settled = status in (HSM_ACTIVE, FAILED_STATUS, GONE)
    if not settled and passed(waiting["deadline"], now):
        raise HsmTimeout(
            f"HSM {waiting['hsm_id']} is still {status} after {plan_['hsm_timeout_minutes']} "
            "minutes"
        )
    return _done(job, "check_hsm")


def discard_hsm(job: Job) -> Job:
    """Delete the drill's DEGRADED HSM: it never recovers; another is created next."""
    plan_, run = job["plan"], job["run"]
    waiting = run["hsm"]
    if waiting["hsm_id"] not in {h["hsm_id"] for h in run["hsms"]}:
        raise NotOwnedByThisDrill(f"refusing to delete HSM {waiting['hsm_id']}: not this drill's")
    cluster_id = run["cluster"]["cluster_id"]
    _require_owned(job, cluster_id)
    _gateway(plan_["region"]).delete_hsm(cluster_id, waiting["hsm_id"])
    run["degraded_zones"].append(waiting["zone"])
    waiting.update(
        purpose="discard",
        status=HSM_DELETE_IN_PROGRESS,
        deadline=deadline(_now(), plan_["hsm_timeout_minutes"]),
    )
    return _done(job, "discard_hsm")


# Keys ------------------------------------------------------------------------------------


def record_keys(event: Mapping[str, Any]) -> Job:
    """What the verify-keys function found (or why it could not say)."""
    job: Job = json.loads(json.dumps(event["job"]))
    plan_, run = job["plan"], job["run"]
    required = plan_["key_verification"]["required"]
    keys, failure = event.get("keys"), event.get("keys_error")
    if not plan_["key_verification"]["configured"]:
        run["findings"].append(
            finding(
                KEY_VERIFICATION_NOT_CONFIGURED,
                "key verification is not configured, so the drill could not prove the keys "
                "came back: only the cluster and its HSM were restored",
                "add the key_verification config section and deploy (README), or set "
                "drills.require_key_verification: false to accept drills without it",
                ERROR if required else WARNING,
            )
        )
    elif run["network"].get("status") == "UNREACHABLE":
        pass  # the finding was recorded when the network could not be opened
    elif failure is not None:
        name, message = error_summary(failure)
        run["findings"].append(
            finding(
                KEY_VERIFICATION_ERROR,
                f"the verify-keys function failed: {name}: {message}",
                "open the verify-keys function's log group; check the key manifest exists "
                "for the backup's time (hsmdr keys manifest)",
            )
        )
    elif isinstance(keys, Mapping):
        run["keys"] = {k: v for k, v in keys.items() if k != "notes"}
        run["findings"].extend(keys.get("findings") or [])
        if keys.get("status") == "SUCCEEDED":
            _mark(run, "keys_verified")
    return _done(job, "record_keys")


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
    now = _now()
    state = run["teardown"] or {}  # a teardown-only run brings what was already done
    state.setdefault("deadline", deadline(now, plan_["teardown_timeout_minutes"]))
    for key in ("actions", "left", "owned"):
        state.setdefault(key, [])
    run["teardown"] = state
    _mark(run, "teardown_started", now)
    region, execution = plan_["region"], plan_["execution"]
    gateway = _gateway(region)
    recorded = [run["cluster"]["cluster_id"]] if run.get("cluster") else []
    tagged = [c.cluster_id for c in _tagged(gateway, execution)]
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
        _mark(run, "cluster_gone", now)
        if settings.delete_drill_backups:
            remaining += _delete_drill_backups(job, gateway, state, now)
        else:
            _keep_drill_backups(job, gateway, state)
    state["remaining"] = remaining
    state["done"] = not remaining
    if state["done"]:
        _mark(run, "teardown_done", now)
    elif passed(state["deadline"], now):
        raise TeardownIncomplete(
            f"after {plan_['teardown_timeout_minutes']} minutes: {'; '.join(remaining)}"
        )
    return _done(job, "teardown")


def _tear_down_cluster(
    job: Job, gateway: CloudHsmGateway, cluster_id: str, state: dict[str, Any], now: datetime
) -> list[str]:
    run = job["run"]
    cluster = gateway.find_clusters([cluster_id]).get(cluster_id)
    hsms_now = {h.hsm_id for h in cluster.hsms} if cluster else set()
    for record in run["hsms"]:
        if record["hsm_id"] not in hsms_now:
            _gone(run, record["hsm_id"], now)
    decision = plan_teardown(cluster)
    if decision.gone:
        return []
    for hsm_id in decision.delete_hsms:
        _require_owned(job, cluster_id, gateway)  # tags read again right before each delete
        gateway.delete_hsm(cluster_id, hsm_id)
        state["actions"].append(f"deleted HSM {hsm_id} of drill cluster {cluster_id}")
        if hsm_id not in {h["hsm_id"] for h in run["hsms"]}:
            run["hsms"].append(_hsm_record(hsm_id, "", None))
    if decision.delete_cluster:
        _require_owned(job, cluster_id, gateway)
        try:
            gateway.delete_cluster(cluster_id)
        except CloudHsmInvalidRequest as error:  # e.g. an HSM appeared meanwhile: next round
            return [f"cluster {cluster_id} not deleted yet: {error}"]
        state["actions"].append(f"deleted drill cluster {cluster_id}")
    if cluster_id not in state["owned"]:
        state["owned"].append(cluster_id)
    return list(decision.waiting)


def _delete_drill_backups(
    job: Job, gateway: CloudHsmGateway, state: dict[str, Any], now: datetime
) -> list[str]:
    """CloudHSM backs the drill cluster up when its HSM is removed, and never deletes a
    cluster's last backup: delete those backups (restorable for 7 days)."""
    run, execution = job["run"], job["plan"]["execution"]
    owned = [c for c in state["owned"] if c not in _protected()]
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
    owned = [c for c in state["owned"] if c not in _protected()]
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
    rules = _network(job, settings, group)
    if rules.egress is not None:
        Ec2.for_region(settings.primary_region).revoke_egress(
            settings.verifier_security_group, rules.egress
        )
        state["actions"].append(
            f"revoked the verifier's egress rule to the drill cluster ({group})"
        )
    state["network_closed"] = True


# Report ----------------------------------------------------------------------------------


def report(event: Mapping[str, Any]) -> dict[str, Any]:
    """Measure, write the report (JSON and Markdown) to S3, emit the metrics, and
    prepare the notification. Runs after teardown, whatever happened before."""
    job: Job = json.loads(json.dumps(event["job"]))
    settings = DrillSettings.from_env()
    run = job["run"]
    state = run.get("teardown") or {}
    if event.get("teardown_error"):
        name, message = error_summary(event["teardown_error"])
        state["done"] = False
        state["remaining"] = [*(state.get("remaining") or []), f"{name}: {message}"]
    state["still_there"] = still_there(job, settings)
    run["teardown"] = state
    now = _now()
    document = build_report(
        job,
        now,
        hsm_hour_usd=settings.hsm_hour_usd,
        rto_minutes=settings.rto_minutes,
        bucket=settings.report_bucket,
    )
    _store(settings, document)
    print(json.dumps(emf_document(document, namespace=METRICS_NAMESPACE, service=SERVICE)))
    document["alert"] = alert(document, execution_url(job["plan"]["execution"]))
    logger.info("drill report", extra={"status": document["status"], "error": document["error"]})
    return document


def still_there(job: Job, settings: DrillSettings) -> list[str]:
    """What the drill made that exists now, read from CloudHSM and EC2: its clusters
    (recorded or tagged with this execution) and their HSMs, and the verifier's egress
    rule. A read that fails is said as such, never taken for "gone"."""
    plan_, run = job["plan"], job["run"]
    region, execution = plan_["region"], plan_["execution"]
    found: list[str] = []
    try:
        gateway = _gateway(region)
        recorded = [run["cluster"]["cluster_id"]] if run.get("cluster") else []
        tagged = [c.cluster_id for c in _tagged(gateway, execution)]
        ids = list(dict.fromkeys([*recorded, *tagged]))
        clusters = gateway.find_clusters(ids) if ids else {}
        for cluster_id in ids:
            cluster = clusters.get(cluster_id)
            if cluster is None or cluster.state == "DELETED":
                continue
            found.append(f"drill cluster {cluster_id} ({cluster.state}) in {region}")
            found += [
                f"HSM {h.hsm_id} ({h.state}) of drill cluster {cluster_id}"
                for h in cluster.hsms
                if h.state != "DELETED"
            ]
    except CloudHsmDrError as error:
        found.append(f"the drill clusters in {region} could not be read: {error}")
    group = (run.get("cluster") or {}).get("security_group")
    if settings.key_verification and group:
        rules = _network(job, settings, group)
        try:
            if rules.egress is not None and Ec2.for_region(settings.primary_region).egress_present(
                settings.verifier_security_group, rules.egress
            ):
                found.append(
                    f"the verifier's egress rule to the drill cluster's group {group} "
                    f"(security group {settings.verifier_security_group})"
                )
        except Exception as error:  # the report must still be written
            found.append(f"the verifier's egress rule could not be read: {type(error).__name__}")
    return found


def _store(settings: DrillSettings, document: Mapping[str, Any]) -> None:
    import boto3

    keys = document["report"]
    s3 = boto3.client("s3", region_name=settings.primary_region)
    s3.put_object(
        Bucket=settings.report_bucket,
        Key=keys["json_key"],
        Body=to_json(document).encode(),
        ContentType="application/json",
    )
    s3.put_object(
        Bucket=settings.report_bucket,
        Key=keys["markdown_key"],
        Body=render_markdown(document).encode(),
        ContentType="text/markdown; charset=utf-8",
    )


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
        for c in _tagged(_gateway(region), owner)
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


# Helpers -----------------------------------------------------------------------------------


def _tagged(gateway: CloudHsmGateway, execution: str) -> list[Cluster]:
    return [
        c
        for c in gateway.describe_clusters()
        if c.tags.get(DRILL_KEY) == execution and c.state not in _LIVE
    ]


def _owned_cluster(job: Job, cluster_id: str) -> Cluster:
    cluster = _gateway(job["plan"]["region"]).find_clusters([cluster_id]).get(cluster_id)
    problem = ownership_problem(
        cluster_id, cluster.tags if cluster else None, job["plan"]["execution"], _protected()
    )
    if problem or cluster is None:
        raise NotOwnedByThisDrill(problem or f"drill cluster {cluster_id} is gone")
    return cluster


def _require_owned(job: Job, cluster_id: str, gateway: CloudHsmGateway | None = None) -> None:
    """The cluster's tags, read now, must name this execution; never a production one."""
    gateway = gateway or _gateway(job["plan"]["region"])
    tags = gateway.list_tags(cluster_id)
    problem = ownership_problem(cluster_id, tags, job["plan"]["execution"], _protected())
    if problem:
        raise NotOwnedByThisDrill(f"refusing to delete anything in {cluster_id}: {problem}")


def _cluster_record(cluster: Cluster, region: str) -> dict[str, Any]:
    return {
        "cluster_id": cluster.cluster_id,
        "region": region,
        "state": cluster.state,
        "security_group": cluster.security_group or None,
        "vpc_id": cluster.vpc_id or None,
    }


def _hsm_record(hsm_id: str, zone: str, created_at: str | None) -> dict[str, Any]:
    """An HSM of the drill, billed from `created_at` (CreateHsm) until seen gone."""
    return {"hsm_id": hsm_id, "zone": zone, "created_at": created_at, "gone_at": None}


def _gone(run: dict[str, Any], hsm_id: str, now: datetime) -> None:
    for record in run["hsms"]:
        if record["hsm_id"] == hsm_id and not record.get("gone_at"):
            record["gone_at"] = now.isoformat()


STEPS = {
    "create_cluster": create_cluster,
    "check_cluster": check_cluster,
    "open_network": open_network,
    "create_hsm": create_hsm,
    "check_hsm": check_hsm,
    "discard_hsm": discard_hsm,
}
EVENT_STEPS = {
    "plan": plan,
    "resume_teardown": resume_teardown,
    "record_keys": record_keys,
    "teardown": teardown,
    "report": report,
}


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if event.get("detail-type") == "Step Functions Execution Status Change":
        return stopped(event)
    step = event.get("step")
    if step in EVENT_STEPS:
        return EVENT_STEPS[step](event)
    if step not in STEPS:
        raise InvalidInput("step", f"{step!r} is not a step of the DR drill")
    return STEPS[step](json.loads(json.dumps(event["job"])))
