"""Alert texts of the health check and the HSM replacement. Pure: no AWS calls.

Written for a person woken at night: what is wrong, what the automation did (or why it
did not), what exists now, and the exact command to run next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lambdas.alerting.alerts import Alert, fit_subject
from lambdas.alerting.workflow_alerts import error_summary
from lambdas.replacement.health import NEEDS_ATTENTION, REPLACEMENT_STARTED
from lambdas.shared import runbooks
from lambdas.shared.console import execution_url
from lambdas.shared.models import Cluster
from lambdas.shared.severity import NOTIFY, PAGE

if TYPE_CHECKING:
    from lambdas.replacement.health_run import HealthEntry, HealthReport

CONFIG = "<deployment config>"


def health_alert(report: HealthReport, entries: Sequence[HealthEntry] | None = None) -> Alert:
    """One message for the clusters in `entries` (default: every alerting one)."""
    entries = report.alerting if entries is None else tuple(entries)
    attention = [e for e in entries if e.decision.status == NEEDS_ATTENTION]
    names = ", ".join(e.health.spec.label for e in entries) or "no cluster"
    what = "HSMs NEED ATTENTION" if attention else "HSM failed, replacement started"
    subject = f"[{report.deployment_name}] CloudHSM {what}: {names}"
    lines = [
        f"The HSM health check of {report.deployment_name} at "
        f"{report.checked_at:%Y-%m-%d %H:%M:%S} UTC (trigger: {report.trigger}) found "
        f"problems on {len(entries)} of {len(report.entries)} protected cluster(s).",
        "",
    ]
    for entry in entries:
        lines += _health_entry(entry)
        lines.append("")
    lines += [f"Errors: {e}" for e in report.errors]
    lines.append(f"See every cluster: hsmdr cluster health --config {CONFIG}")
    lines.append(f"Runbook: {runbooks.SINGLE_HSM_FAILURE}")
    # A replacement the automation started reports its own end (and pages if it fails);
    # a cluster it will not fix needs a person now.
    return Alert(fit_subject(subject), "\n".join(lines), PAGE if attention else NOTIFY)


def _health_entry(entry: HealthEntry) -> list[str]:
    health, decision = entry.health, entry.decision
    spec = health.spec
    heading = "REPLACEMENT STARTED" if decision.status == REPLACEMENT_STARTED else "NEEDS ATTENTION"
    lines = [f"Cluster {spec.label} in {spec.region}: {heading}", "  What is wrong:"]
    lines += [f"    - {p}" for p in health.problems]
    if health.cluster is not None:
        lines.append("  HSMs now:")
        lines += [f"    {row}" for row in hsm_lines(health.cluster)]
    if decision.status == REPLACEMENT_STARTED and entry.execution_arn:
        lines += [
            f"  Action: {decision.reason}. The workflow alerts again when it ends.",
            f"  Execution: {execution_url(entry.execution_arn)}",
        ]
        return lines
    lines.append(f"  Not replaced automatically: {decision.reason}")
    related = decision.related_execution
    if related is not None:
        lines.append(f"  Last replacement: {execution_url(related.execution_arn)}")
    hsm = f" --hsm {decision.target.hsm.hsm_id}" if decision.target and decision.target.hsm else ""
    if health.cluster is None:
        lines.append(f"  Next step: check the cluster id and region of {spec.id} in the config")
    else:
        lines.append(
            f"  Next step: hsmdr hsm replace --config {CONFIG} --cluster {spec.id}{hsm} --follow"
        )
    return lines


def hsm_lines(cluster: Cluster) -> list[str]:
    if not cluster.hsms:
        return ["(no HSM)"]
    return [
        f"{h.hsm_id}  {h.state:<18} {h.availability_zone}  {h.eni_ip or '-'}"
        for h in sorted(cluster.hsms, key=lambda h: (h.availability_zone, h.hsm_id))
    ]


def replacement_success_alert(result: Mapping[str, Any]) -> dict[str, str]:
    label, cluster_id = result["label"], result["cluster_id"]
    failed, new = result.get("failed_hsm"), result.get("replacement_hsm")
    if failed and new:
        summary = (
            f"replaced the DEGRADED HSM {failed['hsm_id']} in {failed['availability_zone']} "
            f"with {new['hsm_id']}"
        )
    elif new:
        summary = f"added {new['hsm_id']} in {new['availability_zone']} (an HSM was missing)"
    else:
        summary = f"deleted the DEGRADED HSM {failed['hsm_id'] if failed else '?'}"
    lines = [f"The automation {summary} on {label} in {result['region']}.", ""]
    if new:
        lines.append(
            f"New HSM: {new['hsm_id']} ACTIVE in {new['availability_zone']} at {new['eni_ip']}"
            + (f" (the failed HSM was at {failed['eni_ip']})." if failed else ".")
        )
        lines.append(f"IP: {result['ip_reason']}.")
        if failed and failed.get("eni_ip") and new["eni_ip"] != failed["eni_ip"]:
            lines.append(
                "Clients configured with a fixed list of HSM IPs need the new address; "
                "clients configured with --cluster-id find it themselves."
            )
    lines += [
        "",
        "What the automation did:",
        *[f"  - {a}" for a in result["actions"]],
        "",
        "The cluster now (ACTIVE of desired, per zone): "
        + ", ".join(
            f"{z['availability_zone']} {z['active']}/{z['desired']}" for z in result["zones"]
        ),
    ]
    if result["remaining_problems"]:
        lines += [
            "Still wrong (the next health check handles it):",
            *[f"  - {p}" for p in result["remaining_problems"]],
        ]
    lines += [
        f"Took {round(result['duration_seconds'])} s.",
        "",
        "Next: confirm from a client host that it sees every HSM (CloudHSM CLI "
        "`cluster list-hsms`), and look at the cluster: hsmdr cluster health "
        f"--config {CONFIG} --cluster {cluster_id}",
        f"Runbook: {runbooks.SINGLE_HSM_FAILURE}",
        f"Execution: {execution_url(result['execution'])}",
    ]
    subject = f"CloudHSM HSM replaced on {label}: {summary.split(' with ')[-1]}"
    return {"subject": fit_subject(subject), "body": runbooks.from_environment("\n".join(lines))}


_ADVICE = {
    "ReplacementFailed": "every HSM created in the zone ended DEGRADED: the zone may not "
    "support CloudHSM today. Try again later, or change the zone in the config's "
    "hsms_per_az and replace the HSM there.",
    "NoQuotaHeadroom": "the region's HSM quota is used up: raise it, or delete the DEGRADED "
    "HSM by hand (it serves nothing) and replace it with its IP (--ip).",
    "HsmTimeout": "an HSM stayed in a transitional state too long: open an AWS Support case "
    "with the cluster id.",
    "SyncTimeout": "the zone did not show its desired ACTIVE HSMs in time: check the HSMs.",
    "RefusedToDelete": "a delete was refused by the safety checks: nothing unexpected was "
    "deleted; check the HSMs by hand.",
    "CloudHsmUnavailable": "CloudHSM kept failing or throttling after retries: retry later.",
}


def replacement_failure_alert(
    job: Mapping[str, Any],
    error: Mapping[str, Any],
    cluster: Cluster | None,
    cleanup: Sequence[str],
) -> dict[str, str]:
    plan, run = job["plan"], job["run"]
    name, message = error_summary(error)
    failed = plan.get("failed_hsm")
    what = f"the DEGRADED HSM {failed['hsm_id']}" if failed else f"a missing HSM in {plan['zone']}"
    lines = [
        f"The replacement of {what} on {plan['label']} in {plan['region']} FAILED after step "
        f"'{run.get('step')}': {name}: {message}",
        "",
        "What the automation did:",
        *([f"  - {a}" for a in [*run["actions"], *cleanup]] or ["  - nothing was changed"]),
        "",
        f"What exists now (cluster {cluster.state if cluster else 'NOT READABLE'}):",
        *[f"  {row}" for row in (hsm_lines(cluster) if cluster else [])],
    ]
    if failed and cluster and any(h.hsm_id == failed["hsm_id"] for h in cluster.hsms):
        lines.append(
            f"The failed HSM {failed['hsm_id']} was kept: it is deleted only once its "
            "replacement is ACTIVE."
        )
    hsm = f" --hsm {failed['hsm_id']}" if failed else ""
    lines += [
        "",
        "Next steps:",
        f"  1. Check the HSMs: hsmdr cluster health --config {CONFIG} --cluster "
        f"{plan['cluster_id']}",
        f"  2. {_ADVICE.get(name, 'Read the error above and the execution history.')}",
        f"  3. Retry: hsmdr hsm replace --config {CONFIG} --cluster {plan['cluster_id']}{hsm} "
        "--follow",
        f"Runbook: {runbooks.SINGLE_HSM_FAILURE}",
        f"Execution: {execution_url(plan['execution'])}",
    ]
    subject = f"CloudHSM HSM replacement FAILED on {plan['label']}: {name}"
    return {"subject": fit_subject(subject), "body": runbooks.from_environment("\n".join(lines))}
