"""The DR drill's result, as pure functions of the job: measurements, findings, the
report (JSON and Markdown), the alert texts and the metrics document.

Measurements (runbook 9.3.1 "document recovery time"):
- time to restore: from the CreateCluster call to the first HSM seen ACTIVE;
- time to verified keys: from the CreateCluster call to the key check passing;
- recovery time (DrillRecoveryTimeSeconds): time to verified keys, or time to restore
  when key verification is neither deployed nor required; compared with rto_minutes;
- backup age: the backup's CreateTimestamp to the drill's start (a copy is as old as
  its source);
- HSM-hours: for each HSM the drill created, CreateHsm returning to the HSM seen gone
  (an upper bound at the poll interval), summed; the cost estimate multiplies them by
  drills.hsm_hour_usd, a price the project does not confirm.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lambdas.alerting.alerts import SNS_SUBJECT_MAX
from lambdas.shared import runbooks
from lambdas.shared.protected import POSTURE_COLD
from lambdas.shared.standby import posture_cost

SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"
ERROR, WARNING = "error", "warning"
REPORT_PREFIX = "reports/drills/"

KEY_VERIFICATION_NOT_CONFIGURED = "KEY_VERIFICATION_NOT_CONFIGURED"
KEY_VERIFICATION_UNREACHABLE = "KEY_VERIFICATION_UNREACHABLE"
KEY_VERIFICATION_ERROR = "KEY_VERIFICATION_ERROR"
DRILL_STEP_FAILED = "DRILL_STEP_FAILED"
TEARDOWN_FAILED = "TEARDOWN_FAILED"
DRILL_BACKUP_LEFT = "DRILL_BACKUP_LEFT"
RTO_EXCEEDED = "RTO_EXCEEDED"
POSTURE_NOT_EXERCISED = "POSTURE_NOT_EXERCISED"

# CloudWatch metrics (namespace CloudHsmDr). Each is emitted twice in one EMF document:
# with the service dimension alone (what the drill watcher and the alarms read) and
# with the source cluster's ClusterId as well.
DRILL_SUCCEEDED = "DrillSucceeded"
DRILL_RECOVERY_TIME = "DrillRecoveryTimeSeconds"
DRILL_BACKUP_AGE = "DrillBackupAgeSeconds"
DRILL_HSM_HOURS = "DrillHsmHours"


def finding(code: str, message: str, next_step: str, severity: str = ERROR) -> dict[str, Any]:
    return {"code": code, "severity": severity, "message": message, "next_step": next_step}


def seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return round(delta.total_seconds(), 3)


def execution_name(execution: str) -> str:
    return execution.rsplit(":", 1)[-1] if execution.startswith("arn:") else execution


def report_keys(started_at: str, execution: str) -> tuple[str, str]:
    stem = f"{REPORT_PREFIX}{started_at[:10]}-{execution_name(execution)}"
    return f"{stem}.json", f"{stem}.md"


def hsm_seconds(hsms: Sequence[Mapping[str, Any]], now: datetime) -> float:
    """Each HSM's billed life as the drill saw it: CreateHsm to gone (or now)."""
    total = 0.0
    for hsm in hsms:
        end = hsm.get("gone_at") or now.isoformat()
        total += max(seconds(hsm["created_at"], end) or 0.0, 0.0)
    return round(total, 3)


def measurements(
    job: Mapping[str, Any], now: datetime, *, hsm_hour_usd: float, rto_minutes: float
) -> dict[str, Any]:
    plan, run = job["plan"], job["run"]
    times = run["times"]
    to_restore = seconds(times.get("create_requested"), times.get("hsm_active"))
    to_keys = seconds(times.get("create_requested"), times.get("keys_verified"))
    keys = plan["key_verification"]
    recovery: float | None
    if to_keys is not None:
        recovery = to_keys
    elif not keys["configured"] and not keys["required"]:
        recovery = to_restore
    else:
        recovery = None
    used = hsm_seconds(run["hsms"], now)
    hours = round(used / 3600, 6)
    return {
        "time_to_restore_seconds": to_restore,
        "time_to_verified_keys_seconds": to_keys,
        "recovery_time_seconds": recovery,
        "rto_minutes": rto_minutes,
        "rto_met": None if recovery is None else recovery <= rto_minutes * 60,
        "backup_age_seconds": seconds(plan["backup"]["create_timestamp"], plan["started_at"]),
        "hsm_seconds": used,
        "hsm_hours": hours,
        "hsm_hour_usd": hsm_hour_usd,
        "estimated_cost_usd": round(hours * hsm_hour_usd, 4),
        "cost_note": "estimate: drills.hsm_hour_usd is a list price the project does not "
        "confirm (it varies by region and HSM type)",
    }


def outcome(job: Mapping[str, Any], findings: Sequence[Mapping[str, Any]]) -> tuple[str, str, str]:
    """(status, error, cause): a failed step first, then teardown, then findings."""
    run = job["run"]
    error = run.get("error")
    if error:
        return FAILED, str(error.get("Error") or "Unknown"), str(error.get("Message") or "")
    teardown = run.get("teardown") or {}
    if not teardown.get("done"):
        return FAILED, "TeardownFailed", "; ".join(teardown.get("remaining") or []) or "unknown"
    failing = [f for f in findings if f["severity"] == ERROR]
    if failing:
        return FAILED, str(failing[0]["code"]), "; ".join(f["message"] for f in failing)
    return SUCCEEDED, "", ""


def build_report(
    job: Mapping[str, Any],
    now: datetime,
    *,
    hsm_hour_usd: float,
    rto_minutes: float,
    bucket: str,
) -> dict[str, Any]:
    plan, run = job["plan"], job["run"]
    measured = measurements(job, now, hsm_hour_usd=hsm_hour_usd, rto_minutes=rto_minutes)
    findings = [dict(f) for f in run["findings"]]
    error = run.get("error")
    if error:
        findings.append(
            finding(
                DRILL_STEP_FAILED,
                f"the drill failed after step '{run.get('last_step') or run.get('step')}': "
                f"{error.get('Error')}: {error.get('Message')}",
                "read the execution history; the drill cluster was torn down regardless",
            )
        )
    teardown = run.get("teardown") or {}
    # What still exists, read at report time (never what teardown hoped it did).
    for left in teardown.get("still_there") or []:
        findings.append(
            finding(
                TEARDOWN_FAILED,
                f"still there after the drill: {left}",
                "delete it by hand (HSMs first, then the cluster), see the runbook",
            )
        )
    for left in teardown.get("left") or []:
        findings.append(finding(DRILL_BACKUP_LEFT, left, "delete it once READY", severity=WARNING))
    if measured["rto_met"] is False:
        findings.append(
            finding(
                RTO_EXCEEDED,
                f"recovery took {_duration(measured['recovery_time_seconds'])}, over the "
                f"{rto_minutes:g}-minute RTO",
                "look at the slowest steps in the timeline; raise the RTO or shorten them",
                severity=WARNING,
            )
        )
    posture = posture_section(plan, hsm_hour_usd)
    if plan.get("posture_fell_back"):
        findings.append(
            finding(
                POSTURE_NOT_EXERCISED,
                f"the configured {posture['configured']} posture was not drilled: "
                f"{posture['reason']}",
                "check the standby (hsmdr backup verify: STANDBY_* findings) and the standby "
                "refresher; a restore there would fall back the same way",
                severity=WARNING,
            )
        )
    status, error_name, cause = outcome(job, findings)
    json_key, markdown_key = report_keys(plan["started_at"], plan["execution"])
    cluster = run.get("cluster") or {}
    return {
        "status": status,
        "error": error_name,
        "cause": cause,
        "execution": plan["execution"],
        "execution_name": execution_name(plan["execution"]),
        "deployment": plan["deployment"],
        "trigger": plan["trigger"],
        "source_cluster_id": plan["source_cluster_id"],
        "source": plan["source"],
        "region": plan["region"],
        "backup": {
            **plan["backup"],
            "age_seconds": measured["backup_age_seconds"],
        },
        "drill_cluster": {
            "cluster_id": cluster.get("cluster_id"),
            "region": plan["region"],
            "subnets": plan["subnets"],
            "hsms": run["hsms"],
        },
        "timeline": dict(run["times"]),
        "measurements": measured,
        "posture": posture,
        "key_verification": _keys_section(plan, run),
        "findings": findings,
        "teardown": {
            "status": _teardown_status(teardown),
            "actions": teardown.get("actions") or [],
            "remaining": teardown.get("remaining") or [],
            "left": [*(teardown.get("still_there") or []), *(teardown.get("left") or [])],
            "kept_backups": teardown.get("kept") or [],
            # The teardown-only run that tore down after this stopped execution, if any.
            "run": run.get("teardown_run"),
        },
        "notes": list(plan.get("notes") or []),
        "report": {
            "bucket": bucket,
            "json_key": json_key,
            "markdown_key": markdown_key,
            "html_key": json_key.removesuffix(".json") + ".html",
        },
        "started_at": plan["started_at"],
        "finished_at": now.isoformat(),
    }


def _keys_section(plan: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    keys = run.get("keys") or {}
    return {
        "configured": plan["key_verification"]["configured"],
        "required": plan["key_verification"]["required"],
        "status": keys.get("status", "NOT_RUN"),
        "manifest_key": keys.get("manifest_key"),
        "manifest_captured_at": keys.get("manifest_captured_at"),
        "keys_expected": keys.get("keys_expected"),
        "keys_found": keys.get("keys_found"),
        "users_expected": keys.get("users_expected"),
        "canary": keys.get("canary"),
        "findings": keys.get("findings") or [],
    }


def _teardown_status(teardown: Mapping[str, Any]) -> str:
    if not teardown.get("done") or teardown.get("still_there"):
        return "FAILED"
    return "COMPLETE_WITH_LEFTOVERS" if teardown.get("left") else "COMPLETE"


# Metrics -----------------------------------------------------------------------------------


def metric_values(report: Mapping[str, Any]) -> dict[str, tuple[float, str]]:
    measured = report["measurements"]
    values: dict[str, tuple[float, str]] = {
        DRILL_SUCCEEDED: (1.0 if report["status"] == SUCCEEDED else 0.0, "Count"),
        DRILL_HSM_HOURS: (float(measured["hsm_hours"]), "None"),
    }
    if measured["recovery_time_seconds"] is not None:
        values[DRILL_RECOVERY_TIME] = (float(measured["recovery_time_seconds"]), "Seconds")
    if measured["backup_age_seconds"] is not None:
        values[DRILL_BACKUP_AGE] = (float(measured["backup_age_seconds"]), "Seconds")
    return values


def emf_document(
    report: Mapping[str, Any], *, namespace: str, service: str, timestamp_ms: int | None = None
) -> dict[str, Any]:
    """One embedded-metric-format document, two dimension sets: [service] (what the drill
    watcher and the alarms read) and [service, ClusterId] (per protected cluster)."""
    values = metric_values(report)
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["service"], ["service", "ClusterId"]],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
                }
            ],
        },
        "service": service,
        "ClusterId": report["source_cluster_id"],
        "execution": report["execution"],
    }
    document.update({name: value for name, (value, _) in values.items()})
    return document


# Markdown ----------------------------------------------------------------------------------


def posture_section(plan: Mapping[str, Any], hsm_hour_usd: float) -> dict[str, Any]:
    """Which DR posture the drill exercised and why, and what keeping it costs."""
    configured = str(plan.get("configured_posture") or POSTURE_COLD)
    used = str(plan.get("posture") or POSTURE_COLD)
    return {
        "configured": configured,
        "used": used,
        "reason": str(plan.get("posture_reason") or "cold: no standby posture configured"),
        "standby_cluster_id": plan.get("standby_cluster_id"),
        "monthly_cost": posture_cost(configured, hsm_hour_usd).to_dict(),
    }


def posture_line(report: Mapping[str, Any]) -> str:
    posture = report.get("posture") or {}
    if not posture:
        return "Posture: cold"
    cost = posture["monthly_cost"]
    return (
        f"Posture: {posture['used']} (configured {posture['configured']}, about "
        f"{cost['usd_per_month']:,.0f} USD a month): {posture['reason']}"
    )


def render_markdown(report: Mapping[str, Any]) -> str:
    measured = report["measurements"]
    backup = report["backup"]
    keys = report["key_verification"]
    cluster = report["drill_cluster"]
    lines = [
        f"# DR drill {report['status']}: {report['source_cluster_id']}",
        "",
        f"- Execution: `{report['execution']}` ({report['trigger']})",
        f"- Started {report['started_at']}, finished {report['finished_at']}",
        f"- Backup: `{backup['backup_id']}` ({report['source']}, {report['region']}), created "
        f"{backup['create_timestamp']}, {_duration(backup.get('age_seconds'))} old",
        f"- Drill cluster: `{cluster.get('cluster_id') or 'none created'}` in {report['region']}",
        f"- {posture_line(report)}",
        "",
        "## Measurements",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| time to restore (CreateCluster to first HSM ACTIVE) | "
        f"{_duration(measured['time_to_restore_seconds'])} |",
        f"| time to verified keys | {_duration(measured['time_to_verified_keys_seconds'])} |",
        f"| recovery time against the {measured['rto_minutes']:g}-minute RTO | "
        f"{_duration(measured['recovery_time_seconds'])} ({_rto(measured['rto_met'])}) |",
        f"| backup age | {_duration(measured['backup_age_seconds'])} |",
        f"| HSM-hours | {measured['hsm_hours']:.4f} |",
        f"| estimated cost | {measured['estimated_cost_usd']:.2f} USD at "
        f"{measured['hsm_hour_usd']:g} USD per HSM-hour (UNCONFIRMED price) |",
        "",
        "## Key verification",
        "",
        f"Status: **{keys['status']}** (configured: {_yes(keys['configured'])}, required: "
        f"{_yes(keys['required'])})",
    ]
    if keys.get("manifest_key"):
        lines.append(
            f"against manifest `{keys['manifest_key']}` ({keys.get('keys_found')} of "
            f"{keys.get('keys_expected')} keys found)"
        )
    lines += ["", "## Findings", ""]
    if report["findings"]:
        lines += ["| code | severity | what | next step |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {f['code']} | {f['severity']} | {_cell(f['message'])} | {_cell(f['next_step'])} |"
            for f in report["findings"]
        ]
    else:
        lines.append("None: every key and user came back.")
    teardown = report["teardown"]
    lines += ["", "## Teardown", "", f"Status: **{teardown['status']}**", ""]
    if teardown.get("run"):
        lines += [f"The drill was stopped; a teardown-only run did this: {teardown['run']}", ""]
    lines += [f"- {a}" for a in teardown["actions"]] or ["- nothing to tear down"]
    lines += [f"- NOT DONE: {r}" for r in teardown["remaining"]]
    lines += [f"- left: {left}" for left in teardown["left"]]
    lines += [f"- kept: {kept}" for kept in teardown.get("kept_backups") or []]
    lines += ["", "## Timeline", "", "| milestone | at |", "| --- | --- |"]
    lines += [f"| {name} | {at} |" for name, at in report["timeline"].items()]
    if report["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in report["notes"]]]
    return "\n".join(lines) + "\n"


def _duration(value: float | None) -> str:
    if value is None:
        return "not measured"
    minutes, secs = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{value:.1f} s"


def _rto(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "EXCEEDED")


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# Alerts ------------------------------------------------------------------------------------


def alert(report: Mapping[str, Any], console_url: str) -> dict[str, str]:
    """Success: a summary for the notify topic. Failure: a page with what failed and
    what teardown did."""
    measured = report["measurements"]
    where = f"s3://{report['report']['bucket']}/{report['report']['markdown_key']}"
    summary = [
        f"Backup {report['backup']['backup_id']} ({report['source']}, {report['region']}), "
        f"{_duration(measured['backup_age_seconds'])} old",
        f"Time to restore: {_duration(measured['time_to_restore_seconds'])}; time to verified "
        f"keys: {_duration(measured['time_to_verified_keys_seconds'])}; RTO "
        f"{measured['rto_minutes']:g} min {_rto(measured['rto_met'])}",
        f"HSM-hours: {measured['hsm_hours']:.4f} (about {measured['estimated_cost_usd']:.2f} USD)",
        f"Teardown: {report['teardown']['status']}",
        posture_line(report),
    ]
    if report["teardown"].get("run"):
        summary.append(f"Teardown ran in: {report['teardown']['run']} (the drill was stopped)")
    if report["status"] == SUCCEEDED:
        subject = f"DR drill passed: {report['source_cluster_id']}"
        lines = [
            f"The DR drill of {report['source_cluster_id']} passed.",
            "",
            *summary,
            "",
            f"Report: {where}",
            "Read it: hsmdr drill report "
            + report["execution_name"]
            + " --config <deployment config>",
            f"Runbook: {runbooks.DR_DRILL}",
            f"Execution: {console_url}",
        ]
    else:
        subject = f"DR drill FAILED: {report['source_cluster_id']}: {report['error']}"
        lines = [
            f"The DR drill of {report['source_cluster_id']} FAILED: {report['error']}: "
            f"{report['cause']}",
            "",
            *summary,
            "",
            "Findings:",
            *([f"  - {f['code']}: {f['message']}" for f in report["findings"]] or ["  - none"]),
        ]
        if report["teardown"]["remaining"]:
            lines += [
                "",
                "The drill cluster is NOT gone (it costs money by the hour): delete it now",
                *[f"  - {r}" for r in report["teardown"]["remaining"]],
            ]
        lines += [
            "",
            "Next steps:",
            "  1. Read the report: hsmdr drill report "
            + report["execution_name"]
            + " --config <deployment config>",
            "  2. Fix the cause, then run the drill again: hsmdr drill start --follow "
            "--config <deployment config>",
            f"Report: {where}",
            f"Runbook: {runbooks.DR_DRILL} (When it fails)",
            f"Execution: {console_url}",
        ]
    body = runbooks.from_environment("\n".join(lines))
    return {"subject": subject[:SNS_SUBJECT_MAX], "body": body}


def stopped_alert(
    execution: str,
    status: str,
    clusters: Sequence[Mapping[str, str]],
    *,
    teardown_run: str | None = None,
    teardown_of: str | None = None,
) -> dict[str, str]:
    """A drill execution TIMED_OUT or was ABORTED: its teardown did not run. With
    `teardown_run`, a teardown-only run was started for it; without, a person must.
    `teardown_of`: the stopped execution was itself the teardown run of that drill."""
    name = execution_name(execution)
    if teardown_of:
        name = f"{name} (the teardown-only run for drill {execution_name(teardown_of)})"
    if teardown_run:
        lines = [
            f"DR drill execution {name} {status} and skipped its teardown. A teardown-only "
            f"run, {execution_name(teardown_run)}, was started to tear down what it left; "
            "it pages again if it cannot. Follow it: hsmdr follow "
            f"{teardown_run}",
        ]
        if clusters:
            lines += ["", "Drill cluster(s) it left, which it deletes:"]
            lines += [f"  {c['cluster_id']} in {c['region']}" for c in clusters]
        subject = f"DR drill {status}: teardown run started"
    elif clusters:
        lines = [
            f"DR drill execution {name} {status}; its drill cluster(s) still exist and cost "
            "money by the hour. Delete them by hand:",
            "",
        ]
        for c in clusters:
            region, cluster_id = c["region"], c["cluster_id"]
            lines += [
                f"  {cluster_id} in {region}:",
                f"    aws cloudhsmv2 describe-clusters --region {region} "
                f"--filters clusterIds={cluster_id}",
                f"    aws cloudhsmv2 delete-hsm --region {region} --cluster-id {cluster_id} "
                "--hsm-id <each HSM id>",
                f"    aws cloudhsmv2 delete-cluster --region {region} --cluster-id {cluster_id}",
            ]
        subject = f"DR drill {status}: delete drill cluster {clusters[0]['cluster_id']}"
    else:
        lines = [
            f"DR drill execution {name} {status}. No cluster tagged hsmdr:drill with this "
            "execution exists: nothing is left to delete."
        ]
        subject = f"DR drill {status}: nothing left behind"
    lines += [
        "",
        "Drill clusters still tagged, in every region: hsmdr drill status --config "
        "<deployment config>",
        f"Execution: {execution}",
        f"Runbook: {runbooks.DR_DRILL} (A drill cluster left behind)",
    ]
    body = runbooks.from_environment("\n".join(lines))
    return {"subject": subject[:SNS_SUBJECT_MAX], "body": body}


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, default=str)
