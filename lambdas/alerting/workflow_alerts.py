"""Alert texts for workflow failures: what happened, what was done, what to do next."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdas.alerting.alerts import SNS_SUBJECT_MAX
from lambdas.shared import runbooks
from lambdas.shared.severity import NOTIFY, PAGE


def error_summary(error: Mapping[str, Any]) -> tuple[str, str]:
    """(error name, one-line message) from a Step Functions Catch result. A Lambda
    error's Cause is JSON with a stack trace (file paths and all): only its type and
    the first line of its message ever reach a message."""
    name = str(error.get("Error") or "Unknown")
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict):
        message = parsed.get("errorMessage") or "(no message)"
        return str(parsed.get("errorType") or name), _first_line(str(message))
    return name, _first_line(str(cause))


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def on_demand_failure_alert(
    job: Mapping[str, Any], error: Mapping[str, Any], console_url: str
) -> dict[str, str]:
    plan, run = job["plan"], job["run"]
    cleanup = run.get("cleanup") or {}
    name, message = error_summary(error)
    cluster = plan["cluster_id"]
    actions = cleanup.get("actions") or []
    remaining = cleanup.get("remaining") or []
    lines = [
        f"The on-demand backup of {cluster} ({plan['strategy']}) failed after step "
        f"'{run.get('step')}': {name}: {message}",
        "",
        "What the automation already did:",
        *([f"  - {a}" for a in actions] or ["  - nothing needed cleaning up"]),
    ]
    if remaining:
        lines += [
            "",
            "NOT back to its starting state (act now):",
            *[f"  - {r}" for r in remaining],
        ]
    else:
        lines += [
            "",
            "The cluster has the HSMs it started with: "
            + ", ".join(f"{z}: {n}" for z, n in plan["hsms_per_az_before"].items()),
        ]
    lines += [
        "",
        "Next steps:",
        f"  1. Check the HSMs: aws cloudhsmv2 describe-clusters --region {plan['region']} "
        f"--filters clusterIds={cluster}",
        "  2. Retry once the cause is fixed: hsmdr backup create --config <deployment "
        f"config> --cluster {cluster} --strategy {plan['strategy']} --follow",
        f"Runbook: {runbooks.ON_DEMAND_BACKUP}",
        f"Execution: {console_url}",
    ]
    subject = f"On-demand backup FAILED on {cluster}: {name}"
    # Put back as it was: whoever started it is following it. Left changed: page.
    return {
        "subject": subject[:SNS_SUBJECT_MAX],
        "body": runbooks.from_environment("\n".join(lines)),
        "severity": PAGE if remaining else NOTIFY,
    }


def stopped_alert(
    *,
    workflow: str,
    cluster: str,
    status: str,
    actions: list[str],
    left: list[str],
    next_steps: list[str],
    runbook: str,
    console_url: str,
) -> dict[str, str]:
    """An execution was ABORTED or TIMED_OUT: its own failure path never ran, so this
    says what was cleaned up for it and what is left. Always a page: nobody saw it end."""
    lines = [
        f"The {workflow} of {cluster} stopped: its execution {status}, so its own clean-up "
        "and alert did not run.",
        "",
        "Cleaned up for it:",
        *([f"  - {a}" for a in actions] or ["  - nothing needed cleaning up"]),
        "",
        *(
            ["Left as it is (act now):", *[f"  - {item}" for item in left]]
            if left
            else ["Nothing else differs from the start."]
        ),
        "",
        "Next steps:",
        *[f"  {n}. {step}" for n, step in enumerate(next_steps, 1)],
        f"Runbook: {runbook}",
        f"Execution: {console_url}",
    ]
    subject = f"{workflow[:1].upper()}{workflow[1:]} {status} on {cluster}"
    return {
        "subject": subject[:SNS_SUBJECT_MAX],
        "body": runbooks.from_environment("\n".join(lines)),
        "severity": PAGE,
    }
