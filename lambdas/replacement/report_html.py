"""The HSM replacement's report as one HTML page (lambdas/shared/html_report.py): its
phases as a Gantt chart (the create phase shows as retried when a new HSM went DEGRADED
and was discarded) above each HSM's life, and the time to restored capacity. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.replacement.report import CREATE_PHASE
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
    render,
)


def bars(report: Mapping[str, Any]) -> list[Bar]:
    hsms = list(report.get("hsm_timeline") or [])
    discarded = [h for h in hsms if h.get("degraded_at")]
    failed = report.get("status") == "FAILED"
    result: list[Bar] = []
    for step in report.get("steps") or []:
        start, end = step.get("started_at"), step.get("ended_at")
        kind = OK if end else (FAILED if failed else RUNNING)
        note = ""
        if step["step"] == CREATE_PHASE and discarded:
            kind = RETRY if end else kind
            note = f"{len(discarded)} new HSM(s) ended DEGRADED: discarded, created again"
        result.append(Bar(step["step"], start, end, kind, "phases", note))
    for hsm in hsms:
        if not hsm.get("created_at"):
            continue
        is_discarded = hsm in discarded
        end = hsm.get("removed_at") or hsm.get("gone_at") or hsm.get("active_at")
        note = (
            f"DEGRADED at {hsm['degraded_at']}, deleted at {hsm.get('removed_at') or '-'}"
            if is_discarded
            else ""
        )
        result.append(
            Bar(
                f"HSM {hsm['hsm_id']} ({hsm.get('availability_zone') or '-'})",
                hsm["created_at"],
                end,
                DISCARDED if is_discarded else WAIT,
                "HSMs (CreateHsm to ACTIVE, or to discarded)",
                note,
            )
        )
    return result


def page(report: Mapping[str, Any]) -> Page:
    failed_hsm = report.get("failed_hsm") or {}
    new = report.get("replacement_hsm") or {}
    findings = (
        [("error", str(report.get("error")), str(report.get("message") or ""))]
        if report.get("status") == "FAILED"
        else []
    )
    return Page(
        title=f"HSM replacement on {report.get('label') or report.get('cluster_id') or '-'}",
        status=str(report.get("status") or "-"),
        facts=[
            ("execution", str(report.get("execution") or "-")),
            ("cluster", f"{report.get('cluster_id') or '-'} in {report.get('region') or '-'}"),
            ("trigger", str(report.get("trigger") or "-")),
            (
                "failed HSM",
                f"{failed_hsm.get('hsm_id')} in {failed_hsm.get('availability_zone')}"
                if failed_hsm
                else "none named",
            ),
            ("replacement HSM", f"{new.get('hsm_id')} {new.get('eni_ip') or ''}" if new else "-"),
            (
                "discarded (DEGRADED) HSMs",
                ", ".join(report.get("discarded_hsm_ids") or []) or "none",
            ),
            ("started", str(report.get("started_at") or "-")),
            ("finished", str(report.get("finished_at") or "-")),
        ],
        bars=bars(report),
        measures=[
            Measure(
                "time to restored capacity",
                report.get("capacity_restored_seconds"),
                None,
                "start of the replacement to the new HSM ACTIVE",
            ),
            Measure("duration", report.get("duration_seconds"), None),
        ],
        findings=findings,
        sections=[("What it did", [str(a) for a in report.get("actions") or []] or ["nothing"])],
    )


def render_html(report: Mapping[str, Any]) -> str:
    return render(page(report), generated_at=report.get("finished_at"))
