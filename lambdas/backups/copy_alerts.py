"""The copy job's and the DR-region copy monitor's messages."""

from __future__ import annotations

from lambdas.alerting.alerts import Alert, findings_alert
from lambdas.backups.copy_monitor import CopyMonitorReport
from lambdas.backups.copy_report import CopyJobReport
from lambdas.shared import runbooks


def copy_job_alert(report: CopyJobReport) -> Alert:
    """One message per failing copy-job run: each cluster, region, backup, next step."""
    failing = [c for c in report.clusters if c.findings]
    names = ", ".join(c.spec.label for c in failing) or "trust anchor"
    subject = f"[{report.deployment_name}] CloudHSM backup copies FAILED: {names}"
    intro = (
        f"The backup copy job of {report.deployment_name} at "
        f"{report.checked_at:%Y-%m-%d %H:%M:%S} UTC found {len(report.findings)} "
        f"problem(s) on {len(failing)} of {len(report.clusters)} protected cluster(s). "
        f"This run started {report.copies_created} copy(ies) and pruned "
        f"{report.copies_pruned}."
    )
    groups = [(f"Cluster {c.spec.label} in {c.spec.region}:", c.findings) for c in failing]
    footer = (
        "Copies are tracked on every run and by the hourly verification. Re-run after "
        "fixing: hsmdr backup copy --config <deployment config>"
    )
    anchor = report.trust_anchor_problems
    if anchor:
        footer = "\n".join([*_trust_anchor_lines(anchor, report.deployment_name), "", footer])
    return findings_alert(subject, intro, groups, footer)


def _trust_anchor_lines(problems: dict[str, str], deployment: str) -> list[str]:
    from lambdas.shared.trust_anchor import trust_anchor_copy_name

    copy_name = trust_anchor_copy_name(deployment)
    lines = [
        "Trust anchor (customerCA.crt) NOT replicated; clients of a cluster restored there "
        "could not verify it:"
    ]
    for region, note in problems.items():
        lines += [
            f"  - {region}: {note}",
            f"     Next step: aws ssm put-parameter --region {region} --name {copy_name} "
            "--type String --overwrite --value file://customerCA.crt",
        ]
    lines.append(f"     Runbook: {runbooks.COMPLETE_CLUSTER_FAILURE} (After the restore: clients)")
    return lines


def copy_monitor_alert(report: CopyMonitorReport) -> Alert:
    """From the DR region itself: it still speaks when the primary region is down."""
    failing = [c for c in report.clusters if c.findings]
    names = ", ".join(c.spec.label for c in failing) or "no cluster"
    subject = f"[{report.deployment_name}] CloudHSM copies in {report.region} FAILED: {names}"
    intro = (
        f"The copy monitor in {report.region} ({report.deployment_name}) at "
        f"{report.checked_at:%Y-%m-%d %H:%M:%S} UTC found {len(report.findings)} "
        f"problem(s) with the copies held in {report.region}."
    )
    groups = [(f"Cluster {c.spec.label} (from {c.spec.region}):", c.findings) for c in failing]
    footer = (
        "If the primary region is down, the copy job cannot run there: restore from the "
        f"newest READY copy in {report.region} (hsmdr backup list --config <deployment "
        f"config> --region {report.region})."
    )
    return findings_alert(subject, intro, groups, footer)
