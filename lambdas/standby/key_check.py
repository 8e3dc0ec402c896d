"""The daily key check of this region's warm standbys (key_verification.regions): which
standbys to check, and what their checks mean. Pure: the calls are key_check_handler's.

A warm standby is what a restore here adopts first (its HSM already serves), so its keys
are checked against the newest manifest of its source cluster: a standby whose keys are
missing or changed is a recovery at risk (STANDBY_KEYS_MISMATCH, pages); a check that
could not run says so (STANDBY_KEYS_UNCHECKED, notifies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lambdas.alerting.alerts import Alert, finding_lines, findings_severity, fit_subject
from lambdas.shared import runbooks
from lambdas.shared.findings import Finding, FindingCode
from lambdas.shared.models import Cluster
from lambdas.shared.standby import serving_hsm, standbys_of, warm_standby

# The verifier's way in to a standby's HSMs: the standby's security group (CloudHSM's)
# is tagged so, and IAM lets the checker add ingress only to groups so tagged.
KEY_CHECK_TAG = "hsmdr:key-check"
HSM_PORTS = (2223, 2225)  # CloudHSM client to HSM (docs/cloudhsm-facts.md)


@dataclass(frozen=True)
class StandbyTarget:
    source_cluster_id: str
    standby_id: str
    security_group: str
    hsm_ips: tuple[str, ...]


def targets(
    clusters: Sequence[Cluster], deployment: str, warm_cluster_ids: Sequence[str]
) -> tuple[list[StandbyTarget], list[str]]:
    """The warm standby a restore would adopt, per protected cluster, and the clusters
    that have none to check (the hourly verification's STANDBY_* findings say why)."""
    found, none = [], []
    for cluster_id in warm_cluster_ids:
        standby = warm_standby(standbys_of(clusters, deployment, cluster_id))
        hsm = serving_hsm(standby) if standby is not None else None
        if standby is None or hsm is None or not hsm.eni_ip:
            none.append(cluster_id)
            continue
        found.append(
            StandbyTarget(cluster_id, standby.cluster_id, standby.security_group, (hsm.eni_ip,))
        )
    return found, none


def verify_event(target: StandbyTarget, region: str) -> dict[str, Any]:
    """The verify-keys request: the standby against its source's newest manifest."""
    return {
        "cluster_id": target.standby_id,
        "manifest_cluster_id": target.source_cluster_id,
        "region": region,
        "hsm_ips": list(target.hsm_ips),
    }


def hsm_permission(group_id: str, description: str) -> dict[str, Any]:
    """TCP 2223-2225 to or from `group_id` (a security group reference)."""
    return {
        "IpProtocol": "tcp",
        "FromPort": HSM_PORTS[0],
        "ToPort": HSM_PORTS[1],
        "UserIdGroupPairs": [{"GroupId": group_id, "Description": description[:255]}],
    }


def finding_for(
    target: StandbyTarget, region: str, report: Any, error: str | None
) -> Finding | None:
    """None when every key was found; otherwise what a person must look at."""
    where = f"the warm standby {target.standby_id} of {target.source_cluster_id} in {region}"
    if error is not None or not isinstance(report, Mapping):
        return unchecked(
            target.source_cluster_id,
            f"The keys of {where} could not be checked: {error or 'no report'}.",
        )
    if report.get("status") == "SUCCEEDED":
        return None
    findings = list(report.get("findings") or [])
    errors = [f for f in findings if f.get("severity") == "error"] or findings
    said = "; ".join(
        f"{f.get('code')}{' ' + str(f['label']) if f.get('label') else ''}: {f.get('message')}"
        for f in errors
    )
    return Finding(
        FindingCode.STANDBY_KEYS_MISMATCH,
        target.source_cluster_id,
        f"The keys of {where} do not match the manifest {report.get('manifest_key')} "
        f"({report.get('keys_found')} of {report.get('keys_expected')} found): {said}. A "
        "restore there would adopt this standby and serve these keys.",
        "Find out which keys changed in production since the standby's backup (hsmdr keys "
        f"manifest --cluster {target.source_cluster_id} --config <deployment config>); "
        "until explained, delete the standby so the next refresh restores a newer copy "
        f"(aws cloudhsmv2 delete-cluster --region {region} --cluster-id "
        f"{target.standby_id} once its HSM is deleted), or restore from an earlier copy",
    )


def unchecked(cluster_id: str, message: str) -> Finding:
    return Finding(
        FindingCode.STANDBY_KEYS_UNCHECKED,
        cluster_id,
        message,
        "Open the standby key check's and the verify-keys function's log groups in this "
        "region; while the deployment region is down its manifests cannot be read, and the "
        "check says so until it is back",
    )


def key_check_alert(findings: Sequence[Finding], deployment: str, region: str) -> Alert | None:
    if not findings:
        return None
    lines = [
        f"The daily key check of the warm standbys of {deployment} in {region} found:",
        "",
        *finding_lines(findings),
        "",
        f"Runbook: {runbooks.STANDBY}#key-check",
    ]
    return Alert(
        subject=fit_subject(f"{deployment}: warm standby keys in {region}"),
        body="\n".join(lines),
        severity=findings_severity(findings),
    )
