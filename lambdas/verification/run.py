"""Gathers the facts verification needs, with as few API calls as the pages require.

Per region: one DescribeClusters for all protected clusters (25 per page), one
DescribeBackups for every CREATE_IN_PROGRESS backup of those clusters, and one
DescribeBackups per cluster for its newest READY backup (sorted, one item).

Per DR region, when the deployment has any: every backup of the region listed once
(DescribeBackups has no SourceCluster filter), ceil(backups / 50) pages, then grouped
by SourceCluster. The copy pruning rule keeps that list short: about keep_newest +
keep_days copies per cluster. Per DR region where a cluster keeps a pilot light: one
DescribeClusters, for its standbys (STANDBY_MISSING, STANDBY_STALE, STANDBY_DEGRADED,
STANDBY_HOLDS_HSM under pilot light, STANDBY_NO_HSM under warm standby).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from lambdas.shared.copies import (
    copies_by_source_cluster,
    copy_freshness_limit,
    region_copy_status,
)
from lambdas.shared.findings import copy_findings, standby_findings
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import BACKUP_CREATE_IN_PROGRESS, BACKUP_READY, Backup, Cluster
from lambdas.shared.protected import ProtectedCluster
from lambdas.shared.settings import BackupSettings, VerificationSettings
from lambdas.shared.standby import standby_problems
from lambdas.verification.checks import (
    ClusterFacts,
    ClusterReport,
    VerificationReport,
    verify_cluster,
)

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
    backups: BackupSettings | None = None,
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
    dr_regions = backups.dr_regions if backups else ()
    copies = {region: list(gateway_for(region).iter_backups()) for region in dr_regions}
    # One DescribeClusters per DR region where a checked cluster keeps a standby.
    standby_regions = sorted({r for s in specs for r in s.standby_regions() if r in dr_regions})
    region_clusters = {r: gateway_for(r).describe_clusters() for r in standby_regions}
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
    if backups is not None and copies:
        reports = tuple(_with_copies(r, copies, backups, settings, checked_at) for r in reports)
    if region_clusters:
        reports = tuple(_with_standbys(r, region_clusters, settings, checked_at) for r in reports)
    return VerificationReport(settings.deployment_name, checked_at, reports)


def _with_copies(
    report: ClusterReport,
    region_backups: dict[str, list[Backup]],
    backups: BackupSettings,
    settings: VerificationSettings,
    now: datetime,
) -> ClusterReport:
    """The cluster's report plus its copy status and findings in every DR region."""
    spec = report.spec
    stuck_after = timedelta(minutes=backups.copy_stuck_after_minutes)
    limit = copy_freshness_limit(
        timedelta(hours=settings.rpo_hours_for(spec)),
        timedelta(minutes=backups.copy_interval_minutes),
        stuck_after,
    )
    statuses = [
        region_copy_status(spec.id, region, _copies_of(spec.id, listed), now, stuck_after)
        for region, listed in sorted(region_backups.items())
        if region != spec.region  # a cluster is never copied into its own region
    ]
    findings = [f for s in statuses for f in copy_findings(spec, s, now, stuck_after, limit)]
    return replace(
        report,
        findings=report.findings + tuple(findings),
        copies=tuple(statuses),
        checked_at=now,
    )


def _with_standbys(
    report: ClusterReport,
    region_clusters: dict[str, list[Cluster]],
    settings: VerificationSettings,
    now: datetime,
) -> ClusterReport:
    """The cluster's report plus its standby findings in every DR region."""
    spec = report.spec
    rpo = timedelta(hours=settings.rpo_hours_for(spec))
    problems = [
        p
        for region in spec.standby_regions()
        if region in region_clusters
        for p in standby_problems(
            deployment=settings.deployment_name,
            cluster_id=spec.id,
            region=region,
            clusters=region_clusters[region],
            now=now,
            rpo=rpo,
            posture=spec.posture(region),
        )
    ]
    if not problems:
        return report
    return replace(report, findings=report.findings + tuple(standby_findings(spec, problems)))


def _copies_of(cluster_id: str, listed: Iterable[Backup]) -> list[Backup]:
    return copies_by_source_cluster(listed).get(cluster_id, [])
