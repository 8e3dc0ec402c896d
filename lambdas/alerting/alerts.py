"""Alert texts, written for a person woken at night. Pure: no AWS calls."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lambdas.shared import runbooks
from lambdas.shared.findings import Finding, FindingCode
from lambdas.shared.severity import NOTIFY, PAGE, Severity

if TYPE_CHECKING:
    pass

SNS_SUBJECT_MAX = 100  # SNS rejects longer subjects


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
        # a warm standby whose keys differ from the manifest: the recovery is at risk
        FindingCode.STANDBY_KEYS_MISMATCH,
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


def finding_lines(findings: Sequence[Finding]) -> list[str]:
    lines = []
    for number, finding in enumerate(findings, start=1):
        lines.append(f"  {number}. [{finding.code}] {finding.message}")
        lines.append(f"     Next step: {finding.next_step}")
        lines.append(f"     Runbook: {runbooks.for_finding(finding.code)}")
    return lines


def fit_subject(subject: str) -> str:
    # SNS subjects: ASCII printable, no newlines, at most 100 characters.
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in subject)
    if len(clean) <= SNS_SUBJECT_MAX:
        return clean
    return clean[: SNS_SUBJECT_MAX - 3] + "..."


def findings_alert(
    subject: str,
    intro: str,
    groups: Sequence[tuple[str, Sequence[Finding]]],
    footer: str,
) -> Alert:
    lines = [intro, ""]
    for heading, findings in groups:
        lines.append(heading)
        lines += finding_lines(findings)
        lines.append("")
    lines.append(footer)
    return Alert(
        subject=fit_subject(subject),
        body="\n".join(lines),
        severity=findings_severity(f for _, found in groups for f in found),
    )
