"""The HSM health check as pure decisions: facts in, what to report and do out.

For each protected cluster: compare its HSMs with the desired topology, then decide
whether to start the replacement workflow, wait (a workflow, or AWS, is already
changing the cluster), or ask a person. Alerts go out when the automation acted or a
person is needed; a repair already under way stays quiet (its workflow alerts when it
ends), so on-call is not paged every few minutes for the same fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lambdas.replacement.replace import REPAIRABLE_CLUSTER_STATES, Target, select_target
from lambdas.shared.executions import ExecutionView, LockView
from lambdas.shared.models import HSM_ACTIVE, Cluster
from lambdas.shared.protected import ProtectedCluster
from lambdas.shared.topology import TopologyCheck, check_topology

HEALTHY = "HEALTHY"
REPLACEMENT_STARTED = "REPLACEMENT_STARTED"
REPLACEMENT_RUNNING = "REPLACEMENT_RUNNING"
BUSY = "BUSY"  # another workflow (an on-demand backup) holds the cluster
CHANGING = "CHANGING"  # HSMs being created or deleted outside our workflows
NEEDS_ATTENTION = "NEEDS_ATTENTION"
ALERTING = (REPLACEMENT_STARTED, NEEDS_ATTENTION)

REPLACEMENT_PURPOSE = "HSM replacement"  # the lock purpose of the replacement workflow
# Execution names carry a time bucket: a schedule run and an alarm-triggered run that
# see the same failure at the same time compute the same name, and Step Functions
# starts it once.
NAME_BUCKET = timedelta(minutes=15)
# After a failed replacement the same failure is not retried automatically for this
# long: the alert asks a person, who may know why the zone keeps failing.
FAILED_RETRY_AFTER = timedelta(hours=24)
_UNSUCCESSFUL = ("FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class ClusterHealth:
    spec: ProtectedCluster
    cluster: Cluster | None
    check: TopologyCheck | None

    @property
    def desired_hsms(self) -> int:
        return self.spec.desired_hsm_count

    @property
    def healthy_hsms(self) -> int:
        """ACTIVE HSMs counted up to each zone's desired number, so a spare HSM in one
        zone never hides a gap in another: Desired - Healthy > 0 means a zone is short."""
        if self.check is None:
            return 0
        return sum(
            min(self.check.active_per_az.get(zone, 0), want)
            for zone, want in self.spec.hsms_per_az.items()
        )

    @property
    def degraded_hsms(self) -> int:
        return len(self.check.degraded) if self.check else 0

    @property
    def problems(self) -> tuple[str, ...]:
        if self.cluster is None:
            return (f"cluster not found in {self.spec.region}",)
        found = []
        if self.cluster.state not in REPAIRABLE_CLUSTER_STATES:
            found.append(f"cluster is {self.cluster.state}")
        assert self.check is not None
        for hsm in self.check.degraded:
            message = f" ({hsm.state_message})" if hsm.state_message else ""
            found.append(
                f"HSM {hsm.hsm_id} in {hsm.availability_zone} ({hsm.eni_ip}) is DEGRADED{message}"
            )
        for gap in self.check.gaps:
            found.append(
                f"{gap.availability_zone} has {gap.active} ACTIVE HSM(s), {gap.desired} desired"
            )
        return tuple(found)

    @property
    def target(self) -> Target | None:
        return select_target(self.check) if self.check else None


def assess(spec: ProtectedCluster, cluster: Cluster | None) -> ClusterHealth:
    check = None if cluster is None else check_topology(cluster, spec.hsms_per_az)
    return ClusterHealth(spec, cluster, check)


@dataclass(frozen=True)
class HealthDecision:
    status: str
    reason: str
    target: Target | None = None
    execution_name: str | None = None  # set when the decision is to start one
    related_execution: ExecutionView | None = None  # a running or failed one, if any

    @property
    def start(self) -> bool:
        return self.execution_name is not None


def execution_name(cluster_id: str, target: Target, now: datetime) -> str:
    bucket = int(now.timestamp() // NAME_BUCKET.total_seconds())
    return f"{name_prefix(cluster_id, target)}{bucket}"


def name_prefix(cluster_id: str, target: Target) -> str:
    return f"{cluster_id}-{target.key}-"


def decide(
    health: ClusterHealth,
    *,
    auto_replace: bool,
    lock: LockView | None,
    recent: Sequence[ExecutionView],
    now: datetime,
) -> HealthDecision:
    """What to do about one cluster. `lock` is a live holder of the cluster lock (stale
    locks are left out by the caller); `recent` are the replacement executions of the
    last FAILED_RETRY_AFTER, any cluster, newest first."""
    cluster, check = health.cluster, health.check
    if cluster is None or check is None:
        return HealthDecision(NEEDS_ATTENTION, health.problems[0])
    if not health.problems:
        return HealthDecision(HEALTHY, "every zone has its desired ACTIVE HSMs")
    mine = [e for e in recent if e.name.startswith(f"{cluster.cluster_id}-")]
    waiting = _in_hand(health, lock, mine)
    if waiting is not None:
        return waiting
    target = select_target(check)
    if target is None or not auto_replace:
        off = "automatic replacement is off (hsm_replacement.auto_replace)"
        return HealthDecision(
            NEEDS_ATTENTION, off if target else "; ".join(health.problems), target
        )
    prefix = name_prefix(cluster.cluster_id, target)
    last = next((e for e in mine if e.name.startswith(prefix)), None)
    if last and last.status in _UNSUCCESSFUL and now - last.start_date < FAILED_RETRY_AFTER:
        return HealthDecision(
            NEEDS_ATTENTION,
            f"the automatic replacement of {target.describe()} ended {last.status}; it is not "
            f"retried automatically before {_hhmm(last.start_date + FAILED_RETRY_AFTER)}",
            target,
            related_execution=last,
        )
    return HealthDecision(
        REPLACEMENT_STARTED,
        f"replacing {target.describe()}",
        target,
        execution_name(cluster.cluster_id, target, now),
    )


def _in_hand(
    health: ClusterHealth, lock: LockView | None, mine: Sequence[ExecutionView]
) -> HealthDecision | None:
    """A reason not to act now: someone (a workflow, AWS) is changing the cluster, or
    it is in a state no HSM can be added to."""
    cluster, check = health.cluster, health.check
    assert cluster is not None and check is not None
    if lock is not None:
        status = REPLACEMENT_RUNNING if lock.purpose == REPLACEMENT_PURPOSE else BUSY
        return HealthDecision(status, f"{lock.purpose} {lock.holder} holds the cluster")
    running = next((e for e in mine if e.status == "RUNNING"), None)
    if running is not None:
        return HealthDecision(
            REPLACEMENT_RUNNING,
            f"replacement {running.name} is running",
            related_execution=running,
        )
    if cluster.state not in REPAIRABLE_CLUSTER_STATES:
        return HealthDecision(NEEDS_ATTENTION, f"the cluster is {cluster.state}")
    if check.transitional:
        changing = ", ".join(f"{h.hsm_id} {h.state}" for h in check.transitional)
        return HealthDecision(
            CHANGING, f"HSMs are being created or deleted ({changing}); checking again next run"
        )
    return None


def execution_input(cluster_id: str, target: Target) -> dict[str, Any]:
    """What the health check starts the replacement with. Same failure, same input: a
    duplicate start with the same name is then answered with the first execution."""
    execution_input: dict[str, Any] = {"cluster_id": cluster_id, "trigger": "health-check"}
    if target.hsm is not None:
        execution_input["hsm_id"] = target.hsm.hsm_id
    return execution_input


def hsm_rows(cluster: Cluster | None) -> list[dict[str, str]]:
    return [
        {
            "hsm_id": h.hsm_id,
            "state": h.state,
            "availability_zone": h.availability_zone,
            "eni_ip": h.eni_ip,
            "state_message": h.state_message,
        }
        for h in (cluster.hsms if cluster else ())
    ]


def zone_rows(health: ClusterHealth) -> list[dict[str, Any]]:
    """Desired against actual per zone, every zone the topology or the cluster names."""
    cluster = health.cluster
    hsms = cluster.hsms if cluster else ()
    zones = sorted({*health.spec.hsms_per_az, *(h.availability_zone for h in hsms)})
    rows = []
    for zone in zones:
        in_zone = [h for h in hsms if h.availability_zone == zone]
        desired = health.spec.hsms_per_az.get(zone, 0)
        active = sum(1 for h in in_zone if h.state == HSM_ACTIVE)
        rows.append(
            {
                "availability_zone": zone,
                "desired": desired,
                "active": active,
                "other": len(in_zone) - active,
                "ok": active >= desired,
            }
        )
    return rows


def health_dict(health: ClusterHealth) -> dict[str, Any]:
    cluster = health.cluster
    return {
        "cluster_id": health.spec.id,
        "name": health.spec.name,
        "region": health.spec.region,
        "state": cluster.state if cluster else None,
        "healthy": not health.problems,
        "hsms": hsm_rows(cluster),
        "zones": zone_rows(health),
        "desired_hsms_per_az": dict(health.spec.hsms_per_az),
        "desired_hsms": health.desired_hsms,
        "healthy_hsms": health.healthy_hsms,
        "degraded_hsms": health.degraded_hsms,
        "problems": list(health.problems),
    }


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def unhealthy_alarm_name(deployment_name: str, cluster_id: str) -> str:
    """The CloudWatch alarm on AWS/CloudHSM HsmUnhealthy of one cluster: a fixed name,
    so the EventBridge rule can list it and the health check can tell the cluster."""
    return f"{deployment_name}-hsm-unhealthy-{cluster_id}"


def cluster_of_alarm(alarm_name: str, cluster_ids: Sequence[str]) -> str | None:
    return next((c for c in cluster_ids if alarm_name.endswith(f"-hsm-unhealthy-{c}")), None)
