"""Single-HSM failure in the sandbox: an HSM fails, the health check notices and starts
the replacement state machine, and the report says what happened and how long the
cluster ran short (the recovery time).

`hsmdr sandbox replace-hsm` runs `replace_hsm_drill`; the tests use the pieces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from presentation.timeline import timeline
from sandbox.results import ExecutionResult
from sandbox.scenarios import alerts
from sandbox.session import Sandbox

HEALTH_SCHEDULE = "HsmHealthJobSchedule"
HEALTH_FUNCTION = "check-health"
_POLL_SECONDS = 0.05


def replace_state_machine(sandbox: Sandbox) -> str:
    from stacks.names import replace_hsm_state_machine_name

    return replace_hsm_state_machine_name(sandbox.config.deployment_name)


def hsms(sandbox: Sandbox, cluster_id: str) -> dict[str, dict[str, str]]:
    return {
        h["HsmId"]: {
            "availability_zone": h["AvailabilityZone"],
            "state": h["State"],
            "eni_ip": h["EniIp"],
        }
        for h in sandbox.world.hsms(cluster_id)
        if h["State"] != "DELETED"
    }


def fire_health_check(sandbox: Sandbox) -> dict[str, Any]:
    """Do what EventBridge Scheduler does: invoke the check with the schedule's input."""
    seen = len(sandbox.messages())
    invocation = sandbox.fire(HEALTH_SCHEDULE).invocation
    return _check_result(sandbox, invocation, seen)


def alarm_event(sandbox: Sandbox, cluster_id: str) -> dict[str, Any]:
    """The event EventBridge delivers when the cluster's HsmUnhealthy alarm goes off."""
    from lambdas.replacement.health import unhealthy_alarm_name

    name = unhealthy_alarm_name(sandbox.config.deployment_name, cluster_id)
    region, account = sandbox.config.region, sandbox.config.account or "123456789012"
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "time": datetime.now().astimezone().isoformat(),
        "region": region,
        "resources": [f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "state": {"value": "ALARM", "reason": "Threshold Crossed: 1 datapoint [1.0]"},
            "previousState": {"value": "OK"},
            "configuration": {
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": "AWS/CloudHSM",
                                "name": "HsmUnhealthy",
                                "dimensions": {"ClusterId": cluster_id},
                            },
                            "period": 300,
                            "stat": "Maximum",
                        },
                        "returnData": True,
                    }
                ]
            },
        },
    }


def fire_unhealthy_alarm(sandbox: Sandbox, cluster_id: str) -> dict[str, Any]:
    """Do what the EventBridge rule does when the HsmUnhealthy alarm fires (CloudWatch
    alarms are never evaluated in the sandbox)."""
    seen = len(sandbox.messages())
    invocation = sandbox.deployment.invoke(HEALTH_FUNCTION, alarm_event(sandbox, cluster_id))
    return _check_result(sandbox, invocation, seen)


def _check_result(sandbox: Sandbox, invocation: Any, seen: int) -> dict[str, Any]:
    if invocation is None or not invocation.ok:
        return {
            "status": "FAILED",
            "error": invocation.error_type if invocation else "NotInvoked",
            "message": invocation.error_message if invocation else "nothing was invoked",
            "clusters": [],
            "replacements_started": [],
            "alerts": alerts(sandbox, seen),
        }
    report: dict[str, Any] = dict(invocation.payload)
    report["alerts"] = alerts(sandbox, seen)
    return report


def await_execution(sandbox: Sandbox, execution_arn: str, timeout: float = 120) -> ExecutionResult:
    return sandbox.deployment.await_execution(execution_arn, timeout)


def leaked(
    before: dict[str, dict[str, str]], after: dict[str, dict[str, str]], desired: dict[str, int]
) -> list[str]:
    """HSMs the run left behind: new ones that are not ACTIVE, and new ACTIVE ones
    beyond a zone's desired count (a replacement that was not needed)."""
    new = {i: h for i, h in after.items() if i not in before}
    found = {i for i, h in new.items() if h["state"] != "ACTIVE"}
    active = Counter(h["availability_zone"] for h in after.values() if h["state"] == "ACTIVE")
    for zone, count in active.items():
        surplus = count - desired.get(zone, 0)
        ours = sorted(
            i for i, h in new.items() if h["availability_zone"] == zone and h["state"] == "ACTIVE"
        )
        found.update(ours[: max(surplus, 0)])
    return sorted(found)


def replace_after_failure(
    sandbox: Sandbox, *, cluster_id: str | None = None, timeout: float = 120
) -> dict[str, Any]:
    """With a failure already injected: fire the health check, wait for the replacement
    it starts, let the emulator settle, and report."""
    spec = next(c for c in sandbox.config.protected_clusters if cluster_id in (None, c.id))
    before = hsms(sandbox, spec.id)
    seen = len(sandbox.messages())
    check = fire_health_check(sandbox)
    started = check.get("replacements_started") or []
    report: dict[str, Any] = {
        "cluster_id": spec.id,
        "health_check": check,
        "hsms_before": before,
        "failed_hsms": sorted(i for i, h in before.items() if h["state"] == "DEGRADED"),
    }
    if not started:
        report.update(
            status="FAILED", error="NotStarted", cause="the health check started no replacement"
        )
        execution = None
    else:
        execution = await_execution(sandbox, started[0], timeout)
        report.update(
            status=execution.status,
            error=execution.error,
            cause=execution.cause,
        )
    sandbox.world.settle()  # deletions the run asked for finish, as they would in AWS
    after = hsms(sandbox, spec.id)
    output = execution.output if execution and isinstance(execution.output, dict) else {}
    report.update(
        execution_arn=execution.execution_arn if execution else None,
        timeline=timeline(execution.events) if execution else [],
        result=output or None,
        hsms=after,
        leaked_resources={"hsms": leaked(before, after, dict(spec.hsms_per_az)), "clusters": []},
        rto_seconds=_rto(check.get("checked_at"), output.get("synchronised_at")),
        alerts=alerts(sandbox, seen),
        **sandbox.permissions_report(),
    )
    return report


def _rto(detected: str | None, restored: str | None) -> float | None:
    """Failure detected (the check that saw it) to the zone showing its HSMs ACTIVE."""
    if not detected or not restored:
        return None
    return round(
        (datetime.fromisoformat(restored) - datetime.fromisoformat(detected)).total_seconds(), 3
    )


def replace_hsm_drill(
    faults: Sequence[str] = (), profile: str | None = None, timeout: float = 300
) -> dict[str, Any]:
    """Seed, fail an HSM (`hsm-failure` unless the faults name one), let the automation
    replace it, report."""
    wanted = list(faults)
    if not any(f.partition(":")[0] == "hsm-failure" for f in wanted):
        wanted.append("hsm-failure")
    with Sandbox(profile=profile) as sandbox:
        sandbox.seed_protected_clusters()
        sandbox.apply_faults(wanted)
        report = replace_after_failure(sandbox, timeout=timeout)
        report.update(sandbox.faults_fired())
        report["status"] = "SUCCEEDED" if report["status"] == "SUCCEEDED" else "FAILED"
        return report
