"""Gathers the facts verification needs, with as few API calls as the pages require.

Per region: one DescribeClusters for all protected clusters (25 per page), one
DescribeBackups for every CREATE_IN_PROGRESS backup of those clusters, and one
DescribeBackups per cluster for its newest READY backup (sorted, one item).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from lambdas.core.gateway import CloudHsmGateway
from lambdas.core.models import BACKUP_CREATE_IN_PROGRESS, BACKUP_READY, Backup
from lambdas.core.protected import ProtectedCluster
from lambdas.core.settings import VerificationSettings
from lambdas.core.verification import ClusterFacts, VerificationReport, verify_cluster

GatewayFactory = Callable[[str], CloudHsmGateway]


def gather_facts(gateway: CloudHsmGateway, specs: Sequence[ProtectedCluster]) -> list[ClusterFacts]:
    ids = [s.id for s in specs]
    clusters = gateway.find_clusters(ids)
    in_progress: dict[str, list[Backup]] = defaultdict(list)
    for backup in gateway.iter_backups(cluster_ids=ids, state=BACKUP_CREATE_IN_PROGRESS):
        in_progress[backup.cluster_id].append(backup)
    return [
        ClusterFacts(
            spec=spec,
            cluster=clusters.get(spec.id),
            latest_ready=gateway.latest_backup(spec.id, BACKUP_READY),
            in_progress=tuple(in_progress.get(spec.id, ())),
        )
        for spec in specs
    ]


def run_verification(
    settings: VerificationSettings,
    gateway_for: GatewayFactory,
    now: datetime | None = None,
    cluster_ids: Sequence[str] | None = None,
) -> VerificationReport:
    specs = [c for c in settings.clusters if not cluster_ids or c.id in cluster_ids]
    by_region: dict[str, list[ProtectedCluster]] = defaultdict(list)
    for spec in specs:
        by_region[spec.region].append(spec)
    facts = {
        f.spec.id: f
        for region, region_specs in sorted(by_region.items())
        for f in gather_facts(gateway_for(region), region_specs)
    }
    # Read the clock after the API calls, so a backup finished meanwhile is not "future".
    checked_at = now or datetime.now(UTC)
    in_progress_max = timedelta(minutes=settings.backup_in_progress_max_minutes)
    reports = tuple(
        verify_cluster(
            facts[spec.id],
            checked_at,
            timedelta(hours=settings.rpo_hours_for(spec)),
            in_progress_max,
        )
        for spec in specs
    )
    return VerificationReport(settings.deployment_name, checked_at, reports)
