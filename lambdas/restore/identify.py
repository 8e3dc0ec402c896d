"""Step 1 of a restore: from the input to a plan. Everything here reads, and every
refusal happens here, before anything is created; the last act is the claim of the
restore id. The AWS clients come in as arguments (the handler passes real ones).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from lambdas.restore.backup import BackupChoice, choose_backup
from lambdas.restore.claims import HolderRunning, RestoreClaims
from lambdas.restore.job import Job, adopt, new_run
from lambdas.restore.plan import Subnet, quota_note, zones_of
from lambdas.restore.request import RestoreRequest, named_cluster, parse_request, subnets_for
from lambdas.restore.settings import RestoreSettings
from lambdas.restore.tags import EXECUTION_KEY, identity_tags, restore_clusters
from lambdas.shared.copies import SOURCE_BACKUP_KEY, SOURCE_CLUSTER_KEY
from lambdas.shared.errors import InvalidInput
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import BACKUP_READY, Backup, Cluster
from lambdas.shared.protected import (
    POSTURE_COLD,
    POSTURE_PILOT_LIGHT,
    POSTURE_WARM_STANDBY,
    ProtectedCluster,
)
from lambdas.shared.settings import VerificationSettings
from lambdas.shared.standby import (
    STANDBY_OF_KEY,
    PostureChoice,
    choose_posture,
    standbys_of,
)
from lambdas.shared.vault_backups import as_vault_backups

GatewayFor = Callable[[str], CloudHsmGateway]  # region -> gateway
ClientFor = Callable[[str, str], Any]  # (service, region) -> boto3 client
DEFAULT_HSM_COUNT = 2  # a cluster the config does not describe: the minimum for HA


def identify_restore(
    event: Mapping[str, Any],
    *,
    settings: RestoreSettings,
    deployment: VerificationSettings,
    default_region: str,
    gateway_for: GatewayFor,
    client_for: ClientFor,
    lookup_for: GatewayFor | None = None,
    holder_running: HolderRunning,
    now: Callable[[], datetime],
) -> Job:
    execution = str(event.get("execution") or "manual")
    request = parse_request(
        named_cluster(event.get("input") or {}, deployment.clusters),
        settings,
        default_region,
        str(event.get("execution_name") or "manual"),
    )
    name = deployment.deployment_name
    specs = {c.id: c for c in deployment.clusters}
    gateway = gateway_for(request.region)
    clusters = gateway.describe_clusters()
    adopted = single_restore_cluster(restore_clusters(clusters, name, request.restore_id))
    notes: list[str] = []
    if adopted is None:
        choice = choose_backup(
            request,
            specs,
            _restorable(settings, _backups_here(gateway, request)),
            # Other regions are only looked in: `lookup_for` may fail fast there.
            lambda: _elsewhere(settings, request, lookup_for or gateway_for),
        )
        zones = _zones(request, settings, client_for("ec2", request.region))
    else:
        choice = _adopted_choice(adopted, gateway, settings)
        zones = dict(adopted.subnet_mapping)
    spec = specs.get(choice.source_cluster_id)
    if adopted is None:
        posture = _posture(
            request, spec=spec, choice=choice, clusters=clusters, deployment=deployment, now=now()
        )
    else:  # a run of this restore id again: what the first run chose still holds
        posture = _resumed_posture(adopted, spec.posture(request.region) if spec else None)
    standby = next((c for c in clusters if c.cluster_id == posture.standby_id), None)
    if adopted is None and standby is not None:
        newer = choice.backup.backup_id
        choice = _adopted_choice(standby, gateway, settings)
        zones = dict(standby.subnet_mapping)
        if newer != choice.backup.backup_id:
            notes.append(
                f"a newer backup ({newer}) is here than the standby's ({choice.backup.backup_id}),"
                " which is within the RPO: the standby was adopted for speed"
            )
    hsm_count = request.hsm_count or (spec.desired_hsm_count if spec else DEFAULT_HSM_COUNT)
    if adopted is None:
        # An adopted standby is already counted as a cluster: only the HSMs must fit.
        others = [c for c in clusters if standby is None or c.cluster_id != standby.cluster_id]
        quota = quota_note(
            others,
            request.region,
            hsm_count,
            settings.clusters_per_region_quota,
            settings.hsms_per_region_quota,
        )
        notes += [quota] if quota else []
    if spec is None:
        notes.append(
            f"{choice.source_cluster_id or 'the source cluster'} is not in the config's "
            f"protected_clusters: restoring {hsm_count} HSMs"
        )
    claims = RestoreClaims(name, client_for("ssm", request.region))
    generation = claims.claim(request.restore_id, execution, holder_running)
    if adopted is None:  # created by another run between the look above and the claim?
        found = restore_clusters(gateway.describe_clusters(), name, request.restore_id)
        adopted = single_restore_cluster(found)
    if adopted is None and standby is not None:
        # From now on the standby is this restore's cluster: the refresher and the
        # verification leave a cluster with a restore id alone.
        gateway.tag_resource(
            standby.cluster_id,
            {**identity_tags(name, request.restore_id), EXECUTION_KEY: execution},
        )
    plan = {
        "restore_id": request.restore_id,
        "execution": execution,
        "deployment": name,
        "region": request.region,
        "source_cluster_id": choice.source_cluster_id,
        "source_label": spec.label if spec else choice.source_cluster_id,
        "backup": backup_summary(choice.backup),
        "hsm_type": choice.hsm_type,
        "mode": choice.mode,
        "subnet_ids": list(zones.values()),
        "zones": list(zones),
        "hsm_count": hsm_count,
        "poll_seconds": request.poll_seconds,
        "cluster_timeout_minutes": settings.cluster_timeout_minutes,
        "hsm_timeout_minutes": settings.hsm_timeout_minutes,
        "max_hsm_attempts": settings.max_hsm_attempts,
        "claim_generation": generation,
        "adopted": adopted is not None,
        "posture": posture.posture,
        "posture_reason": posture.reason,
        "standby_cluster_id": posture.standby_id,
        "notes": [*choice.notes, *notes],
    }
    at = now()
    job = {"plan": plan, "run": new_run(str(event.get("started_at") or at.isoformat()), at)}
    if adopted is not None:
        adopt(job, adopted, "adopted cluster {} created by an earlier run of this restore", at)
    elif standby is not None:
        adopt(job, standby, ADOPTION_NOTES[posture.posture], at)
    return job


ADOPTION_NOTES = {
    POSTURE_PILOT_LIGHT: "adopted pilot-light standby {}: only its HSMs are created",
    POSTURE_WARM_STANDBY: "adopted warm standby {}: its HSM already serves; clients are "
    "re-pointed and HSMs added for HA",
}


def _resumed_posture(adopted: Cluster, configured: str | None) -> PostureChoice:
    if STANDBY_OF_KEY in adopted.tags:
        # A warm standby adopted with its HSM; else a pilot light (the first HSM created).
        posture = (
            POSTURE_WARM_STANDBY if configured == POSTURE_WARM_STANDBY else POSTURE_PILOT_LIGHT
        )
        return PostureChoice(
            posture,
            f"resumed: {adopted.cluster_id} is the {posture} standby an earlier run of this "
            "restore adopted",
        )
    return PostureChoice(
        POSTURE_COLD, f"resumed: {adopted.cluster_id} was created by an earlier run of this restore"
    )


def _posture(
    request: RestoreRequest,
    *,
    spec: ProtectedCluster | None,
    choice: BackupChoice,
    clusters: Sequence[Cluster],
    deployment: VerificationSettings,
    now: datetime,
) -> PostureChoice:
    """Warm standby or pilot light: adopt the source cluster's standby in this region
    when its backup is within the RPO; otherwise cold, and why."""
    if spec is None:
        return PostureChoice(POSTURE_COLD, "the source cluster is not in the config: cold")
    return choose_posture(
        configured=spec.posture(request.region),
        standbys=standbys_of(clusters, deployment.deployment_name, spec.id),
        now=now,
        rpo=timedelta(hours=deployment.rpo_hours_for(spec)),
        requested_backup=choice.backup.backup_id if request.backup_id else None,
    )


def single_restore_cluster(clusters: Sequence[Cluster]) -> Cluster | None:
    """The one live cluster of a restore id; two mean a person must choose."""
    if len(clusters) > 1:
        ids = ", ".join(c.cluster_id for c in clusters)
        raise InvalidInput(
            "restore_id",
            f"clusters {ids} all carry this restore id; an engineer must decide which one "
            "to keep before this restore can continue",
        )
    return clusters[0] if clusters else None


def backup_summary(backup: Backup) -> dict[str, Any]:
    created = backup.create_timestamp
    return {
        "backup_id": backup.backup_id,
        "backup_arn": backup.backup_arn,
        "state": backup.state,
        "create_timestamp": created.isoformat() if created else None,
        "hsm_type": backup.hsm_type,
        "mode": backup.mode,
        "is_copy": backup.is_copy,
        "source_region": backup.source_region or None,
        "source_backup": backup.source_backup or None,
    }


def _backups_here(gateway: CloudHsmGateway, request: RestoreRequest) -> list[Backup]:
    if request.backup_id is not None:
        wanted = [request.backup_id]
        return [
            *gateway.iter_backups(backup_ids=wanted),
            *gateway.iter_backups(source_backup_ids=wanted),
        ]
    # Copies have no ClusterId and DescribeBackups no SourceCluster filter: list them all.
    return list(gateway.iter_backups())


def _elsewhere(
    settings: RestoreSettings, request: RestoreRequest, gateway_for: GatewayFor
) -> dict[str, list[Backup]]:
    others = [r for r in settings.regions if r != request.region]
    if request.backup_id is not None:
        wanted = [request.backup_id]
        return {
            r: _restorable(settings, gateway_for(r).iter_backups(backup_ids=wanted)) for r in others
        }
    return {
        r: _restorable(settings, gateway_for(r).iter_backups(state=BACKUP_READY)) for r in others
    }


def _restorable(settings: RestoreSettings, backups: Iterable[Backup]) -> list[Backup]:
    """Every backup listed; in the recovery account, only the vault's (shared/vault_backups.py)."""
    if settings.vault_deployment is None:
        return list(backups)
    return as_vault_backups(backups, settings.vault_deployment)


def _zones(request: RestoreRequest, settings: RestoreSettings, ec2: Any) -> dict[str, str]:
    subnet_ids = subnets_for(request, settings)
    found = ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": list(subnet_ids)}])
    subnets = [Subnet(s["SubnetId"], s["AvailabilityZone"], s["VpcId"]) for s in found["Subnets"]]
    return zones_of(subnet_ids, subnets, request.region)


def _adopted_choice(
    cluster: Cluster, gateway: CloudHsmGateway, settings: RestoreSettings
) -> BackupChoice:
    """What an adopted cluster was restored from (its SourceBackupId, else its tags)."""
    backup_id = cluster.source_backup_id or cluster.tags.get(SOURCE_BACKUP_KEY, "")
    listed = gateway.iter_backups(backup_ids=[backup_id], limit=1) if backup_id else []
    found = next(iter(_restorable(settings, listed)), None)
    backup = found or Backup(backup_id=backup_id, state="UNKNOWN", create_timestamp=None)
    return BackupChoice(
        backup=backup,
        source_cluster_id=backup.origin_cluster or cluster.tags.get(SOURCE_CLUSTER_KEY, ""),
        hsm_type=cluster.hsm_type,
        mode=cluster.mode,
    )
