"""The trust anchor (customerCA.crt), copied to every DR region so that clients of a
cluster restored there can verify it."""

from __future__ import annotations

from typing import Any


def trust_anchor_copy_name(deployment: str) -> str:
    return f"/hsmdr/{deployment}/trust-anchor/customerCA.crt"


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
