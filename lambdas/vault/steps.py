"""The vault refresh state machine's steps (stacks/constructs/vault/workflow.py): the AWS
calls behind the decisions of plan.py. The job travels at `$.job`.

Deleting code proves ownership first: an HSM is deleted only when the cluster's tags,
read again right before, say it is the vault cluster this execution created, and the
HSM is the one the execution recorded creating; a cluster is deleted only on the same
proof and with no HSM left.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lambdas.shared.copies import GOLDEN_KEY, SOURCE_CLUSTER_KEY
from lambdas.shared.deadlines import deadline, passed
from lambdas.shared.errors import CloudHsmDrError
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.golden import GoldenAction, decide_golden
from lambdas.shared.models import CLUSTER_ACTIVE, GONE, HSM_ACTIVE, Backup, hsm_status
from lambdas.vault.keys import capture_outcome, capture_permission
from lambdas.vault.plan import (
    REFRESH_KEY,
    REMOVE,
    SOURCE_CREATED_KEY,
    NotOurVaultCluster,
    VaultRefusal,
    VaultTimeout,
    backup_tags,
    cluster_tags,
    is_this_refresh_cluster,
    is_vault_resource,
    missing_copies,
    next_hsm_action,
    plan_prune,
    plan_refreshes,
    vault_backups,
)
from lambdas.vault.settings import VAULT_VERIFIER_SECURITY_GROUP, VaultSettings

GatewayFor = Callable[[str], CloudHsmGateway]
CLUSTER_IN_TRANSIT = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "MODIFY_IN_PROGRESS")


def refresh_id_of(execution: str) -> str:
    """The execution's name: the last part of its ARN."""
    return execution.rsplit(":", 1)[-1]


def plan(
    event: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, now: datetime
) -> dict[str, Any]:
    gateway = gateway_for(settings.region)
    shared = list(gateway.iter_shared_backups())
    owned = list(gateway.iter_backups())
    refreshes = plan_refreshes(
        shared, owned, deployment=settings.deployment_name, cluster_ids=settings.cluster_ids
    )
    return {
        "plan": {
            "poll_seconds": settings.poll_seconds,
            "refresh_id": refresh_id_of(str(event.get("execution", "manual"))),
        },
        "shared_seen": len(shared),
        "refreshes": [r.to_dict() for r in refreshes],
    }


def create_cluster(
    job: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, now: datetime
) -> dict[str, Any]:
    refresh, plan_ = job["refresh"], job["plan"]
    gateway = gateway_for(settings.region)
    shared = _shared_backup(gateway, refresh["shared_arn"], refresh["shared_id"])
    cluster = gateway.create_cluster(
        hsm_type=refresh["hsm_type"],
        subnet_ids=settings.subnet_ids,
        source_backup_id=refresh["shared_arn"],
        mode=refresh["mode"],
        tags=cluster_tags(settings.deployment_name, shared, plan_["refresh_id"]),
    )
    run = {
        "cluster_id": cluster.cluster_id,
        "cluster": {"status": cluster.state},
        "cluster_deadline": deadline(now, settings.cluster_timeout_minutes),
        "hsm_id": None,
        "hsm": {"status": None},
        "attempts": 0,
        "was_active": False,
        "next": None,
    }
    return {"plan": plan_, "refresh": refresh, "run": run}


def _shared_backup(gateway: CloudHsmGateway, arn: str, backup_id: str) -> Backup:
    """The shared backup as the vault sees it now (it may have been unshared since)."""
    for backup in gateway.iter_shared_backups():
        if backup.backup_arn == arn or backup.backup_id == backup_id:
            return backup
    raise VaultRefusal(f"{arn} is no longer shared with this account")


def check_cluster(
    job: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, now: datetime
) -> dict[str, Any]:
    run = job["run"]
    cluster = gateway_for(settings.region).get_cluster(run["cluster_id"])
    run["cluster"] = {"status": cluster.state}
    if cluster.state == CLUSTER_ACTIVE:
        return job
    if cluster.state not in CLUSTER_IN_TRANSIT:
        raise VaultRefusal(f"vault cluster {cluster.cluster_id} is {cluster.state}, not ACTIVE")
    if passed(run["cluster_deadline"], now):
        raise VaultTimeout(
            f"vault cluster {cluster.cluster_id} not ACTIVE within "
            f"{settings.cluster_timeout_minutes} minutes"
        )
    return job


def plan_hsm(job: dict[str, Any], settings: VaultSettings, **_: Any) -> dict[str, Any]:
    run = job["run"]
    run["next"] = next_hsm_action(
        hsm_id=run["hsm_id"],
        status=run["hsm"]["status"],
        was_active=run["was_active"],
        attempts=run["attempts"],
        max_attempts=settings.max_hsm_attempts,
    )
    return job


def create_hsm(
    job: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, now: datetime
) -> dict[str, Any]:
    run = job["run"]
    gateway = gateway_for(settings.region)
    _prove_ours(gateway, settings, job)
    cluster = gateway.get_cluster(run["cluster_id"])
    zones = sorted(cluster.subnet_mapping)
    if not zones:
        raise VaultRefusal(f"vault cluster {cluster.cluster_id} has no subnet")
    zone = zones[run["attempts"] % len(zones)]  # another zone after a DEGRADED HSM
    created = gateway.create_hsm(cluster.cluster_id, zone)
    run.update(
        hsm_id=created.hsm_id,
        hsm={"status": created.state, "zone": zone},
        attempts=run["attempts"] + 1,
        hsm_deadline=deadline(now, settings.hsm_timeout_minutes),
        hsm_created_at=now.isoformat(),
    )
    return job


def check_hsm(
    job: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, now: datetime
) -> dict[str, Any]:
    run = job["run"]
    cluster = gateway_for(settings.region).get_cluster(run["cluster_id"])
    status = hsm_status(cluster, run["hsm_id"])
    run["hsm"] = {**run["hsm"], "status": status}
    if status == HSM_ACTIVE:
        run["was_active"] = True
    elif status == GONE and run.get("removed_at") and not run.get("hsm_gone_at"):
        run["hsm_gone_at"] = now.isoformat()  # its billed life ends: the refresh's record
    elif status != GONE and passed(run["hsm_deadline"], now):
        raise VaultTimeout(
            f"HSM {run['hsm_id']} still {status} after {settings.hsm_timeout_minutes} minutes"
        )
    return job


def delete_hsm(
    job: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, now: datetime
) -> dict[str, Any]:
    """Discard a DEGRADED HSM, or remove the ACTIVE one (that makes the vault backup)."""
    run = job["run"]
    gateway = gateway_for(settings.region)
    _delete_recorded_hsm(gateway, settings, job)
    run["hsm"] = {**run["hsm"], "status": "DELETE_IN_PROGRESS"}
    run["hsm_deadline"] = deadline(now, settings.hsm_timeout_minutes)
    if run["next"] == REMOVE:
        run["removed_at"] = now.isoformat()
    return job


def tag_backup(
    job: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, now: datetime
) -> dict[str, Any]:
    """The newest backup of the vault cluster, once READY, tagged as the vault's."""
    run, refresh = job["run"], job["refresh"]
    gateway = gateway_for(settings.region)
    newest = next(gateway.iter_backups(cluster_ids=[run["cluster_id"]], limit=1), None)
    if newest is None or newest.state != "READY":
        run["backup"] = {"status": "WAIT", "backup_id": newest.backup_id if newest else None}
        if passed(
            run.setdefault("backup_deadline", deadline(now, settings.hsm_timeout_minutes)), now
        ):
            raise VaultTimeout(f"no READY backup of vault cluster {run['cluster_id']} in time")
        return job
    if newest.cluster_id != run["cluster_id"]:
        raise NotOurVaultCluster(f"{newest.backup_id} is not a backup of {run['cluster_id']}")
    gateway.tag_resource(
        newest.backup_id,
        backup_tags(
            settings.deployment_name,
            refresh["source_cluster"],
            refresh["shared_arn"],
            refresh.get("shared_created", ""),
        ),
    )
    run["backup"] = {"status": "READY", "backup_id": newest.backup_id}
    return job


def finish_cluster(
    job: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, **_: Any
) -> dict[str, Any]:
    run = job["run"]
    if settings.vault_cluster != "delete":
        run["cluster_kept"] = True
        return job
    gateway = gateway_for(settings.region)
    _prove_ours(gateway, settings, job)
    cluster = gateway.get_cluster(run["cluster_id"])
    if cluster.hsms:
        raise VaultRefusal(f"vault cluster {cluster.cluster_id} still holds an HSM: not deleted")
    gateway.delete_cluster(cluster.cluster_id)
    run["cluster_kept"] = False
    return job


def open_capture_network(
    job: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, **_: Any
) -> dict[str, Any]:
    """Let the vault's key verifier reach this refresh's ACTIVE HSM (lambdas/vault/keys.py):
    the cluster's tags re-read first; its security group (CloudHSM's) tagged with the
    refresh id, which IAM requires before ingress; egress from the verifier's group."""
    run, refresh_id = job["run"], job["plan"]["refresh_id"]
    verifier_group = os.environ.get(VAULT_VERIFIER_SECURITY_GROUP, "")
    if not verifier_group:
        raise VaultRefusal(f"{VAULT_VERIFIER_SECURITY_GROUP} is not set: no verifier to let in")
    gateway = gateway_for(settings.region)
    _prove_ours(gateway, settings, job)
    cluster = gateway.get_cluster(run["cluster_id"])
    group = cluster.security_group
    if not group:
        raise VaultRefusal(f"vault cluster {cluster.cluster_id} has no security group")
    ec2 = _ec2(settings.region)
    ec2.create_tags(Resources=[group], Tags=[{"Key": REFRESH_KEY, "Value": refresh_id}])
    # Recorded before the rules: whatever happens next, RecordCapture or Cleanup revokes.
    run["capture_network"] = {
        "status": "OPENING",
        "refresh_id": refresh_id,
        "cluster_security_group": group,
        "verifier_security_group": verifier_group,
        "hsm_ips": sorted(h.eni_ip for h in cluster.hsms if h.state == HSM_ACTIVE and h.eni_ip),
    }
    _ec2_idempotent(
        lambda: ec2.authorize_security_group_ingress(
            GroupId=group, IpPermissions=[capture_permission(verifier_group, refresh_id)]
        ),
        "InvalidPermission.Duplicate",
    )
    _ec2_idempotent(
        lambda: ec2.authorize_security_group_egress(
            GroupId=verifier_group, IpPermissions=[capture_permission(group, refresh_id)]
        ),
        "InvalidPermission.Duplicate",
    )
    run["capture_network"]["status"] = "OPEN"
    return job


def record_capture(
    event: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, now: datetime
) -> dict[str, Any]:
    """The capture's outcome in `run.keys` (CAPTURED, CHANGED or FAILED), the verifier's
    rules revoked. Raises nothing the refresh should stop for: the HSM is removed next."""
    job: dict[str, Any] = json.loads(json.dumps(event["job"]))
    run = job["run"]
    run["keys"] = capture_outcome(event.get("capture"), event.get("capture_error"))
    run["keys"]["captured_at"] = now.isoformat()
    close_capture_network(run, settings)
    return job


def close_capture_network(run: dict[str, Any], settings: VaultSettings) -> None:
    """Revoke the two rules OpenCaptureNetwork added, if it added any; a revoke that fails
    is recorded in `run.capture_network.close_error`, not raised."""
    from botocore.exceptions import BotoCoreError, ClientError

    network = run.get("capture_network") or {}
    if network.get("status") not in ("OPENING", "OPEN"):
        return
    group, verifier = network["cluster_security_group"], network["verifier_security_group"]
    refresh_id = network.get("refresh_id") or ""
    ec2 = _ec2(settings.region)
    try:
        for call in (
            lambda: ec2.revoke_security_group_egress(
                GroupId=verifier, IpPermissions=[capture_permission(group, refresh_id)]
            ),
            lambda: ec2.revoke_security_group_ingress(
                GroupId=group, IpPermissions=[capture_permission(verifier, refresh_id)]
            ),
        ):
            _ec2_idempotent(call, "InvalidPermission.NotFound")
    except (BotoCoreError, ClientError) as error:
        network["close_error"] = str(error)
        return
    network["status"] = "CLOSED"


def _ec2(region: str) -> Any:
    import boto3

    return boto3.client("ec2", region_name=region)


def _ec2_idempotent(call: Callable[[], Any], tolerated: str) -> None:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != tolerated:
            raise


def cleanup(
    job: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, **_: Any
) -> dict[str, Any]:
    """After any failure: revoke the capture's rules if they are still there, delete the
    HSM this execution created, if it is still there. Never raises: what it could not do
    is in its result, and the execution fails."""
    run = job.get("run") or {}
    try:
        close_capture_network(run, settings)
    except Exception as error:  # the HSM's deletion must still be tried
        run.setdefault("capture_network", {})["close_error"] = str(error)
    if not run.get("hsm_id"):
        return {"deleted_hsm": None, "note": "this refresh created no HSM that still exists"}
    try:
        gateway = gateway_for(settings.region)
        status = hsm_status(gateway.get_cluster(run["cluster_id"]), run["hsm_id"])
        if status in (GONE, "DELETE_IN_PROGRESS"):
            return {"deleted_hsm": None, "note": f"HSM {run['hsm_id']} is already {status}"}
        _delete_recorded_hsm(gateway, settings, job)
        return {"deleted_hsm": run["hsm_id"], "note": "deleted the HSM this refresh created"}
    except (CloudHsmDrError, VaultRefusal) as error:
        return {
            "deleted_hsm": None,
            "note": f"could not delete HSM {run['hsm_id']} of {run.get('cluster_id')}: {error}; "
            "the verification reports VAULT_HOLDS_HSM until someone does",
        }


def _prove_ours(gateway: CloudHsmGateway, settings: VaultSettings, job: dict[str, Any]) -> None:
    cluster_id = job["run"]["cluster_id"]
    tags = gateway.list_tags(cluster_id)
    if not is_this_refresh_cluster(tags, settings.deployment_name, job["plan"]["refresh_id"]):
        raise NotOurVaultCluster(
            f"{cluster_id}: its tags no longer say it is the vault cluster of this refresh "
            f"({job['plan']['refresh_id']}): nothing deleted"
        )


def _delete_recorded_hsm(
    gateway: CloudHsmGateway, settings: VaultSettings, job: dict[str, Any]
) -> None:
    run = job["run"]
    _prove_ours(gateway, settings, job)
    cluster = gateway.get_cluster(run["cluster_id"])
    if all(h.hsm_id != run["hsm_id"] for h in cluster.hsms):
        return  # already gone
    gateway.delete_hsm(cluster.cluster_id, run["hsm_id"])


def maintain(
    event: dict[str, Any], settings: VaultSettings, gateway_for: GatewayFor, now: datetime
) -> dict[str, Any]:
    """Prune the vault backups (and their copies) and copy the newest to the DR regions."""
    deployment = settings.deployment_name
    home = gateway_for(settings.region)
    owned = list(home.iter_backups())
    result: dict[str, Any] = {"deleted": [], "copied": [], "refused": [], "errors": []}
    regions = {settings.region: owned}
    for region in settings.dr_regions:
        regions[region] = list(gateway_for(region).iter_backups())
    for region, backups in regions.items():
        decisions = plan_prune(
            backups,
            deployment=deployment,
            keep_newest=settings.keep_newest,
            keep_days=settings.keep_days,
            now=now,
        )
        gateway = home if region == settings.region else gateway_for(region)
        for decision in (d for d in decisions if d.delete):
            _delete_backup(gateway, deployment, decision.backup.backup_id, result)
    if settings.golden_enabled:
        _golden(home, settings, owned, result)
    copies = {r: b for r, b in regions.items() if r != settings.region}
    for backup, region in missing_copies(owned, copies, deployment=deployment):
        try:
            home.copy_backup_to_region(
                backup.backup_id,
                region,
                backup_tags(
                    deployment,
                    backup.tags.get(SOURCE_CLUSTER_KEY, ""),
                    backup.backup_id,
                    backup.tags.get(SOURCE_CREATED_KEY, ""),
                ),
            )
            result["copied"].append({"backup_id": backup.backup_id, "region": region})
        except CloudHsmDrError as error:
            result["errors"].append(f"copy {backup.backup_id} to {region}: {error}")
    if result["errors"]:
        raise VaultRefusal("; ".join(result["errors"]))
    return result


def _golden(
    gateway: CloudHsmGateway,
    settings: VaultSettings,
    owned: list[Backup],
    result: dict[str, Any],
) -> None:
    """One vault backup per period kept NeverExpires (lambdas/shared/golden.py), per
    source cluster, in the vault region."""
    groups: dict[str, list[Backup]] = {}
    for backup in vault_backups(owned, settings.deployment_name):
        groups.setdefault(backup.tags.get(SOURCE_CLUSTER_KEY, ""), []).append(backup)
    result["golden"] = []
    for _, group in sorted(groups.items()):
        for decision in decide_golden(
            group, period=settings.golden_period, keep=settings.golden_keep
        ):
            backup_id = decision.backup.backup_id
            try:
                if decision.action is GoldenAction.MARK:
                    gateway.set_never_expires(backup_id, True)
                    gateway.tag_resource(backup_id, {GOLDEN_KEY: decision.period})
                elif decision.action is GoldenAction.UNMARK:
                    gateway.set_never_expires(backup_id, False)
                    gateway.untag_resource(backup_id, [GOLDEN_KEY])
                else:
                    continue
                result["golden"].append({"backup_id": backup_id, "action": decision.action.value})
            except CloudHsmDrError as error:
                result["errors"].append(f"golden {backup_id}: {error}")


def _delete_backup(
    gateway: CloudHsmGateway, deployment: str, backup_id: str, result: dict[str, Any]
) -> None:
    try:
        tags = gateway.list_tags(backup_id)  # read again right before deleting
        if not is_vault_resource(tags, deployment):
            result["refused"].append(f"{backup_id}: its tags no longer say it is a vault backup")
            return
        gateway.delete_backup(backup_id)
        result["deleted"].append(backup_id)
    except CloudHsmDrError as error:
        result["errors"].append(f"delete {backup_id}: {error}")
