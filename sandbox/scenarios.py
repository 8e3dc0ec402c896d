"""Sandbox scenarios behind `hsmdr sandbox ...`: each returns a JSON-able document."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from lambdas.shared.protected import POSTURE_PILOT_LIGHT, POSTURE_WARM_STANDBY
from sandbox.session import SANDBOX_CONFIG, Sandbox

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


# Standbys (pilot light, warm standby): the head start taken before a disaster, shared
# by the restore and the drill scenarios.

# Placeholders: the config needs them; the sandbox points the standby refresher at its
# own subnets (sandbox/standby_subnets.py).
STANDBY_SUBNETS = ["subnet-0e0e0e0e0e0e0e0e0", "subnet-0f0f0f0f0f0f0f0f0"]


def pilot_light_config(region: str, base: Path = SANDBOX_CONFIG) -> Path:
    """The sandbox config with its first protected cluster kept as a pilot light in
    `region` (a DR region), in a temporary file."""
    return posture_config(region, POSTURE_PILOT_LIGHT, base)


def posture_config(region: str, posture: str, base: Path = SANDBOX_CONFIG) -> Path:
    """The sandbox config with its first protected cluster's `dr_posture` in `region`
    (a DR region) set to `posture`, in a temporary file."""
    data: dict[str, Any] = yaml.safe_load(base.read_text(encoding="utf-8"))
    data["protected_clusters"][0]["dr_posture"] = {region: posture}
    restore = data.setdefault("restore", {})
    restore.setdefault("subnets", {}).setdefault(region, list(STANDBY_SUBNETS))
    path = Path(tempfile.gettempdir()) / f"hsmdr-sandbox-{posture}-{region}-{base.stem}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def keep_standby(sandbox: Sandbox, region: str, posture: str) -> dict[str, Any]:
    """The head start taken before the disaster: the refresher's standby ACTIVE, and
    for a warm standby a second refresh that gives it its HSM, ACTIVE too."""
    standby = light_the_pilot(sandbox, region)
    if posture != POSTURE_WARM_STANDBY:
        return standby
    warmed = light_the_pilot(sandbox, region)
    hsms = [
        h
        for c in sandbox.world.clusters(region)
        if c["ClusterId"] == standby["cluster_id"]
        for h in c["Hsms"]
        if h["State"] != "DELETED"
    ]
    return {
        **standby,
        "hsms_before_disaster": [{"hsm_id": h["HsmId"], "state": h["State"]} for h in hsms],
        "warm_refresh": warmed["refresh"],
    }


def light_the_pilot(sandbox: Sandbox, region: str) -> dict[str, Any]:
    """Run the DR stack's standby refresher once, as its schedule would, and let the
    standby it creates become ACTIVE: the head start taken before the disaster."""
    fired = sandbox.dr_deployment(region).fire_schedule("StandbyRefresherJobSchedule")
    invocation = fired.invocation
    payload = invocation.payload if invocation is not None else None
    sandbox.world.settle()
    created = (payload or {}).get("created") or []
    standby_id = created[0]["standby"] if created else None
    state = next(
        (c["State"] for c in sandbox.world.clusters(region) if c["ClusterId"] == standby_id),
        None,
    )
    return {"cluster_id": standby_id, "state_before_disaster": state, "refresh": payload}
