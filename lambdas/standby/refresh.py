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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lambdas.shared.copies import copies_by_source_cluster
from lambdas.shared.errors import CloudHsmDrError
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import Cluster
from lambdas.shared.standby import RefreshPlan, is_standby_of, plan_refresh, standby_tags
from lambdas.standby.settings import StandbySettings


@dataclass
class RefreshResult:
    region: str
    plans: list[RefreshPlan] = field(default_factory=list)
    created: list[dict[str, str]] = field(default_factory=list)
    hsms_created: list[dict[str, str]] = field(default_factory=list)
    hsms_deleted: list[dict[str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
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
    copies = copies_by_source_cluster(gateway.iter_backups())
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
            _delete_hsms(settings, gateway, plan, result)
            _delete(settings, gateway, plan, result)
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
) -> bool:
    """The standby's tags read again right before a delete: still this deployment's
    standby of that cluster, and not adopted by a restore?"""
    tags = gateway.list_tags(standby_id)
    result.api_calls += 1
    if is_standby_of(tags, settings.deployment_name, plan.cluster_id):
        return True
    result.refused.append(
        f"{standby_id}: its tags no longer say it is {settings.deployment_name}'s standby of "
        f"{plan.cluster_id}: {what} not deleted"
    )
    return False


def _delete_hsms(
    settings: StandbySettings, gateway: CloudHsmGateway, plan: RefreshPlan, result: RefreshResult
) -> None:
    checked: dict[str, bool] = {}
    for standby_id, hsm_id in plan.delete_hsms:
        if standby_id not in checked:
            checked[standby_id] = _still_ours(
                settings, gateway, plan, standby_id, result, what=f"HSM {hsm_id}"
            )
        if not checked[standby_id]:
            continue
        gateway.delete_hsm(standby_id, hsm_id)
        result.api_calls += 1
        result.hsms_deleted.append(
            {"cluster_id": plan.cluster_id, "standby": standby_id, "hsm": hsm_id}
        )


def _delete(
    settings: StandbySettings, gateway: CloudHsmGateway, plan: RefreshPlan, result: RefreshResult
) -> None:
    for standby_id in plan.delete:
        if not _still_ours(settings, gateway, plan, standby_id, result, what="cluster"):
            continue
        gateway.delete_cluster(standby_id)
        result.api_calls += 1
        result.deleted.append(standby_id)
