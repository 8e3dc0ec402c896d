"""One refresh of the pilot-light standbys of one DR region.

Per protected cluster with a pilot-light posture here: one DescribeClusters (the whole
region: the quota counts every cluster) and one listing of the region's backups, then
the plan of lambdas/shared/standby.py. Creating is CreateCluster from the newest READY
copy with no HSM; deleting is DeleteCluster of an older standby, only once the standby
of the newest copy is ACTIVE, and only after its tags are read again (ListTags) and
still say it is this deployment's standby of that cluster.
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
    deleted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # deletions the re-read tags stopped
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
            "deleted": self.deleted,
            "refused": self.refused,
            "errors": self.errors,
            "api_calls": self.api_calls,
        }


def refresh_standbys(settings: StandbySettings, gateway: CloudHsmGateway) -> RefreshResult:
    result = RefreshResult(settings.region)
    if not settings.cluster_ids:
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
        )
        result.plans.append(plan)
        try:
            created = _create(settings, gateway, plan, copies.get(cluster_id, []), result)
            if created is not None:
                clusters = [*clusters, created]  # counted against the quota for the next
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


def _delete(
    settings: StandbySettings, gateway: CloudHsmGateway, plan: RefreshPlan, result: RefreshResult
) -> None:
    for standby_id in plan.delete:
        tags = gateway.list_tags(standby_id)
        result.api_calls += 1
        if not is_standby_of(tags, settings.deployment_name, plan.cluster_id):
            result.refused.append(
                f"{standby_id}: its tags no longer say it is {settings.deployment_name}'s "
                f"standby of {plan.cluster_id}: not deleted"
            )
            continue
        gateway.delete_cluster(standby_id)
        result.api_calls += 1
        result.deleted.append(standby_id)
