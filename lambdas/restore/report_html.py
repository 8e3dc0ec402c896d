"""The restore's final report as one HTML page (lambdas/shared/html_report.py): the
phases and each HSM's life as a Gantt chart (an HSM that went DEGRADED and was discarded
shows as such, and the phase that retried too), and the achieved RTO and RPO against the
objectives when they are given. Pure."""

from __future__ import annotations

from collections.abc import Mapping
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
    instant,
    render,
)

HSM_PHASES = ("first HSM", "remaining HSMs")


def bars(report: Mapping[str, Any]) -> list[Bar]:
    hsms = list(report.get("hsm_timeline") or [])
    discarded = [h for h in hsms if h.get("removed_at") or h.get("degraded_at")]
    failed = report.get("status") == "FAILED"
    result: list[Bar] = []
    for step in report.get("steps") or []:
        start, end = step.get("started_at"), step.get("ended_at")
        if not start:
            continue
        kind = OK if end else (FAILED if failed else RUNNING)
        note = ""
        retried = [
            h for h in discarded if _within(h.get("degraded_at") or h.get("removed_at"), start, end)
        ]
        if step["step"] in HSM_PHASES and retried and end:
            kind = RETRY
            note = f"{len(retried)} DEGRADED HSM(s) discarded, another created"
        result.append(Bar(step["step"], start, end, kind, "phases", note))
    for hsm in hsms:
        if not hsm.get("created_at"):
            continue
        gone = hsm.get("removed_at")
        is_discarded = hsm in discarded
        result.append(
            Bar(
                f"HSM {hsm.get('hsm_id')} ({hsm.get('availability_zone') or '-'})",
                hsm["created_at"],
                gone or hsm.get("active_at"),
                DISCARDED if is_discarded else WAIT,
                "HSMs (CreateHsm to ACTIVE, or to discarded)",
                f"DEGRADED at {hsm.get('degraded_at') or '-'}, deleted" if is_discarded else "",
            )
        )
    return result


def measures(
    report: Mapping[str, Any],
    *,
    rto_minutes: float | None = None,
    rpo_hours: float | None = None,
) -> list[Measure]:
    return [
        Measure(
            "RTO: service restored",
            report.get("rto_seconds"),
            None if rto_minutes is None else rto_minutes * 60,
            "start of the restore to the first ACTIVE HSM",
        ),
        Measure(
            "RPO: age of the backup used",
            report.get("rpo_seconds"),
            None if rpo_hours is None else rpo_hours * 3600,
            "the backup's creation to the start of the restore",
        ),
        Measure("time to full HA", report.get("time_to_full_ha_seconds"), None),
    ]


def page(
    report: Mapping[str, Any],
    *,
    rto_minutes: float | None = None,
    rpo_hours: float | None = None,
) -> Page:
    backup = report.get("backup") or {}
    return Page(
        title=f"Restore of {report.get('source_cluster_id') or '-'}",
        status=str(report.get("status") or "-"),
        facts=[
            ("execution", str(report.get("execution") or "-")),
            ("restore id", str(report.get("restore_id") or "-")),
            ("region", str(report.get("region") or "-")),
            ("backup", f"{backup.get('backup_id')} taken {backup.get('create_timestamp')}"),
            ("restored cluster", str(report.get("cluster_id") or "-")),
            ("HSMs", ", ".join(f"{h['hsm_id']} {h['eni_ip']}" for h in report.get("hsms") or [])),
            ("discarded (DEGRADED) HSMs", ", ".join(report.get("removed_hsm_ids") or []) or "none"),
            ("key verification", str(report.get("key_verification") or "-")),
            ("started", str(report.get("started_at") or "-")),
            ("finished", str(report.get("finished_at") or "-")),
        ],
        bars=bars(report),
        measures=measures(report, rto_minutes=rto_minutes, rpo_hours=rpo_hours),
        findings=[
            (
                "error",
                str(report.get("error")),
                f"after step {report.get('failed_after_step')}: {report.get('message') or ''}",
            )
        ]
        if report.get("status") == "FAILED"
        else [],
        sections=[("Notes", [str(n) for n in report["notes"]])] if report.get("notes") else [],
    )


def render_html(
    report: Mapping[str, Any],
    *,
    rto_minutes: float | None = None,
    rpo_hours: float | None = None,
) -> str:
    return render(
        page(report, rto_minutes=rto_minutes, rpo_hours=rpo_hours),
        generated_at=report.get("finished_at"),
    )


def _within(at: str | None, start: str, end: str | None) -> bool:
    if not at:
        return False
    return instant(start) <= instant(at) and (end is None or instant(at) <= instant(end))
