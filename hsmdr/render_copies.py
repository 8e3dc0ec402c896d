"""Human output of the copy commands: tables and sentences, never raw dicts."""

from __future__ import annotations

from typing import Any

from presentation.render import duration, table, when


def copy_report(report: dict[str, Any]) -> str:
    dry = " (dry run: nothing was changed)" if report["dry_run"] else ""
    totals = report["totals"]
    parts = [
        f"Backup copy job of {report['deployment_name']} at {when(report['checked_at'])}: "
        f"{report['status']}{dry}",
        f"Copies started {totals['copies_created']}, failed {totals['copies_failed']}, "
        f"pruned {totals['copies_pruned']}.",
        "",
    ]
    for cluster in report["clusters"]:
        parts += [_cluster(cluster), ""]
    parts.append(_findings(report["findings"]))
    return "\n".join(parts)


def _cluster(cluster: dict[str, Any]) -> str:
    name = _name(cluster)
    latest = cluster["latest_ready_backup"]
    newest = (
        f"newest READY backup {latest['backup_id']} created {when(latest['create_timestamp'])}"
        if latest
        else "no READY backup"
    )
    lines = [f"Cluster {name} in {cluster['region']}: {newest}"]
    rows = []
    for region, copies in cluster["copies"].items():
        created = [c["backup_id"] or "(dry run)" for c in copies.get("created", [])]
        ready = copies.get("newest_ready_copy")
        rows.append(
            [
                region,
                copies.get("decision"),
                ", ".join(created),
                ready["backup_id"] if ready else None,
                duration(copies.get("newest_ready_copy_age_seconds")),
                ", ".join(copies.get("in_progress", [])),
                ", ".join(copies.get("stuck", [])),
                ", ".join(copies.get("failed", [])),
            ]
        )
    if rows:
        lines.append(
            table(
                [
                    "DR REGION",
                    "DECISION",
                    "STARTED",
                    "NEWEST READY COPY",
                    "AGE",
                    "IN PROGRESS",
                    "STUCK",
                    "FAILED",
                ],
                rows,
            )
        )
    pruned = cluster["pruned"]
    if pruned:
        lines.append(
            f"Pruned ({len(pruned)}; DeleteBackup leaves them PENDING_DELETION for 7 days):"
        )
        lines.append(
            table(
                ["BACKUP", "REGION", "STATE", "REASON"],
                [[p["backup_id"], p["region"], p["state"], p["reason"]] for p in pruned],
            )
        )
    else:
        lines.append("Pruned: none")
    golden = cluster["golden"]
    changes = [("marked", g) for g in golden["marked"]] + [
        ("unmarked", g) for g in golden["unmarked"]
    ]
    if changes:
        lines.append("Golden backups:")
        lines.append(
            table(
                ["ACTION", "BACKUP", "REGION", "PERIOD", "REASON"],
                [[a, g["backup_id"], g["region"], g["period"], g["reason"]] for a, g in changes],
            )
        )
    retention = cluster["retention"]
    if retention:
        lines.append(f"Retention policy: {retention['status']} ({retention['reason']})")
    return "\n".join(lines)


def _findings(findings: list[dict[str, Any]]) -> str:
    if not findings:
        return "No findings."
    parts = [f"Findings ({len(findings)}):"]
    for number, finding in enumerate(findings, start=1):
        parts.append(f"  {number}. [{finding['code']}] {finding['message']}")
        parts.append(f"     Next step: {finding['next_step']}")
    return "\n".join(parts)


def backup_listing(document: dict[str, Any]) -> str:
    parts = [f"Backups of {document['deployment_name']}, newest first", ""]
    for cluster in document["clusters"]:
        regions = cluster["dr_regions"]
        parts.append(f"Cluster {_name(cluster)} in {cluster['region']}")
        rows = [
            [
                b["backup_id"],
                b["state"] if b["in_source_region"] else "(gone)",
                when(b["create_timestamp"]),
                _yes(b["never_expires"]),
                b["golden"],
                *[_copies(b["copies"][r]) for r in regions],
            ]
            for b in cluster["backups"]
        ]
        headers = ["BACKUP", "STATE", "CREATED", "NEVER EXPIRES", "GOLDEN", *regions]
        parts += [table(headers, rows) if rows else "(no backups)", ""]
    return "\n".join(parts).rstrip()


def _copies(copies: list[dict[str, Any]]) -> str:
    if not copies:
        return "-"
    return ", ".join(
        f"{c['backup_id']} {c['state']}"
        + (" golden" if c["golden"] else "")
        + ("" if c["managed"] else " (not ours)")
        for c in copies
    )


def sandbox_copy_run(result: dict[str, Any]) -> str:
    parts = [
        f"Sandbox copy job of {result['deployment_name']}: {result['status']}",
        "",
        "Timeline:",
        table(
            ["STEP", "STARTED", "ENDED", "SECONDS"],
            [
                [s["step"], when(s["started_at"]), when(s["ended_at"]), f"{s['seconds']:.3f}"]
                for s in result["timeline"]
            ],
        ),
        "",
        f"Copies in the DR regions ({len(result['copies'])}):",
        table(
            ["REGION", "COPY", "STATE", "SOURCE BACKUP", "MANAGED BY"],
            [
                [
                    c["region"],
                    c["backup_id"],
                    c["state"],
                    c["source_backup"],
                    c["tags"].get("managed-by"),
                ]
                for c in result["copies"]
            ],
        )
        if result["copies"]
        else "(none)",
        "",
        f"Pruned: {len(result['pruned'])}",
        _findings(result["findings"]),
        "",
    ]
    leaked = result["leaked_resources"]
    if leaked:
        parts.append(f"LEAKED RESOURCES ({len(leaked)}):")
        parts.append(table(["KIND", "ID", "WHY"], [[x["kind"], x["id"], x["why"]] for x in leaked]))
    else:
        parts.append("Leaked resources: none (no cluster, HSM or stray copy was left behind).")
    alerts = result["alerts"]
    if alerts:
        parts += ["", f"Alerts sent to the on-call engineer ({len(alerts)}):"]
        for alert in alerts:
            parts += ["", f"Subject: {alert['subject']}", "", alert["message"]]
    else:
        parts += ["", "No alert was sent."]
    return "\n".join(parts)


def _name(cluster: dict[str, Any]) -> str:
    return (
        f"{cluster['name']} ({cluster['cluster_id']})" if cluster["name"] else cluster["cluster_id"]
    )


def _yes(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")
