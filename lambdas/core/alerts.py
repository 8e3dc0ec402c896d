"""Alert texts, written for a person woken at night. Pure: no AWS calls."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from lambdas.core import runbooks
from lambdas.core.verification import Finding, FindingCode, VerificationReport

if TYPE_CHECKING:
    from lambdas.core.copy_monitor import CopyMonitorReport
    from lambdas.core.copy_report import CopyJobReport

SNS_SUBJECT_MAX = 100  # SNS rejects longer subjects

# Which topic a message goes to: `page` wakes someone (the recovery point or the
# recovery itself is at risk now); `notify` is read in working hours (something drifted
# or failed once, and a later run or alarm pages if it turns into a real risk).
Severity = Literal["page", "notify"]
PAGE: Severity = "page"
NOTIFY: Severity = "notify"

PAGING_FINDINGS = frozenset(
    {
        FindingCode.CLUSTER_NOT_FOUND,
        FindingCode.CLUSTER_NOT_ACTIVE,
        FindingCode.NO_READY_BACKUP,
        FindingCode.BACKUP_OLDER_THAN_RPO,
        FindingCode.BACKUP_NOT_RESTORABLE,
        FindingCode.HSM_DEGRADED,
        FindingCode.HSM_COUNT_BELOW_DESIRED,
        FindingCode.COPY_MISSING,
    }
)


def finding_severity(finding: Finding) -> Severity:
    return PAGE if finding.code in PAGING_FINDINGS else NOTIFY


def findings_severity(findings: Iterable[Finding]) -> Severity:
    """A message pages if any one of its findings does."""
    return PAGE if any(finding_severity(f) == PAGE for f in findings) else NOTIFY


@dataclass(frozen=True)
class Alert:
    subject: str
    body: str
    severity: Severity = PAGE


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
        lines += _finding_lines(cluster.findings)
        lines.append("")
    lines.append(
        "Nothing was changed by this check: it only reads CloudHSM. Re-run it after "
        "fixing: hsmdr backup verify --config <deployment config>"
    )
    return Alert(
        subject=_fit_subject(subject),
        body="\n".join(lines),
        severity=findings_severity(report.findings),
    )


def _finding_lines(findings: Sequence[Finding]) -> list[str]:
    lines = []
    for number, finding in enumerate(findings, start=1):
        lines.append(f"  {number}. [{finding.code}] {finding.message}")
        lines.append(f"     Next step: {finding.next_step}")
        lines.append(f"     Runbook: {runbooks.for_finding(finding.code)}")
    return lines


def _fit_subject(subject: str) -> str:
    # SNS subjects: ASCII printable, no newlines, at most 100 characters.
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in subject)
    if len(clean) <= SNS_SUBJECT_MAX:
        return clean
    return clean[: SNS_SUBJECT_MAX - 3] + "..."


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
    return _findings_alert(subject, intro, groups, footer)


def _trust_anchor_lines(problems: dict[str, str], deployment: str) -> list[str]:
    from lambdas.core.client_config import trust_anchor_copy_name

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
        lines += _finding_lines(findings)
        lines.append("")
    lines.append(footer)
    return Alert(
        subject=_fit_subject(subject),
        body="\n".join(lines),
        severity=findings_severity(f for _, found in groups for f in found),
    )
