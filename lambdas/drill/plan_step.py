"""Plan: check the input, choose the backup, check subnets and quotas. Creates nothing."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdas.drill import step_support as support
from lambdas.drill.network import Ec2
from lambdas.drill.plan import (
    DR_COPY,
    DRILL_KEY,
    VAULT,
    DrillBackup,
    DrillRequest,
    check_quota,
    choose_backup,
    drill_posture,
    drill_subnets,
    drill_tags,
    parse_request,
    zones_of,
)
from lambdas.drill.settings import DrillSettings
from lambdas.drill.step_support import Job
from lambdas.shared.errors import (
    CloudHsmDrError,
    InvalidInput,
)
from lambdas.shared.models import (
    BACKUP_READY,
    Backup,
    Cluster,
)
from lambdas.shared.observability import logger
from lambdas.shared.protected import POSTURE_COLD, POSTURE_WARM_STANDBY, ProtectedCluster
from lambdas.shared.settings import VerificationSettings
from lambdas.shared.standby import PostureChoice
from lambdas.shared.vault_backups import as_vault_backups
from lambdas.shared.vault_tags import VAULT_KEY

# Plan: creates nothing ------------------------------------------------------------------


def plan(event: Mapping[str, Any]) -> Job:
    """Check the input, choose the backup, check subnets and quotas. Creates nothing."""
    settings = DrillSettings.from_env()
    specs = support.protected()
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
    clusters = support.gateway_in(region).describe_clusters()
    _refuse_other_drills(clusters, settings.deployment_name, region)
    now = support.utc_now()
    if request.source == VAULT:
        # The recovery account keeps no standby: a restore from the vault starts cold.
        configured = POSTURE_COLD
        posture = PostureChoice(POSTURE_COLD, "a drill from the vault restores a new cluster")
    else:
        configured = spec.posture(region)
        posture = drill_posture(
            spec=spec,
            region=region,
            backup_id_given=request.backup_id is not None,
            clusters=clusters,
            deployment=settings.deployment_name,
            now=now,
            rpo=timedelta(hours=VerificationSettings.from_env().rpo_hours_for(spec)),
        )
    standby = next((c for c in clusters if c.cluster_id == posture.standby_id), None)
    check_quota(
        clusters,
        region,
        settings.clusters_per_region_quota,
        settings.hsms_per_region_quota,
        new_clusters=0 if standby else 1,
        new_hsms=0 if posture.posture == POSTURE_WARM_STANDBY else 1,
    )
    notes = []
    if request.source != choice.source:
        notes.append(f"backup_id {choice.backup.backup_id} is a {choice.source} backup")
    if standby is not None:
        # The standby's backup is what a restore would adopt: that is what is drilled.
        choice = replace(choice, backup=_standby_backup(region, standby.source_backup_id, choice))
        if standby.subnet_mapping:  # its own subnets (restore.subnets), not the drill's
            zones = dict(standby.subnet_mapping)
            subnet_ids = tuple(zones.values())
            subnets = Ec2.for_region(region).subnets(subnet_ids)
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
                "field": settings.key_verification_field,
            },
            "notes": notes,
            **_posture_fields(posture, configured),
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
    if request.source == VAULT:
        return {settings.primary_region: _vault_backups(request, settings)}
    if request.backup_id is not None:
        regions = dict.fromkeys([spec.region, *settings.dr_regions])
        return {
            r: list(support.gateway_in(r).iter_backups(backup_ids=[request.backup_id]))
            for r in regions
        }
    if request.source == DR_COPY:
        # Copies carry no ClusterId: list the region's READY backups, match SourceCluster.
        return {
            r: list(support.gateway_in(r).iter_backups(state=BACKUP_READY))
            for r in settings.dr_regions
        }
    newest = support.gateway_in(spec.region).iter_backups(
        cluster_ids=[spec.id], state=BACKUP_READY, limit=1
    )
    return {spec.region: list(newest)}


def _vault_backups(request: DrillRequest, settings: DrillSettings) -> list[Backup]:
    """The vault region's vault backups (READY ones, or the one asked for), each seen as
    a backup of the production cluster it holds; any other backup is never drilled."""
    gateway = support.gateway_in(settings.primary_region)
    if request.backup_id is None:
        listed = gateway.iter_backups(state=BACKUP_READY)
        return as_vault_backups(listed, settings.vault_deployment)
    given = list(gateway.iter_backups(backup_ids=[request.backup_id]))
    vault = as_vault_backups(given, settings.vault_deployment)
    if given and not vault:
        raise InvalidInput(
            "backup_id",
            f"{request.backup_id} is not a vault backup of {settings.vault_deployment} "
            f"(tagged {VAULT_KEY}={settings.vault_deployment}, not a drill's): the vault "
            "stack's drill restores vault backups only",
        )
    return vault


def _posture_fields(posture: PostureChoice, configured: str) -> dict[str, Any]:
    """The posture drilled and why; a standby borrowed (never deleted by the drill)."""
    return {
        "configured_posture": configured,
        "posture": posture.posture,
        "posture_reason": posture.reason,
        "standby_cluster_id": posture.standby_id,
        "posture_fell_back": posture.posture == POSTURE_COLD and configured != POSTURE_COLD,
    }


def _standby_backup(region: str, backup_id: str | None, choice: DrillBackup) -> Backup:
    if not backup_id:
        return choice.backup
    found = list(support.gateway_in(region).iter_backups(backup_ids=[backup_id], limit=1))
    return found[0] if found else choice.backup


class DrillBusy(CloudHsmDrError):
    """Another drill cluster of this deployment exists in the region."""


def _refuse_other_drills(clusters: list[Cluster], deployment: str, region: str) -> None:
    others = [
        c
        for c in clusters
        if DRILL_KEY in c.tags
        and c.tags.get("hsmdr:deployment") == deployment
        and c.state not in support.LIVE
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
