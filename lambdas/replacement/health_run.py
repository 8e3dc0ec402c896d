"""One run of the health check: gather the facts, decide per cluster, start replacements.

AWS access comes in as callables, so the run is the same from the Lambda function,
the CLI (read-only: nothing to start) and the unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lambdas.alerting.memory import Remembered, due, signature
from lambdas.replacement.health import (
    ALERTING,
    HEALTHY,
    NEEDS_ATTENTION,
    REPLACEMENT_RUNNING,
    REPLACEMENT_STARTED,
    ClusterHealth,
    HealthDecision,
    assess,
    decide,
    execution_input,
    health_dict,
)
from lambdas.shared.console import execution_url
from lambdas.shared.errors import CloudHsmDrError
from lambdas.shared.executions import ExecutionView, LockView
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import Cluster
from lambdas.shared.protected import ProtectedCluster

GatewayFor = Callable[[str], CloudHsmGateway]
LockOf = Callable[[str], LockView | None]  # a live holder only
Recent = Callable[[], Sequence[ExecutionView]]
Start = Callable[[str, dict[str, Any]], tuple[str, bool]]


@dataclass(frozen=True)
class HealthEntry:
    health: ClusterHealth
    decision: HealthDecision
    execution_arn: str | None = None  # the replacement started (or found) for it
    newly_started: bool = False

    def to_dict(self) -> dict[str, Any]:
        decision = self.decision
        related = decision.related_execution
        arn = self.execution_arn or (related.execution_arn if related else None)
        return {
            **health_dict(self.health),
            "status": decision.status,
            "reason": decision.reason,
            "target": decision.target.describe() if decision.target else None,
            "replacement": None
            if arn is None
            else {
                "execution_arn": arn,
                "console_url": execution_url(arn),
                "started_by_this_run": self.newly_started,
                "status": related.status if related else "RUNNING",
            },
        }


@dataclass(frozen=True)
class HealthReport:
    deployment_name: str
    checked_at: datetime
    trigger: str
    entries: tuple[HealthEntry, ...]
    auto_replace: bool
    errors: tuple[str, ...] = field(default=())

    @property
    def status(self) -> str:
        healthy = all(e.decision.status == HEALTHY for e in self.entries)
        return "SUCCEEDED" if healthy and not self.errors else "FAILED"

    @property
    def alerting(self) -> tuple[HealthEntry, ...]:
        """Entries a person must hear about: the automation acted, or cannot."""
        return tuple(e for e in self.entries if e.decision.status in ALERTING)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "deployment_name": self.deployment_name,
            "checked_at": self.checked_at.isoformat(),
            "trigger": self.trigger,
            "auto_replace": self.auto_replace,
            "clusters": [e.to_dict() for e in self.entries],
            "replacements_started": [
                e.execution_arn for e in self.entries if e.newly_started and e.execution_arn
            ],
            "errors": list(self.errors),
        }


def read_clusters(
    specs: Sequence[ProtectedCluster], gateway_for: GatewayFor
) -> tuple[dict[str, Cluster], dict[str, str]]:
    """Every protected cluster that exists, by id, with one DescribeClusters per region;
    and the regions that could not be read, with why."""
    found: dict[str, Cluster] = {}
    failed: dict[str, str] = {}
    for region in sorted({s.region for s in specs}):
        ids = [s.id for s in specs if s.region == region]
        try:
            found.update(gateway_for(region).find_clusters(ids))
        except CloudHsmDrError as error:
            failed[region] = f"{type(error).__name__}: {error}"
    return found, failed


def assess_all(
    specs: Sequence[ProtectedCluster], gateway_for: GatewayFor
) -> tuple[list[ClusterHealth], dict[str, str]]:
    clusters, failed = read_clusters(specs, gateway_for)
    readable = [s for s in specs if s.region not in failed]
    return [assess(s, clusters.get(s.id)) for s in readable], failed


def run_health_check(
    specs: Sequence[ProtectedCluster],
    *,
    deployment_name: str,
    trigger: str,
    auto_replace: bool,
    gateway_for: GatewayFor,
    lock_of: LockOf,
    recent: Recent,
    start: Start,
    now: datetime,
) -> HealthReport:
    healths, failed = assess_all(specs, gateway_for)
    errors = [f"cannot read clusters in {region}: {why}" for region, why in failed.items()]
    executions: Sequence[ExecutionView] | None = None
    entries = []
    for health in healths:
        if not health.problems:  # the common case costs no lock or execution reads
            entries.append(
                HealthEntry(
                    health, decide(health, auto_replace=auto_replace, lock=None, recent=(), now=now)
                )
            )
            continue
        if executions is None:
            executions = recent()
        decision = decide(
            health,
            auto_replace=auto_replace,
            lock=lock_of(health.spec.id),
            recent=executions,
            now=now,
        )
        entries.append(_apply(health, decision, start))
    return HealthReport(
        deployment_name=deployment_name,
        checked_at=now,
        trigger=trigger,
        entries=tuple(entries),
        auto_replace=auto_replace,
        errors=tuple(errors),
    )


def _apply(health: ClusterHealth, decision: HealthDecision, start: Start) -> HealthEntry:
    if not decision.start:
        return HealthEntry(health, decision)
    assert decision.execution_name is not None and decision.target is not None
    try:
        arn, started = start(
            decision.execution_name, execution_input(health.spec.id, decision.target)
        )
    except Exception as error:  # a failed start is reported, never lost in a crash
        failed = HealthDecision(
            NEEDS_ATTENTION,
            f"could not start the replacement of {decision.target.describe()}: "
            f"{type(error).__name__}: {error}",
            decision.target,
        )
        return HealthEntry(health, failed)
    if not started:  # another run of the check started it a moment ago, and alerted
        decision = HealthDecision(
            REPLACEMENT_RUNNING,
            f"{decision.reason}: already started by another run of the check",
            decision.target,
        )
    return HealthEntry(health, decision, arn, started)


def memory_key(entry: HealthEntry) -> str:
    return f"health#{entry.health.spec.id}"


def entry_signature(entry: HealthEntry) -> str:
    decision = entry.decision
    return signature([decision.status, decision.reason, *entry.health.problems])


def split_due(
    entries: Sequence[HealthEntry],
    recall: Callable[[str], Remembered | None],
    now: datetime,
    repeat_after: timedelta,
) -> tuple[tuple[HealthEntry, ...], tuple[HealthEntry, ...]]:
    """(to send, held back). A replacement this run started is always told (once: the
    next runs see it RUNNING); a cluster that needs a person when `due`."""
    send, hold = [], []
    for entry in entries:
        started = entry.decision.status == REPLACEMENT_STARTED
        previous = recall(memory_key(entry))
        if started or due(previous, entry_signature(entry), now, repeat_after):
            send.append(entry)
        else:
            hold.append(entry)
    return tuple(send), tuple(hold)
