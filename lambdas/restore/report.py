"""The restore's report and its messages, from the job the workflow carries. Pure.

Times are ISO-8601 strings in `job.run.times` (set once, by the step that saw the
milestone); durations are computed here, so every message and the report agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lambdas.alerting.alerts import SNS_SUBJECT_MAX
from lambdas.alerting.workflow_alerts import error_summary
from lambdas.restore.keys import KEYS_FAILED, finding_lines
from lambdas.shared import runbooks
from lambdas.shared.console import execution_url
from lambdas.shared.models import Cluster

KEY_CHECK_NOT_RUN = "key verification: not run (API checks only)"  # no record of it at all
# Phases of a restore, in order: (name in the report, start milestone, end milestone).
PHASES = (
    ("identify backup", "started", "identified"),
    ("create cluster", "identified", "cluster_active"),
    ("first HSM", "cluster_active", "first_hsm_active"),
    ("publish client configuration", "first_hsm_active", "service_restored"),
    ("verify recovery", "service_restored", "verified"),
    ("remaining HSMs", "verified", "ha_reached"),
    ("final report", "ha_reached", "finished"),
)
CONFIGURE_TOOLS = "configure-pkcs11 (or configure-jce, configure-cli)"
# In the stack's reports bucket: <prefix><date>-<execution>.json and .html.
REPORT_PREFIX = "reports/restores/"


def seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((_at(end) - _at(start)).total_seconds(), 3)


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


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


def client_steps(
    cluster_id: str, region: str, ips: Sequence[str], security_group: str, job: Mapping[str, Any]
) -> list[str]:
    """What every client must do: a new cluster means new IPs and a new security group."""
    plan, run = job["plan"], job["run"]
    published = run.get("published") or {}
    anchor = (published.get("trust_anchor") or {}).get("note") or "trust anchor: not published"
    path = published.get("path", "")
    first_ip = ips[0] if ips else "<HSM IP>"
    return [
        f"Re-point every client to the new cluster with {CONFIGURE_TOOLS}:",
        f"  sudo /opt/cloudhsm/bin/configure-pkcs11 -a {first_ip}",
        f"  or: sudo /opt/cloudhsm/bin/configure-pkcs11 --cluster-id {cluster_id} --region {region}"
        " (needs cloudhsm:DescribeClusters)",
        f"Allow the clients through the cluster's new security group {security_group or '-'} "
        "(TCP 2223-2225).",
        f"Keep using customerCA.crt: {anchor}.",
        f"All of it is in SSM ({region}): aws ssm get-parameters-by-path --region {region} "
        f"--path {path}",
        f"Restore id {plan['restore_id']}; execution {plan['execution']}",
    ]


def service_restored_alert(
    job: Mapping[str, Any], cluster_id: str, ips: Sequence[str], security_group: str
) -> dict[str, str]:
    plan, times = job["plan"], job["run"]["times"]
    rto = seconds(times.get("started"), times.get("first_hsm_active"))
    remaining = plan["hsm_count"] - len(ips)
    lines = [
        f"CloudHSM service restored for {plan['source_label']} in {plan['region']}: cluster "
        f"{cluster_id} has an ACTIVE HSM at {', '.join(ips)}.",
        f"Time to restore service: {_duration(rto)} (from the start of the restore).",
        posture_line(plan),
        f"Backup used: {plan['backup']['backup_id']}, taken {plan['backup']['create_timestamp']}.",
        "",
        *client_steps(cluster_id, plan["region"], ips, security_group, job),
        "",
    ]
    if remaining > 0:
        lines += [
            f"The workflow now verifies the cluster and adds {remaining} more HSM(s), one at a "
            "time. Until a second HSM is ACTIVE, SDK 5 clients need the key availability "
            "check disabled (every key must be on two HSMs).",
        ]
    lines += [
        f"Follow the rest of the restore: hsmdr report {plan['execution']}",
        f"Runbook: {runbooks.COMPLETE_CLUSTER_FAILURE} (After the restore: clients)",
        f"Execution: {execution_url(plan['execution'])}",
    ]
    subject = f"CloudHSM service restored: {plan['source_cluster_id']} -> {cluster_id}"
    body = runbooks.from_environment("\n".join(lines))  # links, --deployment NAME
    return {"subject": subject[:SNS_SUBJECT_MAX], "body": body}


def posture_fields(plan: Mapping[str, Any]) -> dict[str, Any]:
    """Which DR posture the restore used, and why (lambdas/shared/standby.py)."""
    return {
        "posture": plan.get("posture", "cold"),
        "posture_reason": plan.get("posture_reason", ""),
        "standby_cluster_id": plan.get("standby_cluster_id"),
    }


def posture_line(values: Mapping[str, Any]) -> str:
    fields = posture_fields(values)
    reason = f": {fields['posture_reason']}" if fields["posture_reason"] else ""
    return f"Posture: {fields['posture']}{reason}."


def final_report(job: Mapping[str, Any], cluster: Cluster, now: datetime) -> dict[str, Any]:
    plan, run = job["plan"], job["run"]
    times = {**run["times"], "finished": now.isoformat()}
    backup = plan["backup"]
    hsms = [
        {
            "hsm_id": h.hsm_id,
            "availability_zone": h.availability_zone,
            "eni_ip": h.eni_ip,
            "state": h.state,
        }
        for h in cluster.hsms
    ]
    return {
        "status": "SUCCEEDED",
        "restore_id": plan["restore_id"],
        "execution": plan["execution"],
        "region": plan["region"],
        "source_cluster_id": plan["source_cluster_id"],
        "backup": backup,
        "rpo_seconds": seconds(backup["create_timestamp"], times["started"]),
        "rto_seconds": seconds(times["started"], times.get("first_hsm_active")),
        "time_to_full_ha_seconds": seconds(times["started"], times.get("ha_reached")),
        "cluster_id": cluster.cluster_id,
        "cluster_state": cluster.state,
        "hsm_type": cluster.hsm_type,
        "mode": cluster.mode,
        "security_group": cluster.security_group,
        "adopted_cluster": plan["adopted"],
        **posture_fields(plan),
        "hsm_count": plan["hsm_count"],
        "hsms": hsms,
        "created_hsm_ids": run["created_hsm_ids"],
        "removed_hsm_ids": run["removed_hsm_ids"],
        "steps": phase_timings(times),
        "hsm_timeline": [{"hsm_id": k, **v} for k, v in run["hsms"].items()],
        "client_config": run.get("published") or {},
        "verification": run.get("verification") or {},
        "key_verification": (run.get("key_verification") or {}).get("summary", KEY_CHECK_NOT_RUN),
        "key_verification_report": run.get("key_verification") or {},
        "notes": [*plan["notes"], *run["notes"]],
        "started_at": times["started"],
        "finished_at": times["finished"],
    }


def success_alert(
    report: Mapping[str, Any], job: Mapping[str, Any], console_url: str
) -> dict[str, str]:
    ips = [h["eni_ip"] for h in report["hsms"]]
    published = report["client_config"]
    lines = [
        f"Restore of {job['plan']['source_label']} SUCCEEDED in {report['region']}: cluster "
        f"{report['cluster_id']} has {len(ips)} ACTIVE HSM(s) "
        f"({', '.join(h['availability_zone'] + ' ' + h['eni_ip'] for h in report['hsms'])}).",
        "",
        f"Backup {report['backup']['backup_id']} (data as of "
        f"{report['backup']['create_timestamp']}): achieved RPO "
        f"{_duration(report['rpo_seconds'])}.",
        f"Service restored (RTO): {_duration(report['rto_seconds'])}; full HA: "
        f"{_duration(report['time_to_full_ha_seconds'])}.",
        posture_line(report),
        "Steps: " + "; ".join(f"{s['step']} {_duration(s['seconds'])}" for s in report["steps"]),
        f"Checks: {report['verification'].get('summary', '-')}; {report['key_verification']}.",
    ]
    if published.get("ips_changed_since_service_restored"):
        lines.append(
            "HSM IPs CHANGED since the service-restored message (an HSM was replaced): "
            "re-point clients again with the IPs above."
        )
    keys = report.get("key_verification_report") or {}
    verified = keys.get("status") == "SUCCEEDED"
    lines += finding_lines(keys)  # warnings only: an error fails the restore
    if report["notes"]:
        lines += ["", "Notes:", *[f"  - {n}" for n in report["notes"]]]
    lines += [
        "",
        "Next steps:",
        *client_steps(report["cluster_id"], report["region"], ips, report["security_group"], job),
        (
            "Update protected_clusters in the deployment config to the new cluster id."
            if verified
            else "Verify the keys with PKCS#11 before retiring the old cluster's "
            "configuration, and update protected_clusters in the deployment config to the "
            "new cluster id."
        ),
        f"Post-incident report (timeline, RTO, RPO): hsmdr report {report['execution']}",
        *report_lines(report),
        f"Runbook: {runbooks.COMPLETE_CLUSTER_FAILURE}",
        f"Execution: {console_url}",
    ]
    subject = f"Restore SUCCEEDED: {report['source_cluster_id']} -> {report['cluster_id']}"
    body = runbooks.from_environment("\n".join(lines))  # links, --deployment NAME
    return {"subject": subject[:SNS_SUBJECT_MAX], "body": body}


def failure_report(
    job: Mapping[str, Any],
    error: Mapping[str, Any],
    clusters: Sequence[Cluster],
    now: datetime,
    lookup_problem: str | None = None,
) -> dict[str, Any]:
    """What failed, and what exists now: the restore deletes nothing on failure."""
    name, message = error_summary(error)
    plan, run = job.get("plan") or {}, job.get("run") or {}
    times = run.get("times") or {}
    return {
        "status": "FAILED",
        "error": name,
        "message": message,
        "failed_after_step": run.get("step") or "identify",
        "restore_id": plan.get("restore_id"),
        "execution": plan.get("execution"),
        "region": plan.get("region"),
        "source_cluster_id": plan.get("source_cluster_id"),
        "backup_id": (plan.get("backup") or {}).get("backup_id"),
        "backup": plan.get("backup") or {},
        **posture_fields(plan),
        "existing": [
            {
                "cluster_id": c.cluster_id,
                "state": c.state,
                "hsms": [
                    {
                        "hsm_id": h.hsm_id,
                        "availability_zone": h.availability_zone,
                        "eni_ip": h.eni_ip,
                        "state": h.state,
                    }
                    for h in c.hsms
                ],
            }
            for c in clusters
        ],
        "lookup_problem": lookup_problem,
        "created_hsm_ids": run.get("created_hsm_ids", []),
        "removed_hsm_ids": run.get("removed_hsm_ids", []),
        "client_config": run.get("published") or {},
        "cluster_id": run.get("cluster_id"),
        "key_verification": run.get("key_verification") or {},
        "rto_seconds": seconds(times.get("started"), times.get("first_hsm_active")),
        "rpo_seconds": seconds(
            (plan.get("backup") or {}).get("create_timestamp"), times.get("started")
        ),
        # The phases it went through and each HSM's life, for the report's Gantt chart.
        "steps": phase_timings(times),
        "hsm_timeline": [{"hsm_id": k, **v} for k, v in (run.get("hsms") or {}).items()],
        "started_at": times.get("started"),
        "failed_at": now.isoformat(),
        "finished_at": now.isoformat(),
    }


def failure_alert(
    report: Mapping[str, Any], execution_input: Mapping[str, Any], console_url: str
) -> dict[str, str]:
    restore_id = report["restore_id"]
    region = report["region"] or execution_input.get("region") or "<region>"
    what = (
        report["source_cluster_id"]
        or execution_input.get("source_cluster_id")
        or (execution_input.get("backup_id") or "a cluster")
    )
    lines = [
        f"Restore of {what} FAILED after step '{report['failed_after_step']}': "
        f"{report['error']}: {report['message']}",
        "",
    ]
    if report["existing"]:
        lines.append("What exists now (nothing was deleted; an engineer decides):")
        for cluster in report["existing"]:
            lines.append(f"  - cluster {cluster['cluster_id']} {cluster['state']}")
            lines += [
                f"      HSM {h['hsm_id']} {h['state']} in {h['availability_zone']} "
                f"{h['eni_ip'] or ''}".rstrip()
                for h in cluster["hsms"]
            ]
    elif report["lookup_problem"]:
        lines.append(f"What exists now could not be read: {report['lookup_problem']}")
    else:
        lines.append("Nothing was created by this execution.")
    if report.get("posture_reason"):
        lines.append(posture_line(report))
    keys = report.get("key_verification") or {}
    if report["error"] == KEYS_FAILED and report.get("cluster_id"):
        lines += [
            "",
            f"The restored cluster {report['cluster_id']} is KEPT (nothing was deleted) but "
            "its keys do not match the key manifest: do not point clients at it until an "
            "engineer has explained every finding below.",
        ]
    if keys.get("summary") and not keys.get("findings"):
        lines.append(str(keys["summary"]))
    lines += finding_lines(keys)
    if report["removed_hsm_ids"]:
        lines.append(
            "Deleted by this execution (DEGRADED HSMs it had created): "
            + ", ".join(report["removed_hsm_ids"])
        )
    if report["rto_seconds"] is not None:
        lines.append(
            f"Service was restored after {_duration(report['rto_seconds'])}: clients may "
            "already use the cluster above"
            + (
                ", so move them off it until the key findings are explained."
                if report["error"] == KEYS_FAILED
                else "."
            )
        )
    lines += ["", "Next steps:"]
    if restore_id and report["existing"]:
        lines.append(
            f"  1. Fix the cause, then resume (the cluster above is adopted, not duplicated): "
            f"hsmdr restore --config <config> --region {region} --restore-id {restore_id} "
            f"{_source_flag(report, execution_input)} --follow"
        )
        lines.append(
            f"  2. Or give up on it: aws cloudhsmv2 describe-clusters --region {region} "
            "--filters clusterIds=<id>, delete its HSMs, then aws cloudhsmv2 delete-cluster"
        )
    else:
        lines.append(
            f"  1. Fix the cause named above, then start again: hsmdr restore --config <config> "
            f"--region {region} {_source_flag(report, execution_input)} --follow"
        )
    lines += report_lines(report)
    lines.append(f"Runbook: {runbooks.COMPLETE_CLUSTER_FAILURE} (When it fails)")
    lines.append(f"Execution: {console_url}")
    subject = f"Restore FAILED: {what}: {report['error']}"
    body = runbooks.from_environment("\n".join(lines))  # links, --deployment NAME
    return {"subject": subject[:SNS_SUBJECT_MAX], "body": body}


def report_lines(report: Mapping[str, Any]) -> list[str]:
    """Where the restore's report was written (or why it was not)."""
    location = report.get("report_location") or {}
    if not location:
        return []
    if location.get("error"):
        return [f"Report not written to the reports bucket: {location['error']}"]
    return [f"Report (JSON and HTML): s3://{location['bucket']}/{location['html_key']}"]


def _source_flag(report: Mapping[str, Any], execution_input: Mapping[str, Any]) -> str:
    if execution_input.get("backup_id"):
        return f"--backup-id {execution_input['backup_id']}"
    source = report["source_cluster_id"] or execution_input.get("source_cluster_id")
    return f"--source-cluster {source}" if source else "--source-cluster <id>"


def _duration(value: float | None) -> str:
    if value is None:
        return "-"
    minutes, secs = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{value:.1f}s"
