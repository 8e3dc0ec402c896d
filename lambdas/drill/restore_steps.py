"""Restore the backup into an isolated drill cluster with one HSM, let the key verifier
in, and keep what the key check found."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdas.alerting.workflow_alerts import error_summary
from lambdas.drill import step_support as support
from lambdas.drill.network import Ec2
from lambdas.drill.plan import (
    DRILL_KEY,
    FAILED_STATUS,
    GONE,
    READY_STATUS,
    NotOwnedByThisDrill,
    cluster_status,
    deadline,
    hsm_status,
    next_zone,
    passed,
)
from lambdas.drill.report import (
    ERROR,
    KEY_VERIFICATION_ERROR,
    KEY_VERIFICATION_NOT_CONFIGURED,
    KEY_VERIFICATION_UNREACHABLE,
    WARNING,
    finding,
)
from lambdas.drill.settings import DrillSettings
from lambdas.drill.step_support import Job
from lambdas.shared.errors import (
    HsmCreationFailed,
    HsmTimeout,
)
from lambdas.shared.hsm_attempts import check_attempts
from lambdas.shared.models import (
    HSM_ACTIVE,
    HSM_CREATE_IN_PROGRESS,
    HSM_DELETE_IN_PROGRESS,
)
from lambdas.shared.observability import logger
from lambdas.shared.protected import POSTURE_WARM_STANDBY

# The cluster -----------------------------------------------------------------------------


def create_cluster(job: Job) -> Job:
    plan_, run = job["plan"], job["run"]
    region, execution = plan_["region"], plan_["execution"]
    if plan_.get("standby_cluster_id"):
        return _borrow_standby(job)
    mine = support.tagged(support.gateway_in(region), execution)
    if mine:  # an earlier try of this step created it before its response was lost
        cluster = mine[0]
        plan_["notes"].append(f"adopted {cluster.cluster_id}, tagged with this execution")
    else:
        support.mark(run, "create_requested")
        cluster = support.gateway_in(region, retried=False).create_cluster(
            hsm_type=plan_["hsm_type"],
            subnet_ids=list(plan_["subnets"].values()),
            source_backup_id=plan_["backup"]["backup_id"],
            mode=plan_["mode"],
            tags=plan_["tags"],
        )
    run["cluster"] = support.cluster_record(cluster, region)
    run["cluster_wait"] = {
        "status": "WAITING",
        "deadline": deadline(support.utc_now(), plan_["cluster_timeout_minutes"]),
    }
    logger.info("drill cluster created", extra={"cluster": run["cluster"]})
    return support.done(job, "create_cluster")


def _borrow_standby(job: Job) -> Job:
    """Pilot light or warm standby: the restore a disaster would run starts from the
    region's standby, so the drill does too (its tags checked; nothing is created). The
    clock starts here, as it starts at CreateCluster for a cold drill."""
    plan_, run = job["plan"], job["run"]
    standby = support.owned_cluster(job, plan_["standby_cluster_id"])
    support.mark(run, "create_requested")
    run["cluster"] = support.cluster_record(standby, plan_["region"])
    run["cluster_wait"] = {
        "status": "WAITING",
        "deadline": deadline(support.utc_now(), plan_["cluster_timeout_minutes"]),
    }
    logger.info("drill borrows the standby", extra={"cluster": run["cluster"]})
    return support.done(job, "create_cluster")


def check_cluster(job: Job) -> Job:
    plan_, run = job["plan"], job["run"]
    cluster_id = run["cluster"]["cluster_id"]
    now = support.utc_now()
    cluster = support.gateway_in(plan_["region"]).find_clusters([cluster_id]).get(cluster_id)
    status = cluster_status(cluster, cluster_id, run["cluster_wait"]["deadline"], now)
    run["cluster_wait"]["status"] = status
    if cluster is not None:
        run["cluster"] = support.cluster_record(cluster, plan_["region"])
    if status == READY_STATUS:
        support.mark(run, "cluster_active", now)
    return support.done(job, "check_cluster")


def open_network(job: Job) -> Job:
    """Let the key verifier reach the drill cluster's HSMs (TCP 2223-2225)."""
    settings = DrillSettings.from_env()
    plan_, run = job["plan"], job["run"]
    if not settings.key_verification:
        run["network"] = {"status": "SKIPPED", "note": "key verification is not deployed"}
        return support.done(job, "open_network")
    cluster = support.owned_cluster(job, run["cluster"]["cluster_id"])
    rules = support.network_rules(job, settings, cluster.security_group)
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
        return support.done(job, "open_network")
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
    return support.done(job, "open_network")


# The HSM ---------------------------------------------------------------------------------


def create_hsm(job: Job) -> Job:
    plan_, run = job["plan"], job["run"]
    cluster = support.owned_cluster(job, run["cluster"]["cluster_id"])
    known = {h["hsm_id"] for h in run["hsms"]}
    serving = [h for h in cluster.hsms if h.state in (HSM_ACTIVE, HSM_CREATE_IN_PROGRESS)]
    if plan_.get("posture") == POSTURE_WARM_STANDBY and not known:
        return _use_warm_hsm(job, serving)
    if serving:  # an earlier try of this step created it before its response was lost
        hsm = serving[0]
        if hsm.hsm_id not in known:
            run["hsms"].append(
                support.hsm_record(hsm.hsm_id, hsm.availability_zone, support.utc_now().isoformat())
            )
    else:
        zone = next_zone(plan_["zones"], run["degraded_zones"])
        # The drill's HSMs so far all ended DEGRADED (none stayed ACTIVE): the restore's
        # rule, per zone, so an unsupported AZ does not use up a spare zone's attempts.
        check_attempts(zone, run["degraded_zones"], plan_["max_hsm_attempts"])
        support.mark(run, "hsm_requested")
        creator = support.gateway_in(plan_["region"], retried=False)
        hsm = creator.create_hsm(cluster.cluster_id, zone)
        # Billed from now: recorded before anything else can fail.
        run["hsms"].append(support.hsm_record(hsm.hsm_id, zone, support.utc_now().isoformat()))
        run["attempts"] += 1
    run["hsm"] = {
        "hsm_id": hsm.hsm_id,
        "zone": hsm.availability_zone,
        "purpose": "create",
        "status": hsm.state,
        "deadline": deadline(support.utc_now(), plan_["hsm_timeout_minutes"]),
    }
    logger.info("drill HSM created", extra={"hsm": run["hsm"]})
    return support.done(job, "create_hsm")


def _use_warm_hsm(job: Job, serving: list[Any]) -> Job:
    """A warm standby's HSM already serves: the drill waits on it, creates none, and
    never deletes it (it is not in the drill's own HSMs)."""
    plan_, run = job["plan"], job["run"]
    active = [h for h in serving if h.state == HSM_ACTIVE]
    if not active:
        raise HsmCreationFailed(
            f"warm standby {plan_['standby_cluster_id']} has no ACTIVE HSM any more: the "
            "posture a restore would use is not there (see STANDBY_NO_HSM)"
        )
    hsm = active[0]
    run["hsm"] = {
        "hsm_id": hsm.hsm_id,
        "zone": hsm.availability_zone,
        "purpose": "borrowed",
        "status": hsm.state,
        "deadline": deadline(support.utc_now(), plan_["hsm_timeout_minutes"]),
    }
    return support.done(job, "create_hsm")


def check_hsm(job: Job) -> Job:
    plan_, run = job["plan"], job["run"]
    waiting = run["hsm"]
    now = support.utc_now()
    cluster = support.gateway_in(plan_["region"]).find_clusters([run["cluster"]["cluster_id"]])
    found = cluster.get(run["cluster"]["cluster_id"])
    status = GONE if found is None else hsm_status(found, waiting["hsm_id"])
    waiting["status"] = status
    if status == HSM_ACTIVE:
        support.mark(run, "hsm_active", now)
        run["hsm_ips"] = [
            h.eni_ip for h in (found.hsms if found else ()) if h.hsm_id == waiting["hsm_id"]
        ]
    if status == GONE:
        support.gone(run, waiting["hsm_id"], now)
        if waiting.get("purpose") == "create":
            raise HsmCreationFailed(f"HSM {waiting['hsm_id']} disappeared while being created")
    settled = status in (HSM_ACTIVE, FAILED_STATUS, GONE)
    if not settled and passed(waiting["deadline"], now):
        raise HsmTimeout(
            f"HSM {waiting['hsm_id']} is still {status} after {plan_['hsm_timeout_minutes']} "
            "minutes"
        )
    return support.done(job, "check_hsm")


def discard_hsm(job: Job) -> Job:
    """Delete the drill's DEGRADED HSM: it never recovers; another is created next."""
    plan_, run = job["plan"], job["run"]
    waiting = run["hsm"]
    if waiting["hsm_id"] not in {h["hsm_id"] for h in run["hsms"]}:
        raise NotOwnedByThisDrill(f"refusing to delete HSM {waiting['hsm_id']}: not this drill's")
    cluster_id = run["cluster"]["cluster_id"]
    support.require_owned(job, cluster_id)
    support.gateway_in(plan_["region"]).delete_hsm(cluster_id, waiting["hsm_id"])
    run["degraded_zones"].append(waiting["zone"])
    waiting.update(
        purpose="discard",
        status=HSM_DELETE_IN_PROGRESS,
        deadline=deadline(support.utc_now(), plan_["hsm_timeout_minutes"]),
    )
    return support.done(job, "discard_hsm")


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
                _enable_keys(plan_["key_verification"]),
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
            support.mark(run, "keys_verified")
    return support.done(job, "record_keys")


def _enable_keys(keys: Mapping[str, Any]) -> str:
    """How to get a key check: the config field that deploys a verifier here."""
    field = keys.get("field") or "key_verification"
    if keys["required"]:
        return (
            f"add the {field} config section and deploy (README), or set "
            "drills.require_key_verification: false to accept drills without it"
        )
    return f"add the {field} config section and deploy, for drills that prove the keys"
