"""Alert texts, written for a person woken at night. Pure: no AWS calls."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.core.verification import VerificationReport

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
