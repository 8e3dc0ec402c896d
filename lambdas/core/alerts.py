"""Alert texts, written for a person woken at night. Pure: no AWS calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lambdas.core.verification import Finding, VerificationReport

if TYPE_CHECKING:
    from lambdas.core.copy_monitor import CopyMonitorReport
    from lambdas.core.copy_report import CopyJobReport

SNS_SUBJECT_MAX = 100  # SNS rejects longer subjects


@dataclass(frozen=True)
class Alert:
    subject: str
    body: str


def verification_alert(report: VerificationReport) -> Alert:
    failing = [c for c in report.clusters if c.findings]
    names = ", ".join(c.spec.label for c in failing) or "no cluster"
    count = len(report.findings)
    subject = f"[{report.deployment_name}] CloudHSM backup verification FAILED: {names}"
    lines = [
        f"Backup verification of {report.deployment_name} at "
        f"{report.checked_at:%Y-%m-%d %H:%M:%S} UTC found {count} problem(s) "
        f"on {len(failing)} of {len(report.clusters)} protected cluster(s).",
        "",
    ]
    for cluster in failing:
        lines.append(f"Cluster {cluster.spec.label} in {cluster.spec.region}:")
        for number, finding in enumerate(cluster.findings, start=1):
            lines.append(f"  {number}. [{finding.code}] {finding.message}")
            lines.append(f"     Next step: {finding.next_step}")
        lines.append("")
    lines.append(
        "Nothing was changed by this check: it only reads CloudHSM. Re-run it after "
        "fixing: hsmdr backup verify --config <deployment config>"
    )
    return Alert(subject=_fit_subject(subject), body="\n".join(lines))


def _fit_subject(subject: str) -> str:
    # SNS subjects: ASCII printable, no newlines, at most 100 characters.
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in subject)
    if len(clean) <= SNS_SUBJECT_MAX:
        return clean
    return clean[: SNS_SUBJECT_MAX - 3] + "..."


def copy_job_alert(report: CopyJobReport) -> Alert:
    """One message per failing copy-job run: each cluster, region, backup, next step."""
    failing = [c for c in report.clusters if c.findings]
    names = ", ".join(c.spec.label for c in failing) or "no cluster"
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
    return _findings_alert(subject, intro, groups, footer)


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
    return _findings_alert(subject, intro, groups, footer)


def _findings_alert(
    subject: str,
    intro: str,
    groups: Sequence[tuple[str, Sequence[Finding]]],
    footer: str,
) -> Alert:
    lines = [intro, ""]
    for heading, findings in groups:
        lines.append(heading)
        for number, finding in enumerate(findings, start=1):
            lines.append(f"  {number}. [{finding.code}] {finding.message}")
            lines.append(f"     Next step: {finding.next_step}")
        lines.append("")
    lines.append(footer)
    return Alert(subject=_fit_subject(subject), body="\n".join(lines))
