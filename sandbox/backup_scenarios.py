"""On-demand backups in the sandbox: run the synthesized state machine, then check
the cluster against how it started (nothing leaked, nothing lost)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from presentation.timeline import timeline
from sandbox.scenarios import alerts
from sandbox.session import Sandbox


def on_demand_state_machine(sandbox: Sandbox) -> str:
    return f"{sandbox.config.deployment_name}-on-demand-backup"


def _hsms(sandbox: Sandbox, cluster_id: str) -> dict[str, dict[str, str]]:
    return {
        h["HsmId"]: {
            "availability_zone": h["AvailabilityZone"],
            "state": h["State"],
            "eni_ip": h["EniIp"],
        }
        for h in sandbox.world.hsms(cluster_id)
        if h["State"] != "DELETED"
    }


def leaks(
    before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]
) -> tuple[list[str], dict[str, int]]:
    """HSMs the run left beyond the starting count per zone, and zones left short."""
    count_before = Counter(h["availability_zone"] for h in before.values())
    count_after = Counter(h["availability_zone"] for h in after.values())
    leaked = [
        hsm_id
        for hsm_id, h in sorted(after.items())
        if hsm_id not in before
        and (
            count_after[h["availability_zone"]] > count_before[h["availability_zone"]]
            or h["state"] != "ACTIVE"
        )
    ]
    missing = {
        z: n - count_after.get(z, 0) for z, n in count_before.items() if count_after.get(z, 0) < n
    }
    return leaked, missing


# The workflow's default wait for the backup is an hour: in the sandbox a backup that
# never becomes READY (the backup-stuck fault) must fail the run in seconds, not hit
# the run's own timeout. Ten times the longest the profile lets a backup take, and at
# least this long, so a loaded machine's slow polls never miss a backup that is READY.
MIN_BACKUP_DEADLINE = timedelta(seconds=45)


def backup_deadline_minutes(sandbox: Sandbox) -> float:
    """The on-demand workflow's backup deadline for the sandbox's profile (wall minutes)."""
    profile = sandbox.profile
    longest = profile.backup_create * (1.0 + profile.jitter)
    return round(max(10 * longest, MIN_BACKUP_DEADLINE).total_seconds() / 60, 3)


def create_backup(
    sandbox: Sandbox,
    *,
    cluster_id: str | None = None,
    strategy: str | None = None,
    poll_seconds: int = 1,
    extra_input: dict[str, Any] | None = None,
    timeout: float = 300,
) -> dict[str, Any]:
    cluster_id = cluster_id or sandbox.config.protected_clusters[0].id
    execution_input: dict[str, Any] = {
        "cluster_id": cluster_id,
        "poll_seconds": poll_seconds,
        "backup_timeout_minutes": backup_deadline_minutes(sandbox),
    }
    if strategy:
        execution_input["strategy"] = strategy
    execution_input.update(extra_input or {})
    known = {c["ClusterId"] for c in sandbox.world.clusters(sandbox.config.region)}
    before = _hsms(sandbox, cluster_id) if cluster_id in known else {}
    seen = len(sandbox.messages())
    try:
        execution = sandbox.deployment.run_state_machine(
            on_demand_state_machine(sandbox), execution_input, timeout=timeout
        )
    except TimeoutError as stopped:
        # The sandbox aborted it and told the stack's stopped rule, which deleted what
        # the execution made: report it as it ended, once those deletions are done.
        execution = sandbox.deployment.await_execution(str(stopped).split(" ", 1)[0], 30)
        sandbox.world.settle()
    after = _hsms(sandbox, cluster_id) if cluster_id in known else {}
    leaked, missing = leaks(before, after)
    new_clusters = sorted(
        {c["ClusterId"] for c in sandbox.world.clusters(sandbox.config.region)} - known
    )
    output = execution.output if isinstance(execution.output, dict) else {}
    return {
        "status": execution.status,
        "execution_arn": execution.execution_arn,
        "input": execution_input,
        "error": execution.error,
        "cause": execution.cause,
        "timeline": timeline(execution.events),
        "backup": output.get("backup"),
        "copies": output.get("copies", []),
        "result": output or None,
        "hsms_before": before,
        "hsms_after": after,
        "leaked_resources": {"hsms": leaked, "clusters": new_clusters},
        "missing_hsms": missing,
        "alerts": alerts(sandbox, seen),
        **sandbox.faults_fired(),
        **sandbox.permissions_report(),
    }
