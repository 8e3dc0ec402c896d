"""Human output of `hsmdr cluster health` and `hsmdr hsm replace`."""

from __future__ import annotations

import json
from typing import Any

from presentation.render import condensed_steps, table, when


def health_report(document: dict[str, Any]) -> str:
    parts = [f"HSM health at {when(document['checked_at'])}: {document['status']}", ""]
    for cluster in document["clusters"]:
        parts += [*_cluster(cluster), ""]
    parts += [f"Error: {e}" for e in document.get("errors", [])]
    if document["status"] == "SUCCEEDED":
        parts.append("Every protected cluster has its desired HSMs ACTIVE in every zone.")
    return "\n".join(parts).rstrip()


def _cluster(cluster: dict[str, Any]) -> list[str]:
    name = (
        f"{cluster['name']} ({cluster['cluster_id']})" if cluster["name"] else cluster["cluster_id"]
    )
    lines = [
        f"Cluster {name}  region {cluster['region']}  state {cluster['state'] or 'NOT FOUND'}"
        f"  ACTIVE {cluster['healthy_hsms']} of {cluster['desired_hsms']} desired"
    ]
    if cluster["hsms"]:
        rows = [
            [h["hsm_id"], h["state"], h["availability_zone"], h["eni_ip"]] for h in cluster["hsms"]
        ]
        lines.append(table(["HSM", "STATE", "AZ", "IP"], rows))
    zones = [
        [z["availability_zone"], z["desired"], z["active"], z["other"], "" if z["ok"] else "SHORT"]
        for z in cluster["zones"]
    ]
    lines.append(table(["AZ", "DESIRED", "ACTIVE", "OTHER", ""], zones))
    lines += [f"  ! {p}" for p in cluster["problems"]]
    if cluster.get("reason") and cluster.get("status") not in (None, "HEALTHY"):
        lines.append(f"  {cluster['status']}: {cluster['reason']}")
    return lines


def replacement(document: dict[str, Any]) -> str:
    from hsmdr.workflows import started_text

    if document["status"] == "STARTED":
        return started_text(document, "HSM replacement")
    lines = [f"HSM replacement: {document['status']}  ({document['execution_arn']})", ""]
    steps = document.get("timeline") or []
    if steps:
        lines += [table(["STEP", "RUNS", "STARTED", "TOOK", ""], condensed_steps(steps)), ""]
    result = document.get("result") or document.get("output") or {}
    lines += [f"  - {a}" for a in result.get("actions", [])] if isinstance(result, dict) else []
    if document.get("error"):
        lines.append(f"Error: {document['error']}: {_cause(document.get('cause'))}")
    if "leaked_resources" in document:
        leaked = document["leaked_resources"]["hsms"]
        lines.append(f"Leaked resources: {', '.join(leaked) if leaked else 'none'}")
    if document.get("rto_seconds") is not None:
        lines.append(
            f"Recovery time (failure detected to desired HSMs ACTIVE): {document['rto_seconds']} s"
        )
    for alert in document.get("alerts", []):
        lines += ["", f"Alert sent: {alert['subject']}", alert["message"]]
    return "\n".join(lines)


def _cause(cause: Any) -> str:
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return str(cause)
    return str(parsed.get("errorMessage", cause)) if isinstance(parsed, dict) else str(cause)
