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

from lambdas.core.models import Cluster
from lambdas.core.restore_settings import RestoreSettings


def restored_path(deployment: str, source_cluster_id: str) -> str:
    return f"/hsmdr/{deployment}/restored/{source_cluster_id}/"


def trust_anchor_copy_name(deployment: str) -> str:
    return f"/hsmdr/{deployment}/trust-anchor/customerCA.crt"


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


def copy_trust_anchor(
    *,
    parameter: str | None,
    primary_region: str,
    target_region: str,
    deployment: str,
    primary_ssm: Any,
    target_ssm: Any,
) -> dict[str, Any]:
    """Make customerCA.crt readable in the target region; never fails the restore:
    the result says where the certificate is, or what the engineer must do."""
    if not parameter:
        return {
            "status": "NOT_CONFIGURED",
            "note": "trust anchor: not configured (restore.trust_anchor_parameter); clients "
            "keep using the customerCA.crt they have: the restored cluster carries the "
            "source's certificate",
        }
    if primary_region == target_region:
        return {
            "status": "IN_REGION",
            "parameter": parameter,
            "region": target_region,
            "note": f"trust anchor: SSM parameter {parameter} in {target_region}",
        }
    copy_name = trust_anchor_copy_name(deployment)
    from botocore.exceptions import BotoCoreError, ClientError

    # The copy job replicates the trust anchor to every DR region each run: read that
    # replica first, and the primary region (down, in a regional disaster) only without one.
    replica = _replica(target_ssm, copy_name)
    if replica is not None:
        return {
            "status": "REPLICA",
            "parameter": copy_name,
            "region": target_region,
            "note": f"trust anchor: the replica of {parameter} in {target_region} {copy_name}",
        }
    try:
        value = primary_ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    except (ClientError, BotoCoreError) as error:
        return _existing_copy(target_ssm, copy_name, target_region, parameter, error)
    target_ssm.put_parameter(
        Name=copy_name,
        Value=value,
        Type="String",  # a public certificate: nothing to encrypt
        Tier="Advanced" if len(value.encode()) > 4096 else "Standard",
        Overwrite=True,
        Description=f"cloudhsm-dr: copy of {parameter} from {primary_region} (customerCA.crt)",
    )
    return {
        "status": "COPIED",
        "parameter": copy_name,
        "region": target_region,
        "note": f"trust anchor: copied from {primary_region} {parameter} to {target_region} "
        f"{copy_name}",
    }


def _replica(target_ssm: Any, copy_name: str) -> str | None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(target_ssm.get_parameter(Name=copy_name)["Parameter"]["Value"])
    except (ClientError, BotoCoreError):
        return None


def _existing_copy(
    target_ssm: Any, copy_name: str, region: str, parameter: str, error: Exception
) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    reason = f"{parameter} could not be read in the primary region ({_short(error)})"
    try:
        target_ssm.get_parameter(Name=copy_name)
    except (ClientError, BotoCoreError):
        return {
            "status": "MISSING",
            "note": f"trust anchor: NOT available in {region}: {reason}. Give clients the "
            "customerCA.crt you stored when the cluster was initialized",
        }
    return {
        "status": "EARLIER_COPY",
        "parameter": copy_name,
        "region": region,
        "note": f"trust anchor: {reason}; an earlier copy is in {region} {copy_name}",
    }


def _short(error: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or error)
    return type(error).__name__
