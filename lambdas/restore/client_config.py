"""What clients need after a restore, published where they can read it: SSM parameters
in the target region.

A restored cluster has a new id, new HSM IPs and a new security group, so clients must
be re-pointed (configure-pkcs11 -a IP, or --cluster-id). Its trust anchor is the
source's customerCA.crt (a restored cluster carries the source's certificate); the
config names the parameter holding it in the primary region, and it is copied into
the target region, because in a regional disaster the primary region is unreachable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from lambdas.restore.settings import RestoreSettings
from lambdas.shared.models import Cluster
from lambdas.shared.trust_anchor import (
    copy_trust_anchor,
)


def restored_path(deployment: str, source_cluster_id: str) -> str:
    return f"/hsmdr/{deployment}/restored/{source_cluster_id}/"


def publish_client_config(
    plan: Mapping[str, Any],
    cluster: Cluster,
    ips: Sequence[str],
    *,
    settings: RestoreSettings,
    ssm_for: Callable[[str], Any],
    now: datetime,
) -> dict[str, Any]:
    """The restored cluster's client configuration and trust anchor, in the target region."""
    region = plan["region"]
    target_ssm = ssm_for(region)
    source = plan["source_cluster_id"] or plan["backup"]["backup_id"]
    parameters = put_client_config(
        target_ssm,
        plan["deployment"],
        source,
        {
            "cluster-id": cluster.cluster_id,
            "hsm-ips": list(ips),
            "security-group": cluster.security_group,
            "restore-id": plan["restore_id"],
            "backup-id": plan["backup"]["backup_id"],
            "restored-at": now.isoformat(),
        },
    )
    anchor = copy_trust_anchor(
        parameter=settings.trust_anchor_parameter,
        primary_region=settings.primary_region,
        target_region=region,
        deployment=plan["deployment"],
        primary_ssm=ssm_for(settings.primary_region),
        target_ssm=target_ssm,
    )
    return {
        "region": region,
        "path": restored_path(plan["deployment"], source),
        "parameters": parameters,
        "hsm_ips": list(ips),
        "trust_anchor": anchor,
    }


def put_client_config(
    ssm: Any, deployment: str, source_cluster_id: str, values: Mapping[str, str | Sequence[str]]
) -> list[str]:
    """Write each value under the source cluster's path (newest restore wins); a list
    becomes a StringList. Returns the parameter names written."""
    path = restored_path(deployment, source_cluster_id)
    written = []
    for key, value in values.items():
        is_list = not isinstance(value, str)
        text = ",".join(value) if is_list else str(value)
        ssm.put_parameter(
            Name=f"{path}{key}",
            Value=text or "-",  # SSM refuses empty values
            Type="StringList" if is_list else "String",
            Overwrite=True,
            Description=f"cloudhsm-dr: restored {source_cluster_id}, {key}",
        )
        written.append(f"{path}{key}")
    return written
