"""Monitoring: the alarms that say what broke and which runbook to open, and (in the
main stack) the deployment's dashboard.

A stack adds this construct LAST: it walks the stack's construct tree and alarms on
every Lambda function and every state machine it finds, so a new workflow or function
is covered without touching this file; synthesis fails if one is added after it.

Alarms are on clusters (ClusterId), never on HSM ids, which change when AWS replaces
an HSM, and name the `service` dimension Powertools adds (stacks/constructs/
project_metrics.py). Page alarms escalate (Alerting.page_on); notify alarms do not.

- page: backup older than the RPO or not verified (BackupAgeSeconds per cluster, missing
  data breaching); PagingFindings > 0 (verification findings that put a recovery point
  at risk); a copy missing or stale in a DR region (NewestCopyAgeSeconds per cluster
  and region, from the copy job here and from the region's own monitor in its DR
  stack); AWS/CloudHSM HsmUnhealthy per
  cluster of this region; DesiredHsms - HealthyHsms > 0 per cluster; ExecutionsFailed
  and ExecutionsTimedOut per state machine; no successful drill within
  `drills.period_days` (DaysSinceSuccessfulDrill, from the drill watcher).
- notify: CopiesFailed > 0 (the next run copies again; the copy age alarm pages if it
  does not); a drill slower than `drills.rto_minutes` (DrillRecoveryTimeSeconds); Errors
  and Throttles per Lambda function.

A metric another alarm of the stack already watches for the same cluster, state
machine or function gets no second alarm: the health check's own HsmUnhealthy and
capacity alarms, the scheduled jobs' errors alarms, the workflows' timeout alarms.
"""

from __future__ import annotations

import math
from typing import Literal

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct, IConstruct

from lambdas.drill.watch import DAYS_SINCE_SUCCESSFUL_DRILL
from lambdas.shared import runbooks
from lambdas.shared.env import METRICS_NAMESPACE
from stacks.config import DeploymentConfig, ProtectedClusterConfig, schedule_interval_minutes
from stacks.constructs.alerting.alerting import ALARM_PERIOD, Alerting
from stacks.constructs.alerting.project_metrics import (
    cluster_label,
    copy_limit_seconds,
    project_metric,
    schedule_period,
)
from stacks.constructs.replacement.hsm_health import hsm_unhealthy_metric, hsm_unhealthy_query
from stacks.constructs.shared.stack_walk import (
    NothingAddedAfter,
    WatchedMetrics,
    Workflow,
    find_functions,
    find_workflows,
)
from stacks.names import (
    CAPTURE_KEY_MANIFEST,
    CHECK_HEALTH,
    COPY_BACKUPS,
    COPY_MONITOR,
    DR_DRILL,
    ON_DEMAND_BACKUP,
    REPLACE_HSM,
    VERIFY_BACKUPS,
    VERIFY_KEYS,
    WATCH_DRILLS,
)


class Runbook:
    """The runbooks under docs/runbooks/ that alarm descriptions send people to."""

    COMPLETE_CLUSTER_FAILURE = runbooks.COMPLETE_CLUSTER_FAILURE
    SINGLE_HSM_FAILURE = runbooks.SINGLE_HSM_FAILURE
    DR_DRILL = runbooks.DR_DRILL
    ON_DEMAND_BACKUP = runbooks.ON_DEMAND_BACKUP
    COPY_FAILURE = runbooks.COPY_FAILURE


RESTORE_CLUSTER = "restore-cluster"
# State machine name suffix (after "{deployment_name}-") -> its runbook.
WORKFLOW_RUNBOOKS = {
    ON_DEMAND_BACKUP: Runbook.ON_DEMAND_BACKUP,
    REPLACE_HSM: Runbook.SINGLE_HSM_FAILURE,
    RESTORE_CLUSTER: Runbook.COMPLETE_CLUSTER_FAILURE,
    DR_DRILL: Runbook.DR_DRILL,
}
# Function service name (POWERTOOLS_SERVICE_NAME) -> the runbook of what it serves.
SERVICE_RUNBOOKS = {
    VERIFY_BACKUPS: Runbook.ON_DEMAND_BACKUP,
    ON_DEMAND_BACKUP: Runbook.ON_DEMAND_BACKUP,
    CHECK_HEALTH: Runbook.SINGLE_HSM_FAILURE,
    REPLACE_HSM: Runbook.SINGLE_HSM_FAILURE,
    RESTORE_CLUSTER: Runbook.COMPLETE_CLUSTER_FAILURE,
    COPY_BACKUPS: Runbook.COPY_FAILURE,
    COPY_MONITOR: Runbook.COPY_FAILURE,
    DR_DRILL: Runbook.DR_DRILL,
    WATCH_DRILLS: Runbook.DR_DRILL,
    VERIFY_KEYS: Runbook.DR_DRILL,
    CAPTURE_KEY_MANIFEST: Runbook.DR_DRILL,
}
NO_RUNBOOK = "no runbook names it yet: see docs/runbooks/"
GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


def workflow_runbook(workflow: Workflow, deployment_name: str) -> str | None:
    return WORKFLOW_RUNBOOKS.get(workflow.name.removeprefix(f"{deployment_name}-"))


class _Alarms(Construct):
    """What every monitoring construct shares: alarms on the stack's topics, and the two
    drill alarms."""

    # How the alarm text tells an operator to read the latest drill report.
    report_command = "hsmdr drill report --config <deployment config>"
    drill_name = "DR drill"

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, alerting: Alerting
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.alerting = alerting
        self.stack = Stack.of(self)
        self.alarms: list[cloudwatch.Alarm] = []

    def _alarm(
        self,
        construct_id: str,
        *,
        severity: Literal["page", "notify"],
        description: str,
        runbook: str | None,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        missing: cloudwatch.TreatMissingData | Literal["quiet-until-data"],
        periods: int = 1,
    ) -> cloudwatch.Alarm:
        """`missing="quiet-until-data"`: for a metric that a fresh deployment has not
        emitted yet. Missing data keeps the alarm out of ALARM, so a new deployment is
        quiet (missing data as breaching paged from the first day). An alarm is created
        in INSUFFICIENT_DATA and actions run on state changes only, so the alarm acts on
        the way back to INSUFFICIENT_DATA alone: when the metric that once came stops
        (a stopped reporter), it says so at the alarm's severity."""
        quiet_until_data = missing == "quiet-until-data"
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=f"{description} Runbook: {runbook or NO_RUNBOOK}",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            treat_missing_data=(
                cloudwatch.TreatMissingData.MISSING if isinstance(missing, str) else missing
            ),
        )
        if severity == "page":
            self.alerting.page_on(alarm)
        else:
            self.alerting.notify_on(alarm)
        if quiet_until_data:
            action = self.alerting.action if severity == "page" else self.alerting.notify_action
            alarm.add_insufficient_data_action(action)
        self.alarms.append(alarm)
        return alarm

    def _drills(self) -> None:
        drills = self.config.drills
        self._alarm(
            "DrillOverdue",
            severity="page",
            description=(
                f"No {self.drill_name} has succeeded in the last {drills.period_days} days "
                "(drills.period_days), or the drill watcher stopped reporting: nobody knows "
                "that the backups restore. Run a drill."
            ),
            runbook=Runbook.DR_DRILL,
            metric=project_metric(
                WATCH_DRILLS, DAYS_SINCE_SUCCESSFUL_DRILL, period=Duration.days(1)
            ),
            threshold=drills.period_days,
            comparison=GT,
            # The watcher emits the metric on every daily run (the lookback when no drill
            # ever succeeded), so an overdue drill is data, not silence: quiet until its
            # first run, then a watcher that stops reporting pages as INSUFFICIENT_DATA
            # (its crashes and failed invocations page through its own job's alarms).
            missing="quiet-until-data",
            periods=2,
        )

    def _drill_rto(self) -> None:
        rto = self.config.drills.rto_minutes
        self._alarm(
            "DrillRtoExceeded",
            severity="notify",
            description=(
                f"A {self.drill_name} took longer than the recovery time objective of {rto} "
                "minutes (drills.rto_minutes) to restore a cluster. Read its report: "
                f"{self.report_command} (the latest drill)."
            ),
            runbook=Runbook.DR_DRILL,
            metric=project_metric(DR_DRILL, "DrillRecoveryTimeSeconds", period=Duration.days(1)),
            threshold=rto * 60,
            comparison=GT,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )


class Monitoring(_Alarms):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
        dr_region: str | None = None,
    ) -> None:
        """In the main stack (`dr_region` None): every alarm, the drill watcher and the
        dashboard. In a DR-region stack: that region's copies, workflows and functions."""
        super().__init__(scope, construct_id, config=config, alerting=alerting)
        if dr_region is None:
            from stacks.constructs.drill.drill_watch import DrillWatch

            DrillWatch(self, "DrillWatch", config=config, alerting=alerting)
        # Every other construct of the stack exists now: this one is added last.
        self.watched = WatchedMetrics(self.stack)
        self.workflows = find_workflows(self.stack)
        self.functions = find_functions(self.stack)
        if dr_region is None:
            self._backups()
            self._copies_from_primary()
            self._hsms()
            self._drills()
        else:
            self._copies_held_in(dr_region)
        self._drill_rto()
        self._workflows()
        self._functions()
        if dr_region is None:
            from stacks.constructs.alerting.dashboard import DeploymentDashboard

            self.dashboard = DeploymentDashboard(
                self, "Dashboard", config=config, workflows=self.workflows
            ).dashboard
        seen = {w.resource.node.path for w in self.workflows}
        seen |= {f.resource.node.path for f in self.functions}
        self.node.add_validation(NothingAddedAfter(self, seen, self._added_late))

    def _added_late(self, path: str) -> str:
        return (
            f"{path} was added after {self.node.path}: add Monitoring last in the stack so "
            "its alarms cover every function and state machine"
        )

    # -- alarms ----------------------------------------------------------------------

    def _backups(self) -> None:
        config = self.config
        period = schedule_period(config.schedules.verify_backups)
        for cluster in config.protected_clusters:
            rpo_hours = cluster.rpo_hours or config.rpo_hours
            # Two runs in a row: one late run is not a page; a silent verification is.
            self._alarm(
                f"BackupAge-{cluster.id}",
                severity="page",
                description=(
                    f"The newest READY backup of {cluster_label(cluster)} is older than its "
                    f"RPO of {rpo_hours:g} h, or the backup verification has stopped "
                    "reporting its age (no READY backup, or the function is not running). "
                    f"Check: hsmdr backup verify --config <deployment config>; force a "
                    "backup: hsmdr backup create --config <deployment config> --cluster "
                    f"{cluster.id} --follow."
                ),
                runbook=Runbook.ON_DEMAND_BACKUP,
                metric=project_metric(
                    VERIFY_BACKUPS,
                    "BackupAgeSeconds",
                    dimensions={"ClusterId": cluster.id},
                    period=period,
                ),
                threshold=rpo_hours * 3600,
                comparison=GT,
                missing=cloudwatch.TreatMissingData.BREACHING,
                periods=2,
            )
        self._alarm(
            "VerificationFindings",
            severity="page",
            description=(
                "The backup verification reported findings that put a recovery point at "
                "risk (the paging findings of lambdas/alerting/alerts.py; the others only "
                "notify). Its SNS message names each finding and its next step; see them "
                "again: hsmdr backup verify --config <deployment config>."
            ),
            runbook=(
                f"{Runbook.SINGLE_HSM_FAILURE} (HSM findings), "
                f"{Runbook.COMPLETE_CLUSTER_FAILURE} (cluster not found or not ACTIVE), "
                f"{Runbook.COPY_FAILURE} (copy findings), {Runbook.ON_DEMAND_BACKUP} (backup "
                "findings)"
            ),
            metric=project_metric(VERIFY_BACKUPS, "PagingFindings", period=period),
            threshold=0,
            comparison=GT,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _copy_age_alarm(
        self, cluster: ProtectedClusterConfig, region: str, metric: cloudwatch.Metric, held: bool
    ) -> None:
        limit = copy_limit_seconds(self.config, cluster)
        where = "the copy monitor in that region" if held else "the copy job"
        self._alarm(
            f"CopyAge-{cluster.id}-{region}",
            severity="page",
            description=(
                f"The newest READY copy of {cluster_label(cluster)} in {region} is older "
                f"than {limit / 3600:g} h (RPO + copy interval + stuck allowance), as "
                f"{where} reports"
                + (", or no READY copy is there at all (or the monitor stopped)" if held else "")
                + ". A regional disaster would restore from an old backup. List: hsmdr "
                f"backup list --config <deployment config> --region {region}."
            ),
            runbook=Runbook.COPY_FAILURE,
            metric=metric,
            threshold=limit,
            comparison=GT,
            # The DR-region monitor runs hourly and emits the age only of a READY copy:
            # quiet until the first copy is there (a fresh deployment has none; the
            # monitor itself reports COPY_MISSING), then its silence about a cluster (no
            # READY copy left, or no monitor) pages as INSUFFICIENT_DATA. The daily job's
            # silence is the monitor's to see.
            missing="quiet-until-data" if held else cloudwatch.TreatMissingData.NOT_BREACHING,
            periods=2 if held else 1,
        )

    def _copies_from_primary(self) -> None:
        config = self.config
        if not config.dr_regions:
            return
        period = schedule_period(config.schedules.copy_backups)
        for cluster in config.protected_clusters:
            for region in config.dr_regions:
                metric = project_metric(
                    COPY_BACKUPS,
                    "NewestCopyAgeSeconds",
                    dimensions={"ClusterId": cluster.id, "Region": region},
                    period=period,
                )
                self._copy_age_alarm(cluster, region, metric, held=False)
        self._alarm(
            "CopiesFailed",
            severity="notify",  # one failed copy: the next run copies again; CopyAge pages
            description=(
                "The copy job saw backup copies to a DR region fail (they ended DELETED). "
                "Its SNS message names the cluster, region and backup; see them again: "
                "hsmdr backup copy --config <deployment config> --dry-run."
            ),
            runbook=Runbook.COPY_FAILURE,
            metric=project_metric(COPY_BACKUPS, "CopiesFailed", statistic="Sum", period=period),
            threshold=0,
            comparison=GT,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _copies_held_in(self, region: str) -> None:
        period = schedule_period(self.config.schedules.verify_backups)
        for cluster in self.config.protected_clusters:
            metric = project_metric(
                COPY_MONITOR,
                "NewestCopyAgeSeconds",
                dimensions={"ClusterId": cluster.id, "Region": region},
                period=period,
            )
            self._copy_age_alarm(cluster, region, metric, held=True)

    def _hsms(self) -> None:
        config = self.config
        for cluster in config.protected_clusters:
            # AWS/CloudHSM metrics live in the cluster's region: an alarm sees its own.
            if cluster.region == self.stack.region and not self.watched.covers_query(
                hsm_unhealthy_query(cluster.id)
            ):
                self._alarm(
                    f"HsmUnhealthy-{cluster.id}",
                    severity="page",
                    description=(
                        f"CloudHSM reports an unhealthy HSM in {cluster_label(cluster)}. AWS "
                        "replaces unhealthy HSMs itself; a DEGRADED one must be replaced. "
                        "Look: hsmdr backup verify --config <deployment config>."
                    ),
                    runbook=Runbook.SINGLE_HSM_FAILURE,
                    metric=hsm_unhealthy_metric(cluster.id),
                    threshold=1,
                    comparison=GTE,
                    missing=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            identity = {"ClusterId": cluster.id}
            if not (
                self.watched.covers(METRICS_NAMESPACE, "DesiredHsms", identity)
                and self.watched.covers(METRICS_NAMESPACE, "HealthyHsms", identity)
            ):
                self._capacity_alarm(cluster)

    def _capacity_alarm(self, cluster: ProtectedClusterConfig) -> None:
        config = self.config
        interval = min(schedule_interval_minutes(config.schedules.health_check), 60)
        period = Duration.minutes(interval)
        # Long enough for an automatic replacement to finish first.
        periods = min(
            math.ceil(config.hsm_replacement.hsm_timeout_minutes / interval) + 1,
            24 * 60 // interval,
        )
        dims = {"ClusterId": cluster.id}
        self._alarm(
            f"HsmsBelowDesired-{cluster.id}",
            severity="page",
            description=(
                f"{cluster_label(cluster)} has had fewer ACTIVE HSMs than desired for "
                f"{interval * periods} minutes, longer than a replacement needs."
            ),
            runbook=Runbook.SINGLE_HSM_FAILURE,
            metric=cloudwatch.MathExpression(
                expression="desired - healthy",
                using_metrics={
                    "desired": project_metric(
                        CHECK_HEALTH, "DesiredHsms", dimensions=dims, period=period
                    ),
                    "healthy": project_metric(
                        CHECK_HEALTH, "HealthyHsms", dimensions=dims, period=period
                    ),
                },
                period=period,
                label="HSMs missing",
            ),
            threshold=0,
            comparison=GT,
            missing=cloudwatch.TreatMissingData.IGNORE,
            periods=periods,
        )

    def _workflows(self) -> None:
        for workflow in self.workflows:
            identity = {"StateMachineArn": workflow.arn}
            for metric_name, what in (
                ("ExecutionsFailed", "failed"),
                ("ExecutionsTimedOut", "timed out"),
            ):
                if self.watched.covers("AWS/States", metric_name, identity):
                    continue
                self._alarm(
                    f"{metric_name}-{_path_id(workflow.resource)}",
                    severity="page",
                    description=(
                        f"An execution of the state machine {workflow.name} {what}. Read "
                        "what it did and where it stopped: hsmdr report <execution ARN> (the "
                        "state machine's executions in the console)."
                    ),
                    runbook=workflow_runbook(workflow, self.config.deployment_name),
                    metric=cloudwatch.Metric(
                        namespace="AWS/States",
                        metric_name=metric_name,
                        dimensions_map=identity,
                        statistic="Sum",
                        period=ALARM_PERIOD,
                    ),
                    threshold=1,
                    comparison=GTE,
                    missing=cloudwatch.TreatMissingData.NOT_BREACHING,
                )

    def _functions(self) -> None:
        for function in self.functions:
            identity = {"FunctionName": function.name}
            for metric_name, what in (("Errors", "errors"), ("Throttles", "throttled calls")):
                if self.watched.covers("AWS/Lambda", metric_name, identity):
                    continue
                self._alarm(
                    f"Function{metric_name}-{_path_id(function.resource)}",
                    severity="notify",
                    description=(
                        f"The Lambda function {function.service} had {what}. Its log "
                        "group says why; a workflow or job it serves may have failed too."
                    ),
                    runbook=SERVICE_RUNBOOKS.get(function.service),
                    metric=cloudwatch.Metric(
                        namespace="AWS/Lambda",
                        metric_name=metric_name,
                        dimensions_map=identity,
                        statistic="Sum",
                        period=ALARM_PERIOD,
                    ),
                    threshold=1,
                    comparison=GTE,
                    missing=cloudwatch.TreatMissingData.NOT_BREACHING,
                )


def _path_id(resource: IConstruct) -> str:
    """A construct id from a resource's path in its stack, stable across syntheses."""
    parts = resource.node.path.split("/")[1:]
    if parts and parts[-1] == "Resource":
        parts = parts[:-1]
    return "-".join(parts)


class VaultDrillMonitoring(_Alarms):
    """In the vault stack: the vault drill's watcher (days since a drill from the vault
    succeeded, from the recovery account's own metric) and the same two drill alarms as
    the main stack's, on the vault stack's topics. The vault's workflows and functions
    page through their own alarms (stacks/constructs/vault/)."""

    report_command = "hsmdr drill report --vault --config <deployment config>"
    drill_name = "DR drill from the vault (the vault stack's dr-drill)"

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, alerting: Alerting
    ) -> None:
        super().__init__(scope, construct_id, config=config, alerting=alerting)
        from stacks.constructs.drill.drill_watch import DrillWatch

        self.watch = DrillWatch(self, "DrillWatch", config=config, alerting=alerting)
        self._drills()
        self._drill_rto()
