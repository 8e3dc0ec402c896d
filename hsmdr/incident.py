"""Post-incident analysis of one workflow execution, from its Step Functions history.

Works for any of this deployment's state machines (on-demand backup, restore, HSM
replacement, drill): a timeline with step durations and a mermaid gantt chart, the
failure and its cause, the achieved RTO and RPO when the output carries them, the
alerts the execution sent, and a section for the people doing the analysis. `html`
renders the same as one self-contained page (lambdas/shared/html_report.py), with the
restore's or the drill's own phases and HSMs when the output is their report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from presentation.render import condensed_steps, duration, table
from presentation.timeline import timeline

# Output keys that carry recovery measures, whichever workflow wrote them.
RTO_KEYS = ("rto_seconds", "time_to_first_hsm_seconds", "recovery_time_seconds")
RPO_KEYS = ("rpo_seconds", "backup_age_seconds")


def analyse(description: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    steps = timeline(events)
    output = _json(description.get("output"))
    failure = _failure(description, events)
    return {
        "status": "SUCCEEDED" if description.get("status") == "SUCCEEDED" else "FAILED",
        "execution_status": description.get("status"),
        "execution_arn": description.get("executionArn"),
        "state_machine": str(description.get("stateMachineArn", "")).rsplit(":", 1)[-1],
        "started": _iso(description.get("startDate")),
        "stopped": _iso(description.get("stopDate")),
        "duration_seconds": _seconds(description.get("startDate"), description.get("stopDate")),
        "input": _json(description.get("input")),
        "output": output,
        "failure": failure,
        "rto_seconds": _first(output, RTO_KEYS),
        "rpo_seconds": _first(output, RPO_KEYS),
        "alerts": _alerts(events),
        "timeline": steps,
    }


def markdown(report: Mapping[str, Any]) -> str:
    lines = [
        f"# Post-incident report: {report['state_machine']}",
        "",
        f"- Execution: `{report['execution_arn']}`",
        f"- Result: **{report['execution_status']}**",
        f"- Started: {report['started']}; ended: {report['stopped'] or 'still running'}",
        f"- Duration: {duration(report['duration_seconds'])}",
    ]
    if report["rto_seconds"] is not None:
        lines.append(
            f"- Achieved RTO (time to restored service): {duration(report['rto_seconds'])}"
        )
    if report["rpo_seconds"] is not None:
        lines.append(f"- Achieved RPO (age of the backup used): {duration(report['rpo_seconds'])}")
    failure = report["failure"]
    if failure:
        lines += [
            "",
            "## Failure",
            "",
            f"- State: `{failure['state']}`",
            f"- Error: `{failure['error']}`",
            f"- Cause: {failure['message']}",
        ]
    lines += ["", "## Timeline", "", "```"]
    lines.append(
        table(["STEP", "RUNS", "STARTED", "TOOK", ""], condensed_steps(report["timeline"]))
    )
    lines += ["```", "", "```mermaid", *gantt(report["timeline"]), "```", "", "## Alerts sent", ""]
    lines += [f"- {a['subject'] or '(no subject)'}" for a in report["alerts"]] or ["- none"]
    lines += [
        "",
        "## Analysis (for the people on the incident)",
        "",
        "- Impact (who or what could not use keys, and for how long):",
        "- Root cause:",
        "- Contributing factors:",
        "- Detection (how we found out, and how fast):",
        "- What went well:",
        "- What went badly:",
        "- Action items (owner, due date):",
        "",
    ]
    return "\n".join(lines)


def gantt(steps: Sequence[Mapping[str, Any]]) -> list[str]:
    """A mermaid gantt chart of the Task and Wait states (one bar per state)."""
    rows = [s for s in steps if s.get("type") in ("Task", "Wait", "Map", "Parallel")]
    lines = ["gantt", "    dateFormat YYYY-MM-DDTHH:mm:ss", "    axisFormat %H:%M:%S"]
    for index, step in enumerate(rows):
        if not step.get("start") or not step.get("end"):
            continue
        start = _mermaid_time(step["start"])
        seconds = max(1, round(step.get("seconds") or 0))
        tag = "crit, " if step.get("failed") else ""
        name = str(step["state"]).replace(":", " ")
        lines.append(f"    {name} :{tag}s{index}, {start}, {seconds}s")
    return lines


def _failure(
    description: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    if description.get("status") == "SUCCEEDED":
        return None
    error = description.get("error")
    cause = description.get("cause")
    state = None
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
        if kind.endswith("Failed") and kind != "ExecutionFailed":
            details: dict[str, Any] = next(
                (v for k, v in event.items() if k.endswith("EventDetails")), {}
            )
            failed_error = details.get("error")
            if failed_error and (error is None or failed_error == error):
                break
    parsed = _json(cause)
    message = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    return {"state": state, "error": error, "message": message}


def _alerts(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    alerts = []
    for event in events:
        details = event.get("taskScheduledEventDetails") or {}
        if details.get("resourceType") == "sns" and details.get("resource") == "publish":
            parameters = _json(details.get("parameters")) or {}
            alerts.append(
                {
                    "at": _iso(event.get("timestamp")),
                    "subject": parameters.get("Subject"),
                    "message": parameters.get("Message"),
                }
            )
    return alerts


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _first(output: Any, keys: Sequence[str]) -> float | None:
    if not isinstance(output, dict):
        return None
    for key in keys:
        value = output.get(key)
        if isinstance(value, int | float):
            return float(value)
    return None


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else None


def _seconds(start: Any, end: Any) -> float | None:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return round((end - start).total_seconds(), 3)
    return None


def _mermaid_time(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%dT%H:%M:%S")


def html(
    report: Mapping[str, Any],
    *,
    rto_minutes: float | None = None,
    rpo_hours: float | None = None,
) -> str:
    """The post-incident report as one HTML page: the workflow's phases (a restore's or a
    drill's, DEGRADED HSMs discarded and retried shown) above its states, RTO and RPO
    against the objectives given (a drill's report carries its own RTO)."""
    from lambdas.drill import report_html as drill_html
    from lambdas.restore import report_html as restore_html
    from lambdas.shared.html_report import FAILED, OK, RUNNING, WAIT, Bar, Measure, Page, render

    output = report["output"] if isinstance(report["output"], dict) else {}
    rto_seconds, rpo_seconds = report["rto_seconds"], report["rpo_seconds"]
    bars: list[Bar] = []
    if "hsm_timeline" in output and "steps" in output:
        bars += restore_html.bars(output)
    elif isinstance(output.get("measurements"), dict) and isinstance(output.get("timeline"), dict):
        bars += drill_html.bars(output)
        measured = output["measurements"]
        rto_minutes = rto_minutes or measured.get("rto_minutes")
        if rto_seconds is None:
            rto_seconds = measured.get("recovery_time_seconds")
        if rpo_seconds is None:
            rpo_seconds = measured.get("backup_age_seconds")
    for step in report["timeline"]:
        if step.get("type") not in ("Task", "Wait", "Map", "Parallel") or not step.get("start"):
            continue
        kind = FAILED if step.get("failed") else (WAIT if step["type"] == "Wait" else OK)
        if not step.get("end") and not step.get("failed"):
            kind = RUNNING
        bars.append(Bar(str(step["state"]), step["start"], step.get("end"), kind, "states"))
    failure = report["failure"]
    findings = (
        [("error", str(failure["error"]), f"in state {failure['state']}: {failure['message']}")]
        if failure
        else []
    )
    page = Page(
        title=f"Post-incident report: {report['state_machine']}",
        status=str(report["execution_status"]),
        facts=[
            ("execution", str(report["execution_arn"])),
            ("started", str(report["started"])),
            ("ended", str(report["stopped"] or "still running")),
            ("duration", duration(report["duration_seconds"])),
        ],
        bars=bars,
        measures=[
            Measure(
                "RTO: time to restored service",
                rto_seconds,
                None if rto_minutes is None else float(rto_minutes) * 60,
            ),
            Measure(
                "RPO: age of the backup used",
                rpo_seconds,
                None if rpo_hours is None else float(rpo_hours) * 3600,
            ),
        ]
        if rto_seconds is not None or rpo_seconds is not None
        else [],
        findings=findings,
        sections=[
            (
                "Alerts sent",
                [f"{a['at']}: {a['subject'] or '(no subject)'}" for a in report["alerts"]]
                or ["none"],
            ),
            (
                "Analysis (for the people on the incident)",
                [
                    "Impact (who or what could not use keys, and for how long):",
                    "Root cause:",
                    "Contributing factors:",
                    "Detection (how we found out, and how fast):",
                    "What went well:",
                    "What went badly:",
                    "Action items (owner, due date):",
                ],
            ),
        ],
    )
    return render(page, generated_at=report["stopped"])
