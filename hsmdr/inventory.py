"""The recovery document, generated from live data (AWS or the sandbox).

What an engineer needs at hand in a disaster: every protected cluster with its HSMs,
zones and IPs, the newest backups and their copies with ids and ages, the golden
backups, who to call and how alerts escalate, and where the runbooks are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hsmdr.render import duration, table
from lambdas.core.gateway import CloudHsmGateway
from lambdas.core.models import BACKUP_READY, Backup
from stacks.config import DeploymentConfig

RUNBOOKS = Path(__file__).resolve().parents[1] / "docs" / "runbooks"
NEWEST_BACKUPS = 3


def gather(
    config: DeploymentConfig,
    gateway_for: Callable[[str], CloudHsmGateway] = CloudHsmGateway.for_region,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    copies_by_region = {
        region: [b for b in gateway_for(region).iter_backups(state=BACKUP_READY) if b.is_copy]
        for region in config.dr_regions
    }
    clusters = []
    for spec in config.protected_clusters:
        gateway = gateway_for(spec.region)
        cluster = gateway.find_clusters([spec.id]).get(spec.id)
        backups = list(
            gateway.iter_backups(cluster_ids=[spec.id], state=BACKUP_READY, limit=NEWEST_BACKUPS)
        )
        golden = list(gateway.iter_backups(cluster_ids=[spec.id], never_expires=True))
        clusters.append(
            {
                "cluster_id": spec.id,
                "name": spec.name,
                "region": spec.region,
                "state": cluster.state if cluster else "NOT FOUND",
                "hsm_type": cluster.hsm_type if cluster else None,
                "mode": cluster.mode if cluster else None,
                "desired_hsms_per_az": dict(spec.hsms_per_az),
                "hsms": [
                    {
                        "hsm_id": h.hsm_id,
                        "state": h.state,
                        "availability_zone": h.availability_zone,
                        "eni_ip": h.eni_ip,
                    }
                    for h in (cluster.hsms if cluster else ())
                ],
                "newest_backups": [_backup(b, now) for b in backups],
                "golden_backups": [_backup(b, now) for b in golden],
                "copies": {
                    region: [_backup(b, now) for b in _newest(found, spec.id)]
                    for region, found in copies_by_region.items()
                },
            }
        )
    return {
        "status": "SUCCEEDED",
        "deployment_name": config.deployment_name,
        "generated_at": now.isoformat(),
        "rpo_hours": config.rpo_hours,
        "clusters": clusters,
        "escalation": escalation_matrix(config),
        "runbooks": runbook_index(),
    }


def runbook_index() -> list[dict[str, str]]:
    index = []
    for path in sorted(RUNBOOKS.glob("*.md")):
        title = next(
            (line[2:].strip() for line in path.read_text().splitlines() if line.startswith("# ")),
            path.stem,
        )
        index.append({"title": title, "path": f"docs/runbooks/{path.name}"})
    return index


def markdown(inventory: dict[str, Any]) -> str:
    lines = [
        f"# Recovery document: {inventory['deployment_name']}",
        "",
        f"Generated {inventory['generated_at']} from live data. RPO: {inventory['rpo_hours']} h.",
        "",
    ]
    for cluster in inventory["clusters"]:
        label = (
            f"{cluster['name']} ({cluster['cluster_id']})"
            if cluster["name"]
            else cluster["cluster_id"]
        )
        lines += [
            f"## Cluster {label}",
            "",
            f"Region {cluster['region']}, state {cluster['state']}, "
            f"{cluster['hsm_type'] or '-'} {cluster['mode'] or ''}. Desired HSMs per AZ: "
            + ", ".join(f"{z}: {n}" for z, n in cluster["desired_hsms_per_az"].items()),
            "",
            "```",
            table(
                ["HSM", "STATE", "AZ", "IP"],
                [
                    [h["hsm_id"], h["state"], h["availability_zone"], h["eni_ip"]]
                    for h in cluster["hsms"]
                ],
            ),
            "```",
            "",
            "Newest READY backups:",
            "",
            *_backup_lines(cluster["newest_backups"]),
            "",
            "Golden backups (NeverExpires):",
            "",
            *_backup_lines(cluster["golden_backups"]),
            "",
        ]
        for region, copies in cluster["copies"].items():
            lines += [f"Copies in {region}:", "", *_backup_lines(copies), ""]
    lines += ["## Contacts and escalation", "", *escalation_lines(inventory["escalation"])]
    lines += ["", "## Runbooks", ""]
    lines += [f"- [{r['title']}]({r['path']})" for r in inventory["runbooks"]]
    return "\n".join(lines) + "\n"


def escalation_matrix(config: DeploymentConfig) -> dict[str, Any]:
    """The config's escalation matrix: contacts, and per severity who is reached."""
    matrix = config.escalation
    page, notify = matrix.severities.page, matrix.severities.notify
    return {
        "contacts": [c.model_dump() for c in matrix.contacts],
        "severities": [
            {
                "severity": "page",
                "meaning": "wakes someone",
                "contacts": list(page.contacts),
                "escalate_after_minutes": page.escalate_after_minutes,
                "escalate_to": list(page.escalate_to),
            },
            {
                "severity": "notify",
                "meaning": "working hours",
                "contacts": list(notify.contacts),
                "escalate_after_minutes": None,
                "escalate_to": [],
            },
        ],
    }


def escalation_lines(matrix: dict[str, Any]) -> list[str]:
    severities = table(
        ["SEVERITY", "MEANING", "FIRST REACHED", "ESCALATES AFTER", "ESCALATES TO"],
        [
            [
                s["severity"],
                s["meaning"],
                ", ".join(s["contacts"]),
                f"{s['escalate_after_minutes']} min" if s["escalate_after_minutes"] else "-",
                ", ".join(s["escalate_to"]) or "-",
            ]
            for s in matrix["severities"]
        ],
    )
    contacts = table(
        ["CONTACT", "EMAIL", "SMS", "HTTPS"],
        [
            [c["name"], c["email"] or "-", c["sms"] or "-", c["https"] or "-"]
            for c in matrix["contacts"]
        ],
    )
    return [
        "```",
        severities,
        "```",
        "",
        "```",
        contacts,
        "```",
        "",
        "Alarms escalate: a page alarm still in ALARM after the delay also reaches the "
        "escalation contacts. Messages the workflows send reach a severity's first contacts "
        "only; acknowledging and escalating them is the paging service's job.",
    ]


def _backup(backup: Backup, now: datetime) -> dict[str, Any]:
    created = backup.create_timestamp
    return {
        "backup_id": backup.backup_id,
        "state": backup.state,
        "create_timestamp": created.isoformat() if created else None,
        "age_seconds": round((now - created).total_seconds()) if created else None,
        "never_expires": backup.never_expires,
        "source_backup": backup.source_backup or None,
    }


def _newest(copies: list[Backup], cluster_id: str) -> list[Backup]:
    mine = [c for c in copies if c.source_cluster == cluster_id]
    mine.sort(key=lambda b: b.create_timestamp or datetime.min.replace(tzinfo=UTC), reverse=True)
    return mine[:NEWEST_BACKUPS]


def _backup_lines(backups: list[dict[str, Any]]) -> list[str]:
    if not backups:
        return ["- none"]
    return [
        f"- `{b['backup_id']}` created {b['create_timestamp']}, {duration(b['age_seconds'])} old"
        + (f", copy of `{b['source_backup']}`" if b["source_backup"] else "")
        for b in backups
    ]
