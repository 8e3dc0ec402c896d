"""Reports as one self-contained HTML page: a Gantt chart by phase (inline SVG), the
recovery measures against their objectives, a trend across past runs, findings and
facts. No script, no external stylesheet, font or image: the page opens from S3, a mail
attachment or a disk, offline, and renders the same everywhere.

Why a small module of our own and not a template or charting library: Lambda code ships
no third-party packages but boto3 and Powertools (the layer), and the restore and drill
report steps render this page in Lambda; the CLI (`hsmdr report --html`, `hsmdr drill
report --html`) imports the same module so both agree. Every value that reaches the page
goes through html.escape (`_e`); numbers are formatted here, never taken as markup.

The page is built from plain data (`Page`, `Bar`, `Measure`, `TrendPoint`); each
capability turns its own report into one (lambdas/drill/report_html.py,
lambdas/restore/report_html.py, hsmdr/incident.py).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Bar kinds, each with its colour and the words the legend gives it.
OK, RETRY, DISCARDED, FAILED, RUNNING, WAIT = (
    "ok",
    "retry",
    "discarded",
    "failed",
    "running",
    "wait",
)
KINDS = {
    OK: ("#2e7d32", "completed"),
    WAIT: ("#90a4ae", "waiting"),
    RETRY: ("#f9a825", "DEGRADED, retried"),
    DISCARDED: ("#8d6e63", "DEGRADED HSM, discarded"),
    FAILED: ("#c62828", "failed"),
    RUNNING: ("#1565c0", "not finished"),
}


@dataclass(frozen=True)
class Bar:
    """One row of the Gantt chart: a phase, a state or an HSM's life."""

    label: str
    start: str  # ISO-8601
    end: str | None  # None: it had not ended when the report was made
    kind: str = OK
    group: str = ""  # rows of one group are drawn together under its name
    note: str = ""  # the bar's tooltip and the table cell


@dataclass(frozen=True)
class Measure:
    """A recovery measure (RTO, RPO, ...) and the objective it is held to."""

    name: str
    seconds: float | None
    objective_seconds: float | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.seconds is None or self.objective_seconds is None:
            return None
        return self.seconds <= self.objective_seconds


@dataclass(frozen=True)
class TrendPoint:
    label: str  # a date or an execution name
    seconds: float | None
    ok: bool | None = None  # the run passed (None: unknown)


@dataclass(frozen=True)
class Page:
    title: str
    status: str
    facts: Sequence[tuple[str, str]] = ()
    bars: Sequence[Bar] = ()
    measures: Sequence[Measure] = ()
    trend: Sequence[TrendPoint] = ()
    trend_name: str = "recovery time"
    trend_objective_seconds: float | None = None
    findings: Sequence[tuple[str, str, str]] = ()  # (severity, code, message)
    sections: Sequence[tuple[str, Sequence[str]]] = field(default_factory=tuple)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "not measured"
    if seconds < 0:  # clocks that disagree
        return "-" + duration(-seconds)
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{seconds:.1f} s"


def instant(iso: str) -> datetime:
    """An ISO-8601 time, naive ones taken as UTC."""
    parsed = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#212121;
max-width:72rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f5f5f5}td.n{white-space:nowrap}
.status{display:inline-block;padding:.1rem .5rem;border-radius:.25rem;color:#fff}
.SUCCEEDED,.met{background:#2e7d32}.FAILED,.EXCEEDED,.error{background:#c62828}
.warning{background:#f9a825}.unknown,.RUNNING{background:#757575}
.legend span{display:inline-block;margin-right:1rem}
.swatch{display:inline-block;width:.9rem;height:.9rem;vertical-align:middle;margin-right:.3rem}
svg text{font-size:12px;font-family:inherit}
"""


def render(page: Page, *, generated_at: str | None = None) -> str:
    """The whole page, as one string of HTML5."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(page.title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{_e(page.title)} "
        f'<span class="status {_e(_css(page.status))}">{_e(page.status)}</span></h1>',
    ]
    if page.facts:
        parts.append(_facts(page.facts))
    parts += ["<h2>Recovery measures</h2>", _measures(page.measures)]
    parts += ["<h2>Timeline by phase</h2>", gantt(page.bars)]
    if page.trend:
        parts += [f"<h2>Trend across drills: {_e(page.trend_name)}</h2>", trend_chart(page)]
    parts += ["<h2>Findings</h2>", _findings(page.findings)]
    for heading, lines in page.sections:
        parts.append(f"<h2>{_e(heading)}</h2>")
        parts.append("<ul>" + "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul>")
    if generated_at:
        parts.append(f"<p><small>Generated {_e(generated_at)}</small></p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _css(status: str) -> str:
    return "".join(c for c in status if c.isalnum() or c in "_-") or "unknown"


def _facts(facts: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    return f"<table>{rows}</table>"


def _measures(measures: Sequence[Measure]) -> str:
    if not measures:
        return "<p>No recovery measure applies to this run.</p>"
    rows = []
    for m in measures:
        met = m.met
        verdict = "met" if met else "EXCEEDED"
        if met is None:
            verdict = "not measured" if m.seconds is None else "no objective"
        css = "unknown" if met is None else ("met" if met else "EXCEEDED")
        objective = "none set" if m.objective_seconds is None else duration(m.objective_seconds)
        rows.append(
            f'<tr><td>{_e(m.name)}</td><td class="n">{_e(duration(m.seconds))}</td>'
            f'<td class="n">{_e(objective)}</td>'
            f'<td><span class="status {css}">{_e(verdict)}</span></td>'
            f"<td>{_measure_bar(m)}</td><td>{_e(m.note)}</td></tr>"
        )
    head = (
        "<tr><th>measure</th><th>achieved</th><th>objective</th><th>verdict</th>"
        "<th>against the objective</th><th>note</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _measure_bar(m: Measure) -> str:
    """A small bar: the achieved value, with the objective as a line across it."""
    if m.seconds is None:
        return ""
    width, height = 200, 14
    scale = max(m.seconds, m.objective_seconds or 0.0) * 1.1 or 1.0
    achieved = max(width * m.seconds / scale, 0.0)  # a negative time (clock skew): none
    colour = KINDS[FAILED][0] if m.met is False else KINDS[OK][0]
    parts = [
        f'<svg width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(m.name)}: {_e(duration(m.seconds))}">',
        f'<rect x="0" y="2" width="{achieved:.1f}" height="{height - 4}" fill="{colour}"/>',
    ]
    if m.objective_seconds is not None:
        x = width * m.objective_seconds / scale
        parts.append(
            f'<line class="objective" x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" '
            'stroke="#000" stroke-width="2"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def gantt(bars: Sequence[Bar], *, now: str | None = None) -> str:
    """The Gantt chart as inline SVG: one row per bar, grouped, on one time axis, then a
    legend and the same rows as a table (for those who cannot see the chart)."""
    dated = [b for b in bars if b.start]
    if not dated:
        return "<p>No timed phase was recorded.</p>"
    starts = [instant(b.start) for b in dated]
    ends = [instant(b.end) for b in dated if b.end]
    origin = min(starts)
    finish = max([*starts, *ends, *([instant(now)] if now else [])])
    span = max((finish - origin).total_seconds(), 1.0)
    label_width, chart_width, row, top = 260, 640, 22, 24
    rows: list[str] = []
    y = top
    group = None
    for bar in dated:
        if bar.group and bar.group != group:
            group = bar.group
            rows.append(f'<text x="4" y="{y + 14}" font-weight="bold">{_e(group)}</text>')
            y += row
        begin = (instant(bar.start) - origin).total_seconds()
        stop = (instant(bar.end) - origin).total_seconds() if bar.end else span
        x = label_width + chart_width * begin / span
        w = max(chart_width * (stop - begin) / span, 2.0)
        colour = KINDS.get(bar.kind, KINDS[OK])[0]
        took = duration(stop - begin) if bar.end else "not finished"
        tip = f"{bar.label}: {took}" + (f" ({bar.note})" if bar.note else "")
        rows.append(
            f'<g class="bar {_e(_css(bar.kind))}"><title>{_e(tip)}</title>'
            f'<text x="12" y="{y + 14}">{_e(_clip(bar.label))}</text>'
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{colour}"/></g>'
        )
        y += row
    axis = [
        f'<line x1="{label_width}" y1="{top - 4}" x2="{label_width + chart_width}" '
        f'y2="{top - 4}" stroke="#999"/>'
    ]
    for tick in range(5):
        x = label_width + chart_width * tick / 4
        axis.append(
            f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle">'
            f"+{_e(duration(span * tick / 4))}</text>"
        )
    height = y + 8
    svg = (
        f'<svg class="gantt" width="{label_width + chart_width + 40}" height="{height}" '
        f'role="img" aria-label="Gantt chart by phase">{"".join(axis)}{"".join(rows)}</svg>'
    )
    used = dict.fromkeys(b.kind for b in dated)
    legend = '<p class="legend">' + "".join(
        f'<span><span class="swatch" style="background:{KINDS[k][0]}"></span>'
        f"{_e(KINDS[k][1])}</span>"
        for k in used
        if k in KINDS
    )
    legend += f"<span>time from {_e(origin.isoformat())}</span></p>"
    table_rows = "".join(
        f"<tr><td>{_e(b.group)}</td><td>{_e(b.label)}</td><td>{_e(b.start)}</td>"
        f"<td>{_e(b.end or 'not finished')}</td><td>{_e(_took(b))}</td>"
        f"<td>{_e(KINDS.get(b.kind, KINDS[OK])[1])}</td><td>{_e(b.note)}</td></tr>"
        for b in dated
    )
    table = (
        "<details><summary>The same as a table</summary><table><tr><th>group</th>"
        "<th>phase</th><th>started</th><th>ended</th><th>took</th><th>result</th>"
        f"<th>note</th></tr>{table_rows}</table></details>"
    )
    return svg + legend + table


def trend_chart(page: Page) -> str:
    """Past runs' measure as columns, oldest first, with the objective as a line."""
    points = list(page.trend)
    values = [p.seconds for p in points if p.seconds is not None]
    top_value = max([*values, page.trend_objective_seconds or 0.0]) * 1.15 or 1.0
    column, gap, height, base = 40, 36, 160, 180
    width = max(len(points) * (column + gap) + 80, 240)
    parts = [
        f'<svg class="trend" width="{width}" height="{base + 40}" role="img" '
        f'aria-label="{_e(page.trend_name)} across drills">'
    ]
    for index, point in enumerate(points):
        x = 60 + index * (column + gap)
        if point.seconds is None:
            parts.append(f'<text x="{x}" y="{base - 4}">n/a</text>')
        else:
            h = max(height * point.seconds / top_value, 0.0)
            colour = KINDS[FAILED][0] if point.ok is False else KINDS[OK][0]
            parts.append(
                f"<g><title>{_e(point.label)}: {_e(duration(point.seconds))}</title>"
                f'<rect x="{x}" y="{base - h:.1f}" width="{column}" height="{h:.1f}" '
                f'fill="{colour}"/></g>'
            )
        parts.append(
            f'<text x="{x + column / 2}" y="{base + 14}" text-anchor="middle">'
            f"{_e(point.label[:10])}</text>"
        )
    if page.trend_objective_seconds is not None:
        y = base - height * page.trend_objective_seconds / top_value
        parts.append(
            f'<line class="objective" x1="50" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" '
            'stroke="#000" stroke-dasharray="4 3"/>'
            f'<text x="4" y="{y - 4:.1f}">objective {_e(duration(page.trend_objective_seconds))}'
            "</text>"
        )
    parts.append("</svg>")
    rows = "".join(
        f"<tr><td>{_e(p.label)}</td><td>{_e(duration(p.seconds))}</td>"
        f"<td>{_e('-' if p.ok is None else ('passed' if p.ok else 'FAILED'))}</td></tr>"
        for p in points
    )
    return (
        "".join(parts) + "<details><summary>The same as a table</summary><table><tr><th>drill</th>"
        f"<th>{_e(page.trend_name)}</th><th>result</th></tr>{rows}</table></details>"
    )


def _findings(findings: Sequence[tuple[str, str, str]]) -> str:
    if not findings:
        return "<p>None.</p>"
    rows = "".join(
        f'<tr><td><span class="status {_e(_css(severity))}">{_e(severity)}</span></td>'
        f"<td>{_e(code)}</td><td>{_e(message)}</td></tr>"
        for severity, code, message in findings
    )
    return f"<table><tr><th>severity</th><th>code</th><th>what</th></tr>{rows}</table>"


def _took(bar: Bar) -> str:
    if not bar.end:
        return "-"
    return duration((instant(bar.end) - instant(bar.start)).total_seconds())


def _clip(text: str, limit: int = 36) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
