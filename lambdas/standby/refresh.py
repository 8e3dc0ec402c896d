"""One refresh of the standbys (pilot-light and warm-standby) of one DR region.

Per protected cluster with a standby posture here: one DescribeClusters (the whole
region: the quotas count every cluster and HSM) and one listing of the region's
backups, then the plan of lambdas/shared/standby.py. Creating is CreateCluster from the
newest READY copy; a warm standby then gets one HSM (CreateHsm on the standby itself).
Deleting is DeleteHsm of a warm standby's HSM (an older standby's, or one that ended
DEGRADED) and DeleteCluster of an older standby, only once the standby of the newest
copy is ready, and only after the standby's tags are read again (ListTags) and still
say it is this deployment's standby of that cluster, not adopted by a restore.

What the refresher could not do (a quota used up, no subnets, a tag re-read that
stopped a delete) is a refusal: the handler alerts on it.

Removing an old warm standby's HSM makes CloudHSM back the standby up; right after
its DeleteHsm the refresher finds that backup and tags it as the rotation backup of
that standby (lambdas/standby/rotation_backups.py). Once the standby is deleted and
the new one serves, the backup is re-read and deleted (PENDING_DELETION, restorable
for 7 days), or refused when it is not provably the one the refresher's DeleteHsm made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdas.shared.copies import copies_by_source_cluster
from lambdas.shared.errors import CloudHsmDrError
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import BACKUP_READY, HSM_ACTIVE, Backup, Cluster
from lambdas.shared.standby import (
    RefreshPlan,
    is_standby_of,
    plan_refresh,
    serving_hsm,
    standby_tags,
)
from lambdas.standby.rotation_backups import (
    DELETE,
    REFUSE,
    deletion_decision,
    is_rotation_candidate,
    made_by_removal,
    rotation_tags,
)
from lambdas.standby.settings import StandbySettings


@dataclass
class RefreshResult:
    region: str
    plans: list[RefreshPlan] = field(default_factory=list)
    created: list[dict[str, str]] = field(default_factory=list)
    hsms_created: list[dict[str, str]] = field(default_factory=list)
    hsms_deleted: list[dict[str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # The backups old standbys' HSM removals made: tagged right after, deleted later.
    backups_tagged: list[dict[str, str]] = field(default_factory=list)
    backups_deleted: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # what a person must look at
    errors: list[str] = field(default_factory=list)
    api_calls: int = 0

    @property
    def status(self) -> str:
        return "FAILED" if self.errors else "SUCCEEDED"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "region": self.region,
            "plans": [p.to_dict() for p in self.plans],
            "created": self.created,
            "hsms_created": self.hsms_created,
            "hsms_deleted": self.hsms_deleted,
            "deleted": self.deleted,
            "backups_tagged": self.backups_tagged,
            "backups_deleted": self.backups_deleted,
            "refused": self.refused,
            "errors": self.errors,
            "api_calls": self.api_calls,
        }


def refresh_standbys(settings: StandbySettings, gateway: CloudHsmGateway) -> RefreshResult:
    result = RefreshResult(settings.region)
    if not settings.cluster_ids:
        return result
    if not settings.subnet_ids:  # before any call: nowhere to put a standby
        result.refused.append(
            f"restore.subnets.{settings.region} is empty: no standby of "
            f"{', '.join(settings.cluster_ids)} can be created in {settings.region}"
        )
        return result
    clusters = gateway.describe_clusters()
    backups = list(gateway.iter_backups())
    copies = copies_by_source_cluster(backups)
    result.api_calls += 2
    for cluster_id in settings.cluster_ids:
        plan = plan_refresh(
            deployment=settings.deployment_name,
            cluster_id=cluster_id,
            region=settings.region,
            clusters=clusters,
            copies=copies.get(cluster_id, []),
            clusters_quota=settings.clusters_per_region_quota,
            posture=settings.posture(cluster_id),
            hsms_quota=settings.hsms_per_region_quota,
        )
        result.plans.append(plan)
        result.refused += [f"{cluster_id}: {r}" for r in plan.refusals]
        try:
            created = _create(settings, gateway, plan, copies.get(cluster_id, []), result)
            if created is not None:
                clusters = [*clusters, created]  # counted against the quota for the next
            _create_hsm(gateway, plan, result)
            _delete_hsms(settings, gateway, plan, clusters, result)
            _delete(settings, gateway, plan, result)
            _delete_rotation_backups(
                settings, gateway, plan, clusters=clusters, backups=backups, result=result
            )
        except CloudHsmDrError as error:
            result.errors.append(f"{cluster_id}: {error}")
    return result


def _create(
    settings: StandbySettings,
    gateway: CloudHsmGateway,
    plan: RefreshPlan,
    copies: Sequence[Any],
    result: RefreshResult,
) -> Cluster | None:
    if plan.create_from is None:
        return None
    copy = next(c for c in copies if c.backup_id == plan.create_from)
    cluster = gateway.create_cluster(
        hsm_type=copy.hsm_type or "hsm2m.medium",
        subnet_ids=settings.subnet_ids,
        source_backup_id=copy.backup_id,
        mode=copy.mode or "FIPS",
        tags=standby_tags(settings.deployment_name, plan.cluster_id, copy),
    )
    result.api_calls += 1
    result.created.append(
        {"cluster_id": plan.cluster_id, "standby": cluster.cluster_id, "backup": copy.backup_id}
    )
    return cluster


def _create_hsm(gateway: CloudHsmGateway, plan: RefreshPlan, result: RefreshResult) -> None:
    """A warm standby's one HSM (the plan chose the standby of the newest copy)."""
    if plan.create_hsm_in is None or plan.hsm_zone is None:
        return
    hsm = gateway.create_hsm(plan.create_hsm_in, plan.hsm_zone)
    result.api_calls += 1
    result.hsms_created.append(
        {"cluster_id": plan.cluster_id, "standby": plan.create_hsm_in, "hsm": hsm.hsm_id}
    )


def _still_ours(
    settings: StandbySettings,
    gateway: CloudHsmGateway,
    plan: RefreshPlan,
    standby_id: str,
    result: RefreshResult,
    *,
    what: str,
) -> dict[str, str] | None:
    """The standby's tags read again right before a delete: still this deployment's
    standby of that cluster, and not adopted by a restore? Its tags if so."""
    tags = gateway.list_tags(standby_id)
    result.api_calls += 1
    if is_standby_of(tags, settings.deployment_name, plan.cluster_id):
        return tags
    result.refused.append(
        f"{standby_id}: its tags no longer say it is {settings.deployment_name}'s standby of "
        f"{plan.cluster_id}: {what} not deleted"
    )
    return None


def _delete_hsms(
    settings: StandbySettings,
    gateway: CloudHsmGateway,
    plan: RefreshPlan,
    clusters: Sequence[Cluster],
    result: RefreshResult,
) -> None:
    checked: dict[str, dict[str, str] | None] = {}
    for standby_id, hsm_id in plan.delete_hsms:
        if standby_id not in checked:
            checked[standby_id] = _still_ours(
                settings, gateway, plan, standby_id, result, what=f"HSM {hsm_id}"
            )
        tags = checked[standby_id]
        if tags is None:
            continue
        # An old standby serving with an ACTIVE HSM: its removal makes a backup.
        rotating = standby_id != plan.current and _had_active_hsm(clusters, standby_id)
        before = (
            {b.backup_id for b in gateway.iter_backups(cluster_ids=[standby_id])}
            if rotating
            else set()
        )
        removed_at = datetime.now(UTC)
        gateway.delete_hsm(standby_id, hsm_id)
        result.api_calls += 3 if rotating else 2
        result.hsms_deleted.append(
            {"cluster_id": plan.cluster_id, "standby": standby_id, "hsm": hsm_id}
        )
        if rotating:
            _tag_rotation_backup(
                gateway,
                plan=plan,
                standby_id=standby_id,
                standby_tags=tags,
                before=before,
                removed_at=removed_at,
                result=result,
            )


def _had_active_hsm(clusters: Sequence[Cluster], standby_id: str) -> bool:
    cluster = next((c for c in clusters if c.cluster_id == standby_id), None)
    return cluster is not None and any(h.state == HSM_ACTIVE for h in cluster.hsms)


def _tag_rotation_backup(
    gateway: CloudHsmGateway,
    *,
    plan: RefreshPlan,
    standby_id: str,
    standby_tags: dict[str, str],
    before: set[str],
    removed_at: datetime,
    result: RefreshResult,
) -> None:
    """Record, while the standby still exists, that its HSM removal made this backup:
    the tags the later delete re-reads."""
    made = made_by_removal(
        list(gateway.iter_backups(cluster_ids=[standby_id])), standby_id, before, removed_at
    )
    if len(made) != 1:
        found = ", ".join(b.backup_id for b in made) or "none"
        result.refused.append(
            f"{standby_id}: the backup its HSM removal made was not found alone right after "
            f"DeleteHsm (found: {found}): the refresher will not delete it; delete it by hand "
            "once the standby is gone (runbook: rotation backups)"
        )
        return
    backup = made[0]
    gateway.tag_resource(backup.backup_id, rotation_tags(standby_tags, standby_id, removed_at))
    result.api_calls += 1
    result.backups_tagged.append(
        {"cluster_id": plan.cluster_id, "standby": standby_id, "backup": backup.backup_id}
    )


def _delete(
    settings: StandbySettings, gateway: CloudHsmGateway, plan: RefreshPlan, result: RefreshResult
) -> None:
    for standby_id in plan.delete:
        if _still_ours(settings, gateway, plan, standby_id, result, what="cluster") is None:
            continue
        gateway.delete_cluster(standby_id)
        result.api_calls += 1
        result.deleted.append(standby_id)


def _delete_rotation_backups(
    settings: StandbySettings,
    gateway: CloudHsmGateway,
    plan: RefreshPlan,
    *,
    clusters: Sequence[Cluster],
    backups: Sequence[Backup],
    result: RefreshResult,
) -> None:
    """The backups tagged as rotation backups of this cluster's standbys: each re-read
    (DescribeBackups and ListTags) and deleted only when provably the refresher's own,
    its standby gone and the new standby serving."""
    candidates = [
        b
        for b in backups
        if is_rotation_candidate(b, settings.deployment_name, plan.cluster_id)
        and b.state == BACKUP_READY
    ]
    if not candidates:
        return
    current = next((c for c in clusters if c.cluster_id == plan.current), None)
    serving = current is not None and serving_hsm(current) is not None
    for listed in candidates:
        backup = gateway.get_backup(listed.backup_id)
        tags = gateway.list_tags(listed.backup_id)
        result.api_calls += 2
        decision = deletion_decision(
            backup,
            tags,
            deployment=settings.deployment_name,
            cluster_id=plan.cluster_id,
            protected=settings.cluster_ids,
            clusters=clusters,
            deleted_now=result.deleted,
            new_standby_serving=serving,
        )
        if decision.action == REFUSE:
            result.refused.append(f"{plan.cluster_id}: {decision.reason}: not deleted")
        elif decision.action == DELETE:
            gateway.delete_backup(backup.backup_id)
            result.api_calls += 1
            result.backups_deleted.append(
                {
                    "cluster_id": plan.cluster_id,
                    "standby": backup.cluster_id,
                    "backup": backup.backup_id,
                }
            )
