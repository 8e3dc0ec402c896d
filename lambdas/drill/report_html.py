"""The drill's report as one HTML page (lambdas/shared/html_report.py): its phases and
each HSM's life as a Gantt chart (an HSM that went DEGRADED and was discarded shows as
such, the phase that retried too), recovery time against the RTO and backup age, and
the recovery time of past drills as a trend. Pure: the report step reads the past
reports and stores the page beside the JSON one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lambdas.shared.html_report import (
    DISCARDED,
    FAILED,
    OK,
    RETRY,
    RUNNING,
    WAIT,
    Bar,
    Measure,
    Page,
    TrendPoint,
    render,
)

# (phase, start milestone, end milestone, alternative end milestone)
PHASES = (
    ("create cluster", "create_requested", "cluster_active", None),
    ("first HSM", "hsm_requested", "hsm_active", None),
    ("verify keys", "hsm_active", "keys_verified", None),
    ("teardown", "teardown_started", "teardown_done", "cluster_gone"),
)
TREND_LIMIT = 12


def html_key(json_key: str) -> str:
    return json_key.removesuffix(".json") + ".html"


def bars(report: Mapping[str, Any]) -> list[Bar]:
    times: Mapping[str, str] = report.get("timeline") or {}
    hsms: Sequence[Mapping[str, Any]] = (report.get("drill_cluster") or {}).get("hsms") or []
    teardown_at = times.get("teardown_started")
    discarded = [
        h for h in hsms if h.get("gone_at") and (not teardown_at or h["gone_at"] < teardown_at)
    ]
    failed = report.get("status") != "SUCCEEDED"
    result: list[Bar] = []
    for name, start, end, alternative in PHASES:
        if not times.get(start):
            continue
        ended = times.get(end) or (times.get(alternative) if alternative else None)
        kind = OK if ended else (FAILED if failed else RUNNING)
        note = ""
        if name == "first HSM" and discarded:
            kind = RETRY if ended else kind
            note = f"{len(discarded)} DEGRADED HSM(s) discarded and created again"
        if name == "verify keys" and not ended:
            keys = report.get("key_verification") or {}
            note = f"key verification {keys.get('status', 'NOT_RUN')}"
        result.append(Bar(name, times[start], ended, kind, "phases", note))
    for hsm in hsms:
        if not hsm.get("created_at"):
            continue
        is_discarded = hsm in discarded
        result.append(
            Bar(
                f"HSM {hsm.get('hsm_id')} ({hsm.get('zone') or '-'})",
                hsm["created_at"],
                hsm.get("gone_at"),
                DISCARDED if is_discarded else WAIT,
                "HSMs (CreateHsm to gone)",
                "DEGRADED: deleted, another created" if is_discarded else "",
            )
        )
    return result


def trend(history: Sequence[Mapping[str, Any]], report: Mapping[str, Any]) -> list[TrendPoint]:
    """The last drills' recovery time, oldest first, this one last (once)."""
    earlier = [r for r in history if r.get("execution") != report.get("execution")]
    runs = sorted(earlier, key=lambda r: str(r.get("started_at")))[-(TREND_LIMIT - 1) :]
    return [
        TrendPoint(
            f"{str(r.get('started_at'))[:10]} {r.get('execution_name') or ''}".strip(),
            (r.get("measurements") or {}).get("recovery_time_seconds"),
            r.get("status") == "SUCCEEDED",
        )
        for r in [*runs, report]
    ]


def page(report: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = ()) -> Page:
    measured = report["measurements"]
    backup = report.get("backup") or {}
    rto = float(measured["rto_minutes"]) * 60
    cluster = report.get("drill_cluster") or {}
    return Page(
        title=f"DR drill of {report['source_cluster_id']}",
        status=report["status"],
        facts=[
            ("execution", report["execution"]),
            ("trigger", report.get("trigger") or "-"),
            ("started", report["started_at"]),
            ("finished", report["finished_at"]),
            ("backup", f"{backup.get('backup_id')} ({report.get('source')}, {report['region']})"),
            ("drill cluster", cluster.get("cluster_id") or "none created"),
            ("key verification", (report.get("key_verification") or {}).get("status", "-")),
            ("teardown", (report.get("teardown") or {}).get("status", "-")),
            (
                "HSM-hours",
                f"{measured['hsm_hours']:.4f} (about {measured['estimated_cost_usd']:.2f} USD, "
                "UNCONFIRMED price)",
            ),
        ],
        bars=bars(report),
        measures=[
            Measure(
                "recovery time (RTO)",
                measured.get("recovery_time_seconds"),
                rto,
                "CreateCluster to verified keys (to the first ACTIVE HSM without key verification)",
            ),
            Measure("time to restore", measured.get("time_to_restore_seconds"), rto),
            Measure(
                "backup age (RPO of this backup)",
                measured.get("backup_age_seconds"),
                None,
                "the backup's creation to the drill's start",
            ),
        ],
        trend=trend(history, report),
        trend_name="recovery time",
        trend_objective_seconds=rto,
        findings=[
            (str(f["severity"]), str(f["code"]), f"{f['message']} (next: {f['next_step']})")
            for f in report.get("findings") or []
        ],
        sections=[
            ("Teardown", _teardown_lines(report.get("teardown") or {})),
            *([("Notes", list(report["notes"]))] if report.get("notes") else []),
        ],
    )


def render_html(report: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = ()) -> str:
    return render(page(report, history), generated_at=report.get("finished_at"))


def _teardown_lines(teardown: Mapping[str, Any]) -> list[str]:
    lines = [str(a) for a in teardown.get("actions") or []] or ["nothing to tear down"]
    lines += [f"NOT DONE: {r}" for r in teardown.get("remaining") or []]
    lines += [f"left: {left}" for left in teardown.get("left") or []]
    if teardown.get("run"):
        lines.append(f"the drill was stopped; teardown ran in {teardown['run']}")
    return lines
