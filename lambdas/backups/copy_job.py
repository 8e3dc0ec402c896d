"""One run of the copy job: every AWS call goes through the gateway, every decision
is made by copies.py / golden.py, and every change is recorded with its reason.

Per protected cluster:
1. copy its newest READY backup to each DR region unless a copy of it is READY or in
   progress there (DescribeBackups sourceBackupIds in that region), tagged so that
   the copy can be recognised later; the API returns no id, so the copy is looked
   up afterwards the same way;
2. report how its copies stand there: in progress, stuck, failed (ended DELETED);
3. mark golden backups (when enabled) before pruning, so they are never pruned;
4. prune the copies the rule lets go, re-reading each one's tags right before
   DeleteBackup (which leaves it PENDING_DELETION, restorable for 7 days);
5. compare the cluster's BackupRetentionPolicy with the config, and correct it when
   enforce_retention is on.

A failing API step becomes a COPY_JOB_ERROR finding for that cluster; the other
clusters and regions still run. `dry_run` decides and reports but changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from lambdas.backups.copy_report import (
    ClusterResult,
    CopyJobReport,
    RegionResult,
    nothing_to_copy,
    retention_drift,
    step_failed,
)
from lambdas.shared.copies import (
    GOLDEN_KEY,
    CopyAction,
    PruneDecision,
    PruneRule,
    RetentionCheck,
    RetentionStatus,
    check_retention,
    copies_by_source_cluster,
    copy_tags,
    decide_copy,
    deletion_blocker,
    region_copy_status,
)
from lambdas.shared.errors import CloudHsmDrError
from lambdas.shared.findings import copy_findings
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.golden import GoldenAction, GoldenDecision, decide_golden
from lambdas.shared.models import BACKUP_DELETED, BACKUP_READY, Backup, Cluster
from lambdas.shared.protected import ProtectedCluster
from lambdas.shared.settings import BackupSettings, VerificationSettings

GatewayFactory = Callable[[str], CloudHsmGateway]
EventLog = Callable[[str, dict[str, Any]], None]
_T = TypeVar("_T")


def _ignore(_message: str, _fields: dict[str, Any]) -> None:
    return None


def run_copy_job(
    settings: VerificationSettings,
    backups: BackupSettings,
    gateway_for: GatewayFactory,
    *,
    cluster_ids: Sequence[str] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    log: EventLog = _ignore,
) -> CopyJobReport:
    specs = [c for c in settings.clusters if not cluster_ids or c.id in cluster_ids]
    job = _CopyJob(
        settings,
        backups=backups,
        gateway_for=gateway_for,
        dry_run=dry_run,
        now=now or datetime.now(UTC),
        log=log,
    )
    return job.run(specs)


class _CopyJob:
    def __init__(
        self,
        settings: VerificationSettings,
        *,
        backups: BackupSettings,
        gateway_for: GatewayFactory,
        dry_run: bool,
        now: datetime,
        log: EventLog,
    ) -> None:
        self.settings = settings
        self.backups = backups
        self.dry_run = dry_run
        self.now = now
        self.log = log
        self._gateway_for = gateway_for
        self._gateways: dict[str, CloudHsmGateway] = {}
        self.stuck_after = timedelta(minutes=backups.copy_stuck_after_minutes)
        self.prune_rule = PruneRule(
            keep_newest=backups.copy_keep_newest,
            keep_days=backups.copy_keep_days,
            protected_cluster_ids=frozenset(c.id for c in settings.clusters),
            deployment_name=settings.deployment_name,
        )

    def gateway(self, region: str) -> CloudHsmGateway:
        if region not in self._gateways:
            self._gateways[region] = self._gateway_for(region)
        return self._gateways[region]

    def run(self, specs: Sequence[ProtectedCluster]) -> CopyJobReport:
        results = [ClusterResult(spec) for spec in specs]
        clusters = self._find_clusters(results)
        listings = self._list_dr_regions(results)
        for result in results:
            self._cluster(result, clusters.get(result.spec.id), listings)
        return CopyJobReport(self.settings.deployment_name, self.now, self.dry_run, tuple(results))

    # Reading --------------------------------------------------------------------------

    def _attempt(self, result: ClusterResult, step: str, call: Callable[[], _T]) -> _T | None:
        """Run one API step; a CloudHSM error becomes a finding instead of ending the run."""
        try:
            return call()
        except CloudHsmDrError as error:
            result.findings.append(step_failed(result.spec, step, error))
            self.log("copy job step failed", {"step": step, "error": str(error)})
            return None

    def _succeeds(self, result: ClusterResult, step: str, call: Callable[[], object]) -> bool:
        try:
            call()
        except CloudHsmDrError as error:
            result.findings.append(step_failed(result.spec, step, error))
            self.log("copy job step failed", {"step": step, "error": str(error)})
            return False
        return True

    def _find_clusters(self, results: list[ClusterResult]) -> dict[str, Cluster]:
        by_region: dict[str, list[ClusterResult]] = defaultdict(list)
        for result in results:
            by_region[result.spec.region].append(result)
        found: dict[str, Cluster] = {}
        for region, members in sorted(by_region.items()):
            ids = [m.spec.id for m in members]
            try:
                found.update(self.gateway(region).find_clusters(ids))
            except CloudHsmDrError as error:
                for member in members:
                    member.findings.append(
                        step_failed(member.spec, f"describe the clusters in {region}", error)
                    )
        return found

    def _list_dr_regions(self, results: list[ClusterResult]) -> dict[str, list[Backup] | None]:
        """Every backup of each DR region, listed once (there is no SourceCluster filter)."""
        listings: dict[str, list[Backup] | None] = {}
        for region in self.backups.dr_regions:
            try:
                listings[region] = list(self.gateway(region).iter_backups())
            except CloudHsmDrError as error:
                listings[region] = None
                for result in results:
                    result.findings.append(
                        step_failed(result.spec, f"list the backups in {region}", error)
                    )
        return listings

    # One cluster ----------------------------------------------------------------------

    def _cluster(
        self,
        result: ClusterResult,
        cluster: Cluster | None,
        listings: dict[str, list[Backup] | None],
    ) -> None:
        spec = result.spec
        home = self.gateway(spec.region)
        result.latest = self._attempt(
            result,
            f"read the newest READY backup in {spec.region}",
            lambda: home.latest_backup(spec.id, BACKUP_READY),
        )
        if result.latest is None and not result.findings:
            result.findings.append(nothing_to_copy(spec))
        for region in self.backups.dr_regions:
            listed = listings.get(region)
            if region == spec.region or listed is None:
                continue  # never copied into its own region; a failed listing is a finding
            copies = copies_by_source_cluster(listed).get(spec.id, [])
            self._region(result, region, copies)
        if self.backups.golden_enabled:
            self._golden_at_home(result)
        result.retention = self._retention(result, cluster)

    def _region(self, result: ClusterResult, region: str, copies: list[Backup]) -> None:
        region_result = RegionResult(region)
        result.regions.append(region_result)
        copies = copies + self._copy_latest(result, region_result)
        status = region_copy_status(result.spec.id, region, copies, self.now, self.stuck_after)
        region_result.status = status
        findings = copy_findings(result.spec, status, self.now, self.stuck_after, None)
        if region_result.created:
            # The failure was seen and a new copy is on its way: say so in the alert.
            note = " This run started a new copy of the newest backup."
            findings = [replace(f, message=f.message + note) for f in findings]
        result.findings.extend(findings)
        if self.backups.golden_enabled:
            copies = self._golden(result, region, copies)
        self._prune(result, region, copies)

    def _copy_latest(self, result: ClusterResult, region_result: RegionResult) -> list[Backup]:
        """Copy the newest READY backup unless it is copied already; the new copy, if any."""
        latest, region = result.latest, region_result.region
        dr = self.gateway(region)
        found: list[Backup] = []
        if latest is not None:
            listed = self._attempt(
                result,
                f"look for copies of {latest.backup_id} in {region}",
                lambda: list(dr.iter_backups(source_backup_ids=[latest.backup_id])),
            )
            if listed is None:
                return []
            found = listed
        decision = decide_copy(region, latest, found)
        region_result.decision = decision
        if decision.action is not CopyAction.COPY or latest is None:
            return []
        if self.dry_run:
            region_result.created.append({"source_backup": latest.backup_id, "backup_id": None})
            return []
        tags = copy_tags(self.settings.deployment_name, latest)
        started = self._attempt(
            result,
            f"copy {latest.backup_id} to {region}",
            lambda: self.gateway(result.spec.region).copy_backup_to_region(
                latest.backup_id, region, tags
            ),
        )
        if started is None:
            return []
        # CopyBackupToRegion returns no id for the copy: find it by its source backup.
        made = self._attempt(
            result,
            f"find the new copy of {latest.backup_id} in {region}",
            lambda: [
                c
                for c in dr.iter_backups(source_backup_ids=[latest.backup_id])
                if c.state != BACKUP_DELETED and c.backup_id not in {f.backup_id for f in found}
            ],
        )
        copy = made[0] if made else None
        region_result.created.append(
            {
                "source_backup": latest.backup_id,
                "backup_id": copy.backup_id if copy else None,
                "state": copy.state if copy else "not yet listed",
            }
        )
        self.log(
            "copy started",
            {"source_backup": latest.backup_id, "region": region, "copy": copy and copy.backup_id},
        )
        return [copy] if copy else []

    # Golden backups ---------------------------------------------------------------------

    def _golden_at_home(self, result: ClusterResult) -> None:
        spec = result.spec
        home = self.gateway(spec.region)
        ready = self._attempt(
            result,
            f"list the READY backups in {spec.region}",
            lambda: list(home.iter_backups(cluster_ids=[spec.id], state=BACKUP_READY)),
        )
        if ready is not None:
            self._golden(result, spec.region, ready)

    def _golden(self, result: ClusterResult, region: str, backups: list[Backup]) -> list[Backup]:
        """Apply the golden decisions; the backups as they are afterwards."""
        updated = {b.backup_id: b for b in backups}
        for decision in decide_golden(
            backups, period=self.backups.golden_period, keep=self.backups.golden_keep
        ):
            if decision.action is GoldenAction.KEEP:
                continue
            backup_id = decision.backup.backup_id
            entry = {
                "backup_id": backup_id,
                "region": region,
                "period": decision.period,
                "reason": decision.reason,
            }
            marking = decision.action is GoldenAction.MARK
            if not self.dry_run:
                if not self._apply_golden(result, region, decision):
                    continue
                self.log("golden backup " + ("marked" if marking else "unmarked"), entry)
            (result.golden_marked if marking else result.golden_unmarked).append(entry)
            tags = dict(decision.backup.tags)
            if marking:
                tags[GOLDEN_KEY] = decision.period
            else:
                tags.pop(GOLDEN_KEY, None)
            updated[backup_id] = replace(decision.backup, never_expires=marking, tags=tags)
        return list(updated.values())

    def _apply_golden(self, result: ClusterResult, region: str, decision: GoldenDecision) -> bool:
        gateway, backup_id = self.gateway(region), decision.backup.backup_id
        # Tag before setting NeverExpires, clear NeverExpires before untagging: if a call
        # fails, the tag still says the flag is ours, and the next run repairs it.
        steps: list[tuple[str, Callable[[], object]]]
        if decision.action is GoldenAction.MARK:
            steps = [
                ("tag", lambda: gateway.tag_resource(backup_id, {GOLDEN_KEY: decision.period})),
                ("set NeverExpires on", lambda: gateway.set_never_expires(backup_id, True)),
            ]
        else:
            steps = [
                ("clear NeverExpires on", lambda: gateway.set_never_expires(backup_id, False)),
                ("untag", lambda: gateway.untag_resource(backup_id, [GOLDEN_KEY])),
            ]
        return all(
            self._succeeds(result, f"{verb} golden backup {backup_id} in {region}", call)
            for verb, call in steps
        )

    # Pruning ----------------------------------------------------------------------------

    def _prune(self, result: ClusterResult, region: str, copies: list[Backup]) -> None:
        for decision in self.prune_rule.decide(copies, self.now):
            entry = {
                "backup_id": decision.backup.backup_id,
                "region": region,
                "reason": decision.reason,
            }
            if not decision.delete:
                result.kept.append(entry)
            else:
                self._delete(result, region, decision, entry)

    def _delete(
        self, result: ClusterResult, region: str, decision: PruneDecision, entry: dict[str, Any]
    ) -> None:
        backup = decision.backup
        if self.dry_run:
            result.pruned.append({**entry, "state": backup.state, "dry_run": True})
            return
        gateway = self.gateway(region)
        # The listing may be minutes old: re-read the tags right before deleting.
        tags = self._attempt(
            result,
            f"read the tags of {backup.backup_id} in {region}",
            lambda: gateway.list_tags(backup.backup_id),
        )
        if tags is None:
            result.kept.append({**entry, "reason": "its tags could not be read: not deleted"})
            return
        blocker = deletion_blocker(
            backup, tags, self.prune_rule.protected_cluster_ids, self.prune_rule.deployment_name
        )
        if blocker is not None:
            result.kept.append({**entry, "reason": f"tags re-read before deleting: {blocker}"})
            return
        deleted = self._attempt(
            result,
            f"delete {backup.backup_id} in {region}",
            lambda: gateway.delete_backup(backup.backup_id),
        )
        if deleted is None:
            return
        pruned = {**entry, "state": deleted.state}
        result.pruned.append(pruned)
        self.log(
            f"copy pruned: {backup.backup_id} is now {deleted.state} (RestoreBackup can bring "
            "it back for 7 days)",
            pruned,
        )

    # Retention policy -------------------------------------------------------------------

    def _retention(self, result: ClusterResult, cluster: Cluster | None) -> RetentionCheck:
        spec = result.spec
        check = check_retention(
            cluster.retention_days if cluster else None, spec.retention_days, cluster is not None
        )
        if check.status is not RetentionStatus.DRIFT:
            return check
        if not self.backups.enforce_retention:
            result.findings.append(retention_drift(spec, check))
            return check
        desired = check.desired
        assert desired is not None
        if self.dry_run:
            return replace(check, reason=f"{check.reason}; a real run corrects it")
        corrected = self._attempt(
            result,
            f"set the retention policy of {spec.id} to {desired} days",
            lambda: self.gateway(spec.region).set_retention_days(spec.id, desired),
        )
        if corrected is None:
            return check
        self.log("retention policy corrected", {"cluster_id": spec.id, "days": desired})
        return RetentionCheck(
            RetentionStatus.CORRECTED,
            corrected.retention_days,
            desired,
            f"{check.reason}: set to {desired} days with ModifyCluster",
        )
