"""Human output: plain-text tables and the verification report, no raw dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(s.rstrip() for s in out)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def when(iso: str | None) -> str:
    """An ISO timestamp as people read it: 2026-11-26 08:52:21 UTC."""
    if not iso:
        return "-"
    from datetime import UTC, datetime

    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def verification_report(report: dict[str, Any]) -> str:
    parts = [
        f"Backup verification of {report['deployment_name']} at {when(report['checked_at'])}: "
        f"{report['status']}",
        "",
    ]
    for cluster in report["clusters"]:
        parts.append(_cluster(cluster))
        parts.append("")
    findings = report["findings"]
    if findings:
        parts.append(f"Findings ({len(findings)}):")
        for number, finding in enumerate(findings, start=1):
            parts.append(f"  {number}. [{finding['code']}] {finding['message']}")
            parts.append(f"     Next step: {finding['next_step']}")
    else:
        parts.append("No findings: every protected cluster is ACTIVE, backed up within its RPO")
        parts.append("and at its desired HSM topology.")
    return "\n".join(parts)


def _cluster(cluster: dict[str, Any]) -> str:
    name = (
        f"{cluster['name']} ({cluster['cluster_id']})" if cluster["name"] else cluster["cluster_id"]
    )
    desired = ", ".join(f"{az}: {n}" for az, n in cluster["desired_hsms_per_az"].items())
    head = [
        f"Cluster {name}  region {cluster['region']}  state {cluster['state'] or 'NOT FOUND'}"
        + (f"  {cluster['hsm_type']} {cluster['mode']}" if cluster["hsm_type"] else ""),
        f"Desired HSMs per AZ: {desired}",
    ]
    hsms = cluster["hsms"]
    if hsms:
        head.append(
            table(
                ["HSM", "STATE", "AZ", "IP"],
                [[h["hsm_id"], h["state"], h["availability_zone"], h["eni_ip"]] for h in hsms],
            )
        )
    backup = cluster["latest_ready_backup"]
    if backup:
        age, rpo = cluster["backup_age_seconds"], cluster["rpo_seconds"]
        verdict = "within RPO" if age is not None and age <= rpo else "OLDER THAN RPO"
        created = when(backup["create_timestamp"])
        head.append(
            f"Latest READY backup: {backup['backup_id']} created {created}, "
            f"age {duration(age)} against an RPO of {duration(rpo)} ({verdict})"
        )
    else:
        head.append("Latest READY backup: none")
    for copies in cluster.get("copies", []):  # one per DR region, when configured
        ready = copies["newest_ready_copy"]
        head.append(
            f"Newest READY copy in {copies['region']}: {ready['backup_id']}, data age "
            f"{duration(copies['newest_ready_copy_age_seconds'])}"
            if ready
            else f"Newest READY copy in {copies['region']}: none"
        )
    return "\n".join(head)


def _cell(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def condensed_steps(steps: list[dict[str, Any]]) -> list[list[str]]:
    """Rows for people: each Task/Wait state once, in order, with how often it ran and
    the time from its first start to its last end (polling loops fold into one line)."""
    rows: dict[str, dict[str, Any]] = {}
    for step in steps:
        if step.get("type") in ("Choice", "Pass", "Succeed"):
            continue
        row = rows.setdefault(step["state"], {"runs": 0, "start": step["start"], "end": None})
        row["runs"] += 1
        row["end"] = step["end"] or row["end"]
        row["failed"] = step.get("failed", False)
    out = []
    for state, row in rows.items():
        seconds = _between(row["start"], row["end"])
        runs = f"x{row['runs']}" if row["runs"] > 1 else ""
        status = "FAILED" if row.get("failed") else ""
        out.append([state, runs, (row["start"] or "")[11:19], duration(seconds), status])
    return out


def _between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    from datetime import datetime

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
