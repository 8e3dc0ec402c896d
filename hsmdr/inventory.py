"""The recovery document, generated from live data (AWS or the sandbox).

What an engineer needs at hand in a disaster: every protected cluster with its HSMs,
zones and IPs, the newest backups and their copies with ids and ages, the golden
backups, the last DR drills (outcome, recovery time against the RTO, key check,
teardown, report), who to call and how alerts escalate, and where the runbooks are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hsmdr.drill_reports import report_bucket, report_objects, stored_report
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.models import BACKUP_READY, Backup
from presentation.render import duration, table
from stacks.config import DeploymentConfig

RUNBOOKS = Path(__file__).resolve().parents[1] / "docs" / "runbooks"
NEWEST_BACKUPS = 3
NEWEST_DRILLS = 5
RUN_A_DRILL = "run `hsmdr drill start --follow --config PATH`"


def gather(
    config: DeploymentConfig,
    gateway_for: Callable[[str], CloudHsmGateway] = CloudHsmGateway.for_region,
    now: datetime | None = None,
    client: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """`client(service)`: a boto3 client in the deployment's region (the drill reports)."""
    now = now or datetime.now(UTC)
    if client is None:
        import boto3

        def client(service: str) -> Any:
            return boto3.client(service, region_name=config.region)

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
        "drills": read_drills(
            client("ssm"), client("s3"), config.deployment_name, config.drills.rto_minutes
        ),
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
    lines += ["## Last drills", "", *drill_lines(inventory["drills"]), ""]
    lines += ["## Contacts and escalation", "", *escalation_lines(inventory["escalation"])]
    lines += ["", "## Runbooks", ""]
    lines += [f"- [{r['title']}]({r['path']})" for r in inventory["runbooks"]]
    return "\n".join(lines) + "\n"


# Drills ------------------------------------------------------------------------------


def read_drills(
    ssm: Any, s3: Any, deployment_name: str, rto_minutes: float, limit: int = NEWEST_DRILLS
) -> dict[str, Any]:
    """The newest `limit` drill reports, newest first, from the bucket the drill stack's
    SSM parameter names. Never raises for AWS errors: the section says what went wrong."""
    from botocore.exceptions import BotoCoreError, ClientError

    from stacks.names import dr_drill_report_parameter

    section: dict[str, Any] = {
        "status": "FOUND",
        "parameter": dr_drill_report_parameter(deployment_name),
        "bucket": None,
        "rto_minutes": rto_minutes,
        "reports_found": 0,
        "reports": [],
        "message": None,
    }
    try:
        section["bucket"] = bucket = report_bucket(ssm, deployment_name)
        objects = report_objects(s3, bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return {**section, "status": "NOT_DEPLOYED"}
        return {**section, "status": "UNREADABLE", "message": str(error)}
    except BotoCoreError as error:
        return {**section, "status": "UNREADABLE", "message": str(error)}
    section["reports_found"] = len(objects)
    if not objects:
        return {**section, "status": "NO_REPORTS"}
    for found in objects[:limit]:
        key = str(found["Key"])
        try:
            stored = stored_report(s3, bucket, key)
        except (ClientError, BotoCoreError, ValueError) as error:
            section["reports"].append({"markdown_key": key, "error": str(error)})
            continue
        section["reports"].append(drill_entry(stored, key, rto_minutes))
    return section


def drill_entry(stored: Mapping[str, Any], markdown_key: str, rto_minutes: float) -> dict[str, Any]:
    """What the recovery document keeps of one drill report, the recovery time judged
    against the config's RTO (`drill_rto_minutes`: the one the drill itself used)."""
    measured = stored.get("measurements") or {}
    keys = stored.get("key_verification") or {}
    recovery = measured.get("recovery_time_seconds")
    return {
        "execution_name": stored.get("execution_name")
        or str(stored.get("execution") or "").rsplit(":", 1)[-1],
        "execution": stored.get("execution"),
        "started_at": stored.get("started_at"),
        "finished_at": stored.get("finished_at"),
        "outcome": "passed" if stored.get("status") == "SUCCEEDED" else "failed",
        "error": stored.get("error") or None,
        "source_cluster_id": stored.get("source_cluster_id"),
        "backup_id": (stored.get("backup") or {}).get("backup_id"),
        "source": stored.get("source"),
        "region": stored.get("region"),
        "time_to_restore_seconds": measured.get("time_to_restore_seconds"),
        "time_to_verified_keys_seconds": measured.get("time_to_verified_keys_seconds"),
        "recovery_time_seconds": recovery,
        "rto_minutes": rto_minutes,
        "rto_met": None if recovery is None else recovery <= rto_minutes * 60,
        "drill_rto_minutes": measured.get("rto_minutes"),
        "key_check": keys.get("status", "NOT_RUN"),
        "keys_found": keys.get("keys_found"),
        "keys_expected": keys.get("keys_expected"),
        "teardown": (stored.get("teardown") or {}).get("status"),
        "markdown_key": markdown_key,
    }


def drill_lines(drills: Mapping[str, Any]) -> list[str]:
    status, bucket = drills["status"], drills["bucket"]
    if status == "NOT_DEPLOYED":
        return [
            f"Drills are not deployed (no SSM parameter `{drills['parameter']}`): deploy the "
            f"stack, then {RUN_A_DRILL}."
        ]
    if status == "UNREADABLE":
        return [f"Could not read the drill reports: {drills['message']}"]
    if status == "NO_REPORTS":
        return [f"No drill has run yet (no report in `s3://{bucket}/`): {RUN_A_DRILL}."]
    lines = [
        f"Newest {len(drills['reports'])} of {drills['reports_found']} drill reports in "
        f"`s3://{bucket}/`, newest first. RTO objective (drills.rto_minutes): "
        f"{drills['rto_minutes']:g} min.",
        "",
    ]
    for drill in drills["reports"]:
        lines += _drill_lines(drill, bucket)
    return lines


def _drill_lines(drill: Mapping[str, Any], bucket: str) -> list[str]:
    if "error" in drill and "outcome" not in drill:
        return [f"- `{drill['markdown_key']}`: unreadable: {drill['error']}"]
    outcome = "passed" if drill["outcome"] == "passed" else f"**FAILED** ({drill['error']})"
    keys = drill["key_check"]
    if drill["keys_expected"] is not None:
        keys += f" ({drill['keys_found']} of {drill['keys_expected']} keys)"
    return [
        f"- `{drill['execution_name']}` {outcome}: started {drill['started_at']}, finished "
        f"{drill['finished_at']}",
        f"  - backup `{drill['backup_id']}` ({drill['source']}, {drill['region']}) of cluster "
        f"`{drill['source_cluster_id']}`",
        f"  - time to first ACTIVE HSM {duration(drill['time_to_restore_seconds'])}, to "
        f"verified keys {duration(drill['time_to_verified_keys_seconds'])}: recovery time "
        f"{_recovery(drill)}",
        f"  - key check {keys}; teardown {drill['teardown'] or '-'}",
        f"  - report `s3://{bucket}/{drill['markdown_key']}`",
    ]


def _recovery(drill: Mapping[str, Any]) -> str:
    if drill["rto_met"] is None:
        return "not measured"
    verdict = "within" if drill["rto_met"] else "OVER"
    rto = drill["rto_minutes"]
    text = f"{duration(drill['recovery_time_seconds'])}, {verdict} the {rto:g} min RTO"
    ran = drill["drill_rto_minutes"]
    if ran is not None and ran != rto:
        text += f" (the drill measured against {ran:g} min)"
    return text


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
