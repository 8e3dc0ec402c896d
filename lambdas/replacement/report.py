"""The HSM replacement's report, as stored in the reports bucket: its phases with their
times, each HSM's life (a replacement that went DEGRADED and was discarded included),
what it did, and how long capacity took to come back. Pure: the steps record the times
(`job.run.times`, `job.run.hsm_log`), this module turns them into the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lambdas.alerting.workflow_alerts import error_summary

# In the stack's reports bucket: <prefix><date>-<execution>.json and .html.
REPORT_PREFIX = "reports/replacements/"
# Phases, in order: (name in the report, start milestone, end milestone). "started" is
# the plan's started_at; the others are set once by the step that saw them.
PHASES = (
    ("validate and plan", "started", "planned"),
    ("create replacement HSM", "planned", "replacement_active"),
    ("delete failed HSM", "replacement_active", "failed_hsm_deleted"),
    ("wait until synchronised", "failed_hsm_deleted", "synchronised"),
    ("report", "synchronised", "finished"),
)
CREATE_PHASE = PHASES[1][0]


def seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return round(delta.total_seconds(), 3)


def milestones(job: Mapping[str, Any], finished: str | None) -> dict[str, str]:
    """Every milestone reached (`finished`: the report of a replacement that worked). A
    phase that did not happen (no HSM to create, none to delete) starts and ends at its
    predecessor's end, so the next phase starts where the work did."""
    plan, run = job.get("plan") or {}, job.get("run") or {}
    times = {"started": plan.get("started_at"), **(run.get("times") or {})}
    if finished:
        times["finished"] = finished
    if not plan.get("create") and times.get("planned"):
        times.setdefault("replacement_active", times["planned"])
    if not plan.get("delete_failed") and times.get("replacement_active"):
        times.setdefault("failed_hsm_deleted", times["replacement_active"])
    return {k: v for k, v in times.items() if v}


def phase_timings(times: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "step": name,
            "started_at": times.get(start),
            "ended_at": times.get(end),
            "seconds": seconds(times.get(start), times.get(end)),
        }
        for name, start, end in PHASES
        if times.get(start)
    ]


def hsm_timeline(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"hsm_id": k, **v} for k, v in (run.get("hsm_log") or {}).items()]


def timing(job: Mapping[str, Any], finished: str | None) -> dict[str, Any]:
    """What the report adds to the workflow's result: phases, HSMs, capacity time.
    `finished`: when a replacement that worked reported (None for a failure)."""
    times = milestones(job, finished)
    return {
        "steps": phase_timings(times),
        "hsm_timeline": hsm_timeline(job.get("run") or {}),
        "capacity_restored_seconds": seconds(times.get("started"), times.get("replacement_active")),
        "discarded_hsm_ids": [
            h["hsm_id"] for h in hsm_timeline(job.get("run") or {}) if h.get("degraded_at")
        ],
    }


def failure_document(
    job: Mapping[str, Any], error: Mapping[str, Any], alert: Mapping[str, str], now: datetime
) -> dict[str, Any]:
    """The failed replacement's report: what failed, what it did, what exists now."""
    plan, run = job.get("plan") or {}, job.get("run") or {}
    name, message = error_summary(error)
    finished = now.isoformat()
    return {
        "status": "FAILED",
        "error": name,
        "message": message,
        "failed_after_step": run.get("step"),
        "cluster_id": plan.get("cluster_id"),
        "label": plan.get("label"),
        "region": plan.get("region"),
        "trigger": plan.get("trigger"),
        "failed_hsm": plan.get("failed_hsm"),
        "attempts": run.get("attempts"),
        "created_hsm_ids": run.get("created_hsm_ids") or [],
        "deleted_hsm_ids": run.get("deleted_hsm_ids") or [],
        "actions": run.get("actions") or [],
        "started_at": plan.get("started_at"),
        "finished_at": finished,
        "duration_seconds": seconds(plan.get("started_at"), finished),
        "execution": plan.get("execution"),
        **timing(job, None),
        "alert_subject": alert.get("subject"),
        "alert_body": alert.get("body"),
    }
