"""The deployment's CloudWatch dashboard (named `{deployment_name}`; dashboard names are
global to the account, so only the main stack makes one): backup age against the RPO
and HSMs against desired per cluster, the newest copy per DR region, the last drill and
its recovery time against the RTO, and the executions of every workflow: the main
stack's, and each DR region's restore state machine (a cross-region metric, its ARN
built from the fixed name: no reference to the DR stacks, which deploy on their own)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from lambdas.drill.watch import DAYS_SINCE_SUCCESSFUL_DRILL
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.project_metrics import (
    ALARM_RED,
    cluster_label,
    copy_limit_seconds,
    project_metric,
    schedule_period,
)
from stacks.constructs.shared.stack_walk import Workflow
from stacks.names import (
    CHECK_HEALTH,
    COPY_BACKUPS,
    COPY_MONITOR,
    DR_DRILL,
    VERIFY_BACKUPS,
    WATCH_DRILLS,
    restore_state_machine_name,
)

WORKFLOW_PERIOD = Duration.hours(1)
DAY = Duration.days(1)
OUTCOMES = ("Started", "Succeeded", "Failed", "TimedOut", "Aborted")


class DeploymentDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        workflows: Sequence[Workflow],
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=config.deployment_name,
            default_interval=Duration.days(7),
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    f"# {config.deployment_name}: CloudHSM backups and recovery\n"
                    "Runbooks in docs/runbooks/: complete-cluster-failure, single-hsm-failure, "
                    "on-demand-backup, copy-failure, dr-drill."
                ),
                width=24,
                height=2,
            )
        )
        for cluster_widgets in self._clusters():
            self.dashboard.add_widgets(*cluster_widgets)
        self._add(self._copies())
        self._add(self._drills(Stack.of(self).region))
        self._add(
            [
                *(self._executions(f"Executions: {w.name}", w.arn) for w in workflows),
                *(self._dr_restore_executions(r) for r in config.dr_regions),
            ]
        )

    def _add(self, widgets: Sequence[cloudwatch.IWidget]) -> None:
        if widgets:
            self.dashboard.add_widgets(*widgets)

    def _clusters(self) -> list[list[cloudwatch.IWidget]]:
        config = self.config
        verify_period = schedule_period(config.schedules.verify_backups)
        health_period = schedule_period(config.schedules.health_check)
        rows: list[list[cloudwatch.IWidget]] = []
        for cluster in config.protected_clusters:
            rpo_hours = cluster.rpo_hours or config.rpo_hours
            dims = {"ClusterId": cluster.id}
            age = project_metric(
                VERIFY_BACKUPS, "BackupAgeSeconds", dimensions=dims, period=verify_period
            )
            hsms = [
                project_metric(
                    CHECK_HEALTH, name, dimensions=dims, period=health_period, label=label
                )
                for name, label in (
                    ("HealthyHsms", "healthy"),
                    ("DesiredHsms", "desired"),
                    ("DegradedHsms", "degraded"),
                )
            ]
            rows.append(
                [
                    cloudwatch.GraphWidget(
                        title=f"Backup age vs RPO (h): {cluster_label(cluster)}",
                        left=[_scaled(age, 3600, "newest READY backup age (h)")],
                        left_annotations=[_line(rpo_hours, f"RPO {rpo_hours:g} h")],
                        width=12,
                    ),
                    cloudwatch.GraphWidget(
                        title=f"HSMs vs desired: {cluster_label(cluster)}", left=hsms, width=12
                    ),
                ]
            )
        return rows

    def _copies(self) -> list[cloudwatch.IWidget]:
        config = self.config
        copy_period = schedule_period(config.schedules.copy_backups)
        monitor_period = schedule_period(config.schedules.verify_backups)
        widgets: list[cloudwatch.IWidget] = []
        for region in config.dr_regions:
            lines: list[cloudwatch.IMetric] = []
            for cluster in config.protected_clusters:
                dims = {"ClusterId": cluster.id, "Region": region}
                label = cluster.name or cluster.id
                job = project_metric(
                    COPY_BACKUPS, "NewestCopyAgeSeconds", dimensions=dims, period=copy_period
                )
                monitor = project_metric(
                    COPY_MONITOR,
                    "NewestCopyAgeSeconds",
                    dimensions=dims,
                    period=monitor_period,
                    region=region,
                )
                lines.append(_scaled(job, 3600, f"{label}: copy job", len(lines)))
                lines.append(_scaled(monitor, 3600, f"{label}: {region} monitor", len(lines)))
            limits = sorted(
                {copy_limit_seconds(config, c) / 3600 for c in config.protected_clusters}
            )
            widgets.append(
                cloudwatch.GraphWidget(
                    title=f"Newest copy age in {region} (h)",
                    left=lines,
                    left_annotations=[_line(h, f"copy freshness limit {h:g} h") for h in limits],
                    width=12,
                )
            )
        return widgets

    def _drills(self, region: str) -> list[cloudwatch.IWidget]:
        drills = self.config.drills
        regions = [region, *self.config.dr_regions]  # wherever a drill may run
        window = f"-P{max(2 * drills.period_days, 365)}D"
        results: list[cloudwatch.IMetric] = [
            project_metric(
                DR_DRILL,
                "DrillSucceeded",
                period=DAY,
                region=r,
                label=f"last drill succeeded (1/0), {r}",
            )
            for r in regions
        ]
        results.append(
            project_metric(
                WATCH_DRILLS,
                DAYS_SINCE_SUCCESSFUL_DRILL,
                period=DAY,
                label=f"days since a successful drill (limit {drills.period_days})",
            )
        )
        recovery = [
            _scaled(
                project_metric(DR_DRILL, "DrillRecoveryTimeSeconds", period=DAY, region=r),
                60,
                f"recovery time (min), {r}",
                index,
            )
            for index, r in enumerate(regions)
        ]
        return [
            cloudwatch.SingleValueWidget(
                title="Last DR drill", metrics=results, start=window, width=12
            ),
            cloudwatch.GraphWidget(
                title="DR drill recovery time vs RTO (min)",
                left=recovery,
                left_annotations=[_line(drills.rto_minutes, f"RTO {drills.rto_minutes} min")],
                start=window,
                width=12,
            ),
        ]

    def _dr_restore_executions(self, region: str) -> cloudwatch.IWidget:
        """The restore state machine of the DR stack in `region` (`DrRegionStack`): the
        same fixed name as there, in that region of this account."""
        arn = Stack.of(self).format_arn(
            service="states",
            region=region,
            resource="stateMachine",
            resource_name=restore_state_machine_name(self.config.deployment_name),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return self._executions(f"Restore executions in {region} (DR)", arn, region)

    def _executions(self, title: str, arn: str, region: str | None = None) -> cloudwatch.IWidget:
        return cloudwatch.GraphWidget(
            title=title,
            left=[
                cloudwatch.Metric(
                    namespace="AWS/States",
                    metric_name=f"Executions{outcome}",
                    dimensions_map={"StateMachineArn": arn},
                    statistic="Sum",
                    period=WORKFLOW_PERIOD,
                    region=region,
                    label=outcome.lower(),
                )
                for outcome in OUTCOMES
            ],
            width=12,
        )


def _scaled(
    metric: cloudwatch.Metric, divisor: int, label: str, index: int = 0
) -> cloudwatch.MathExpression:
    """`metric / divisor` (seconds as hours or minutes); `index` keeps the variable
    names of one graph distinct."""
    return cloudwatch.MathExpression(
        expression=f"s{index} / {divisor}",
        using_metrics={f"s{index}": metric},
        label=label,
        period=metric.period,
    )


def _line(value: float, label: str) -> cloudwatch.HorizontalAnnotation:
    return cloudwatch.HorizontalAnnotation(value=value, label=label, color=ALARM_RED)
