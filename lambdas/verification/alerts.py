"""The backup verification's message: one per failing run, each cluster's findings."""

from __future__ import annotations

from lambdas.alerting.alerts import Alert, finding_lines, findings_severity, fit_subject
from lambdas.verification.checks import VerificationReport


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
        lines += finding_lines(cluster.findings)
        lines.append("")
    lines.append(
        "Nothing was changed by this check: it only reads CloudHSM. Re-run it after "
        "fixing: hsmdr backup verify --config <deployment config>"
    )
    return Alert(
        subject=fit_subject(subject),
        body="\n".join(lines),
        severity=findings_severity(report.findings),
    )
