"""The daily key check of this region's warm standbys (the DR stack's schedule, with
key_verification.regions set for the region): for each warm standby this deployment
owns here (its tags re-read right before), let the region's verifier in, invoke
verify-keys against the newest manifest of its source cluster, take the rules out
again, and alert on what was found (lambdas/standby/key_check.py).

The rules are revoked after each check: a standby is deleted by the refresher, and a
rule of the verifier's group naming the standby's group would keep CloudHSM from
deleting that group with it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.alerting.delivery import Repeat, memory_of
from lambdas.alerting.memory import findings_signature
from lambdas.shared.findings import Finding
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.shared.settings import SettingsError, VerificationSettings
from lambdas.shared.standby import is_standby_of
from lambdas.standby.key_check import (
    KEY_CHECK_TAG,
    StandbyTarget,
    finding_for,
    hsm_permission,
    key_check_alert,
    targets,
    unchecked,
    verify_event,
)
from lambdas.standby.settings import StandbySettings

VERIFY_FUNCTION_ENV = "HSMDR_STANDBY_VERIFY_FUNCTION"
VERIFIER_GROUP_ENV = "HSMDR_STANDBY_VERIFIER_GROUP"


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = StandbySettings.from_env()
    function, group = _verifier()
    region = os.environ.get("AWS_REGION", settings.region)
    answer = check_standbys(
        settings,
        CloudHsmGateway.for_region(region),
        region=region,
        verifier_group=group,
        ec2=_client("ec2", region),
        invoke=lambda payload: _invoke(function, payload, region),
    )
    findings = answer.pop("finding_objects")
    alert = key_check_alert(findings, settings.deployment_name, region)
    alerts = VerificationSettings.from_env()
    repeat = Repeat(memory_of(alerts), f"standby-keys#{region}", alerts.repeat_every)
    if alert is None:
        repeat.clear()
        return answer
    logger.warning("warm standby key findings", extra={"key_check": answer})
    scheduled = isinstance(event, dict) and event.get("source") == "schedule"
    answer.update(
        repeat.publish(
            alert,
            alerts.alert_topics,
            signature=findings_signature((f.code, f.cluster_id, f.message) for f in findings),
            now=datetime.now(UTC),
            scheduled=scheduled,
        )
    )
    return answer


def check_standbys(
    settings: StandbySettings,
    gateway: CloudHsmGateway,
    *,
    region: str,
    verifier_group: str,
    ec2: Any,
    invoke: Callable[[dict[str, Any]], tuple[Any, str | None]],
) -> dict[str, Any]:
    """Each warm standby checked; the answer, with the findings under finding_objects."""
    found, without = targets(
        gateway.describe_clusters(), settings.deployment_name, settings.warm_cluster_ids
    )
    checked: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for target in found:
        # Re-read: act only on a cluster that is still this deployment's standby.
        tags = gateway.list_tags(target.standby_id)
        if not is_standby_of(tags, settings.deployment_name, target.source_cluster_id):
            findings.append(
                unchecked(
                    target.source_cluster_id,
                    f"{target.standby_id} in {region} is no longer tagged as this "
                    "deployment's standby (adopted by a restore, or its tags changed): "
                    "its keys were not checked.",
                )
            )
            continue
        report, error = _checked(target, region, verifier_group, ec2, invoke)
        finding = finding_for(target, region, report, error)
        if finding is not None:
            findings.append(finding)
        checked.append(
            {
                "source_cluster_id": target.source_cluster_id,
                "standby_id": target.standby_id,
                "status": "SUCCEEDED" if finding is None else finding.code.value,
                "keys_found": report.get("keys_found") if isinstance(report, dict) else None,
                "keys_expected": report.get("keys_expected") if isinstance(report, dict) else None,
                "manifest_key": report.get("manifest_key") if isinstance(report, dict) else None,
            }
        )
    return {
        "region": region,
        "checked": checked,
        "without_warm_standby": without,
        "findings": [f.to_dict() for f in findings],
        "finding_objects": findings,
    }


def _checked(
    target: StandbyTarget,
    region: str,
    verifier_group: str,
    ec2: Any,
    invoke: Callable[[dict[str, Any]], tuple[Any, str | None]],
) -> tuple[Any, str | None]:
    """The verifier's way in for this check only, then out again."""
    note = f"cloudhsm-dr key check of standby {target.standby_id}"
    group = target.security_group
    ingress = [hsm_permission(verifier_group, note)]
    egress = [hsm_permission(group, note)]
    ec2.create_tags(
        Resources=[group], Tags=[{"Key": KEY_CHECK_TAG, "Value": target.source_cluster_id}]
    )
    _tolerating(ec2.authorize_security_group_ingress, "InvalidPermission.Duplicate")(
        GroupId=group, IpPermissions=ingress
    )
    try:
        _tolerating(ec2.authorize_security_group_egress, "InvalidPermission.Duplicate")(
            GroupId=verifier_group, IpPermissions=egress
        )
        try:
            return invoke(verify_event(target, region))
        finally:
            _tolerating(ec2.revoke_security_group_egress, "InvalidPermission.NotFound")(
                GroupId=verifier_group, IpPermissions=egress
            )
    finally:
        _tolerating(ec2.revoke_security_group_ingress, "InvalidPermission.NotFound")(
            GroupId=group, IpPermissions=ingress
        )


def _tolerating(call: Callable[..., Any], code: str) -> Callable[..., None]:
    def run(**kwargs: Any) -> None:
        from botocore.exceptions import ClientError

        try:
            call(**kwargs)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != code:
                raise

    return run


def _invoke(function: str, payload: dict[str, Any], region: str) -> tuple[Any, str | None]:
    """The verify-keys report, or the function's error as text."""
    answer = _client("lambda", region).invoke(
        FunctionName=function, Payload=json.dumps(payload).encode()
    )
    body = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        if isinstance(body, dict):
            return None, f"{body.get('errorType')}: {body.get('errorMessage')}"
        return None, str(body)
    return body, None


def _verifier() -> tuple[str, str]:
    function = os.environ.get(VERIFY_FUNCTION_ENV, "")
    group = os.environ.get(VERIFIER_GROUP_ENV, "")
    if not function or not group:
        raise SettingsError(f"{VERIFY_FUNCTION_ENV} and {VERIFIER_GROUP_ENV} must be set")
    return function, group


def _client(service: str, region: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region)
