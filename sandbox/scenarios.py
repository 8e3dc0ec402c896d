"""Sandbox scenarios behind `hsmdr sandbox ...`: each returns a JSON-able document."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sandbox.session import Sandbox

if TYPE_CHECKING:
    from sandbox.runner import Deployment

VERIFY_SCHEDULE = "BackupVerificationJobSchedule"
# Faults a run that creates no HSM cannot fire (verification, copies).
NO_HSM_CREATED = {
    "hsm-degraded": "this run creates no HSM",
    "az-unsupported": "this run creates no HSM",
}


def alerts(
    sandbox: Sandbox, since: int = 0, deployment: Deployment | None = None
) -> list[dict[str, Any]]:
    """The SNS messages the on-call engineer received, oldest first: from the main
    stack's topics, or from `deployment`'s (a DR-region stack)."""
    source = deployment or sandbox.deployment
    return [
        {"subject": m.subject, "message": m.message, "topic": m.topic_logical_id}
        for m in source.messages()[since:]
    ]


def fire_verification(sandbox: Sandbox) -> dict[str, Any]:
    """Do what EventBridge Scheduler does: invoke the function with the schedule's input."""
    before = len(sandbox.messages())
    fired = sandbox.fire(VERIFY_SCHEDULE)
    invocation = fired.invocation
    if invocation is None or not invocation.ok:
        error = invocation.error_type if invocation else "NotInvoked"
        message = invocation.error_message if invocation else "the schedule invoked nothing"
        return {
            "status": "FAILED",
            "error": error,
            "message": message,
            "alerts": alerts(sandbox, before),
        }
    report: dict[str, Any] = dict(invocation.payload)
    report["alerts"] = alerts(sandbox, before)
    return report


def verify_backups(
    faults: Sequence[str] = (), advance: timedelta = timedelta(0), profile: str | None = None
) -> dict[str, Any]:
    """Seed the protected clusters, inject faults, let time pass, fire the schedule."""
    with Sandbox(profile=profile) as sandbox:
        sandbox.seed_protected_clusters()
        sandbox.apply_faults(faults, unusable=NO_HSM_CREATED)
        if advance:
            sandbox.world.time_travel(advance)
        result = fire_verification(sandbox)
        result.update(sandbox.faults_fired())
        result["advanced_seconds"] = advance.total_seconds()
        return result
