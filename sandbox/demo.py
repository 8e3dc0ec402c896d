"""`make demo`: the main job, scheduled backup verification, told as a story.

1. Deploy the synthesized stack into the sandbox.
2. Seed the protected cluster (2 HSMs in 2 AZs, a week of daily backups).
3. Fire the verification schedule: a healthy report.
4. The service stops backing the cluster up and a day and a half passes: the
   verification fails on the RPO and the on-call engineer gets an alert.
5. An HSM fails: the next run names the degraded HSM and what to do.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from presentation.render import table, verification_report
from sandbox.scenarios import fire_verification
from sandbox.session import Sandbox

STALE_AFTER = timedelta(hours=36)


def run_demo(profile: str | None = None) -> tuple[dict[str, Any], str]:
    text: list[str] = []
    with Sandbox(profile=profile) as sandbox:
        config = sandbox.config
        kinds = Counter(r.resource_type for r in sandbox.deployment.resources.values())
        text += [
            f"== 1. Deployed the synthesized stack {config.deployment_name} into the sandbox",
            table(["RESOURCE TYPE", "COUNT"], sorted(kinds.items())),
            "",
        ]
        seeded = sandbox.seed_protected_clusters()
        text += [
            f"== 2. Seeded protected cluster(s) {', '.join(seeded)}: 2 HSMs in 2 AZs, "
            "a week of daily backups",
            "",
        ]

        healthy = fire_verification(sandbox)
        text += ["== 3. The hourly verification schedule fired", verification_report(healthy), ""]

        sandbox.apply_faults(["backups-stopped"])
        sandbox.world.time_travel(STALE_AFTER)
        stale = fire_verification(sandbox)
        text += [
            "== 4. CloudHSM stopped backing the cluster up; 36 hours passed",
            verification_report(stale),
            "",
            *_alert_lines(stale),
        ]

        sandbox.apply_faults(["hsm-failure"])
        degraded = fire_verification(sandbox)
        text += [
            "== 5. Then an HSM failed too",
            verification_report(degraded),
            "",
            *_alert_lines(degraded),
        ]

    as_expected = (
        healthy.get("status") == "SUCCEEDED"
        and _codes(stale) >= {"BACKUP_OLDER_THAN_RPO"}
        and bool(stale["alerts"])
        and _codes(degraded) >= {"HSM_DEGRADED"}
        and bool(degraded["alerts"])
    )
    text.append(
        "Demo complete: the healthy run passed and both incidents were caught and alerted."
        if as_expected
        else "Demo FAILED: the sandbox did not behave as the story expects (see above)."
    )
    document = {
        "status": "SUCCEEDED" if as_expected else "FAILED",
        "deployment_name": config.deployment_name,
        "clusters": seeded,
        "runs": {"healthy": healthy, "stale_backup": stale, "hsm_failure": degraded},
    }
    return document, "\n".join(text)


def _codes(result: dict[str, Any]) -> set[str]:
    return {f["code"] for f in result.get("findings", [])}


def _severity(topic_logical_id: str) -> str:
    """The escalation severity of the topic a message went to."""
    if topic_logical_id.startswith("AlertingNotifyTopic"):
        return "notify (working hours)"
    if topic_logical_id.startswith("AlertingTopic"):
        return "page (wakes the on-call engineer)"
    return topic_logical_id


def _alert_lines(result: dict[str, Any]) -> list[str]:
    lines = ["The on-call engineer received:"]
    for alert in result["alerts"]:
        lines += [
            "+" + "-" * 78,
            f"| Topic: {_severity(alert['topic'])}",
            f"| Subject: {alert['subject']}",
            "|",
        ]
        lines += [f"| {line}" for line in alert["message"].splitlines()]
        lines += ["+" + "-" * 78, ""]
    if not result["alerts"]:
        lines.append("(nothing: this is a failure of the demo)")
    return lines
