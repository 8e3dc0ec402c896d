"""Sandbox scenarios for the copy job and the DR copy monitor (`hsmdr sandbox copy-backups`).

The schedules fire as EventBridge Scheduler would, the real handlers run against the
CloudHSM emulator, and what the account holds afterwards is checked for leftovers.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.scenarios import NO_HSM_CREATED, alerts
from sandbox.session import Sandbox

COPY_SCHEDULE = "BackupCopiesJobSchedule"
COPY_MONITOR_SCHEDULE = "CopyMonitorJobSchedule"


def _invocation_result(fired: Any) -> dict[str, Any]:
    invocation = fired.invocation
    if invocation is None or not invocation.ok:
        return {
            "status": "FAILED",
            "error": invocation.error_type if invocation else "NotInvoked",
            "message": invocation.error_message if invocation else "the schedule invoked nothing",
        }
    return dict(invocation.payload)


def fire_copy_job(sandbox: Sandbox) -> dict[str, Any]:
    """Fire the copy job's schedule; its report plus the alerts it sent."""
    before = len(sandbox.messages())
    result = _invocation_result(sandbox.fire(COPY_SCHEDULE))
    result["alerts"] = alerts(sandbox, before)
    return result


def fire_copy_monitor(sandbox: Sandbox, region: str) -> dict[str, Any]:
    """Fire the copy monitor of one DR region; its report plus the alerts sent there."""
    deployment = sandbox.dr_deployment(region)
    before = len(deployment.messages())
    result = _invocation_result(deployment.fire_schedule(COPY_MONITOR_SCHEDULE))
    result["alerts"] = [
        {"subject": m.subject, "message": m.message, "topic": m.topic_logical_id}
        for m in deployment.messages()[before:]
    ]
    return result


def copies_in(sandbox: Sandbox, region: str) -> list[dict[str, Any]]:
    """The copies a region holds, newest first, as a person reads them."""
    found = [b for b in sandbox.world.backups(region) if b.get("SourceBackup")]
    return [
        {
            "region": region,
            "backup_id": b["BackupId"],
            "state": b["BackupState"],
            "source_backup": b["SourceBackup"],
            "source_cluster": b.get("SourceCluster"),
            "create_timestamp": _iso(b.get("CreateTimestamp")),
            "copy_timestamp": _iso(b.get("CopyTimestamp")),
            "never_expires": b.get("NeverExpires", False),
            "tags": {t["Key"]: t["Value"] for t in b.get("TagList", [])},
        }
        for b in reversed(found)
    ]


# Leftovers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSnapshot:
    """Which clusters, HSMs and backups exist, across the sandbox's regions."""

    clusters: frozenset[str]
    hsms: frozenset[str]
    backups: dict[str, dict[str, Any]]  # backup id -> API shape, with its region

    @classmethod
    def take(cls, sandbox: Sandbox) -> AccountSnapshot:
        clusters: set[str] = set()
        hsms: set[str] = set()
        backups: dict[str, dict[str, Any]] = {}
        for region in sorted(sandbox.networks):
            for cluster in sandbox.world.clusters(region):
                clusters.add(cluster["ClusterId"])
                hsms.update(h["HsmId"] for h in cluster.get("Hsms", []))
            for backup in sandbox.world.backups(region):
                backups[backup["BackupId"]] = {**backup, "Region": region}
        return cls(frozenset(clusters), frozenset(hsms), backups)


def leaked_resources(before: AccountSnapshot, after: AccountSnapshot) -> list[dict[str, str]]:
    """What the runs created that should not exist: any cluster or HSM (the copy job never
    makes one), a copy without this tool's tags (pruning would never remove it), and a
    second live copy of the same backup in the same region."""
    leaked = [
        {"kind": "cluster", "id": c, "why": "the copy job never creates clusters"}
        for c in sorted(after.clusters - before.clusters)
    ]
    leaked += [
        {"kind": "hsm", "id": h, "why": "the copy job never creates HSMs"}
        for h in sorted(after.hsms - before.hsms)
    ]
    new_copies = [
        b
        for backup_id, b in sorted(after.backups.items())
        if backup_id not in before.backups and b.get("SourceBackup")
    ]
    for copy in new_copies:
        tags = {t["Key"]: t["Value"] for t in copy.get("TagList", [])}
        if tags.get("managed-by") != "cloudhsm-dr":
            leaked.append(
                {
                    "kind": "backup",
                    "id": copy["BackupId"],
                    "why": f"copy in {copy['Region']} without managed-by=cloudhsm-dr: never pruned",
                }
            )
    live = Counter(
        (b["Region"], b["SourceBackup"])
        for b in after.backups.values()
        if b.get("SourceBackup") and b["BackupState"] in ("READY", "CREATE_IN_PROGRESS")
    )
    for (region, source), count in sorted(live.items()):
        if count > 1:
            leaked.append(
                {
                    "kind": "backup",
                    "id": source,
                    "why": f"{count} live copies of it in {region}, one is enough",
                }
            )
    return leaked


# The `hsmdr sandbox copy-backups` scenario ------------------------------------------


class Timeline:
    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started, clock = datetime.now(UTC), time.monotonic()
        try:
            yield
        finally:
            self.steps.append(
                {
                    "step": name,
                    "started_at": started.isoformat(),
                    "ended_at": datetime.now(UTC).isoformat(),
                    "seconds": round(time.monotonic() - clock, 3),
                }
            )

    def run(self, name: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self.step(name):
            return call()


def copy_backups(
    faults: Sequence[str] = (), advance: timedelta = timedelta(0), profile: str | None = None
) -> dict[str, Any]:
    """Seed the clusters without copies, fire the copy schedule, let the copies finish,
    fire it again (it tracks them and copies nothing new), then look for leftovers."""
    timeline = Timeline()
    with ExitStack() as scope:
        with timeline.step("deploy the synthesized stacks"):
            sandbox = scope.enter_context(Sandbox(profile=profile))
        with timeline.step("seed the protected clusters, no copies yet"):
            sandbox.seed_protected_clusters(dr_copies=False)
        with timeline.step("inject faults"):
            sandbox.apply_faults(faults, unusable=NO_HSM_CREATED)
        if advance:
            with timeline.step(f"let {advance.total_seconds() / 3600:g} hours pass"):
                sandbox.world.time_travel(advance)
        before = AccountSnapshot.take(sandbox)
        first = timeline.run("fire the copy schedule", lambda: fire_copy_job(sandbox))
        with timeline.step("wait for the copies to finish"):
            sandbox.world.settle()
        second = timeline.run(
            "fire the copy schedule again (tracks the copies)", lambda: fire_copy_job(sandbox)
        )
        after = AccountSnapshot.take(sandbox)
        copies = [c for region in sandbox.config.dr_regions for c in copies_in(sandbox, region)]
        fired = sandbox.faults_fired()
        permissions = sandbox.permissions_report()
    runs = [first, second]
    leaked = leaked_resources(before, after)
    ok = all(r.get("status") == "SUCCEEDED" for r in runs) and not leaked
    return {
        "status": "SUCCEEDED" if ok else "FAILED",
        "deployment_name": sandbox.config.deployment_name,
        **fired,
        "advanced_seconds": advance.total_seconds(),
        "copies": copies,
        "pruned": [p for r in runs for c in r.get("clusters", []) for p in c["pruned"]],
        "findings": [f for r in runs for f in r.get("findings", [])],
        "alerts": [a for r in runs for a in r["alerts"]],
        "runs": runs,
        "timeline": timeline.steps,
        "leaked_resources": leaked,
        **permissions,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value
