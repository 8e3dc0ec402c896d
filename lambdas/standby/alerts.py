"""The refresher's message when it could not keep a standby (docs/runbooks/standby.md).
Pure: no AWS calls."""

from __future__ import annotations

from lambdas.alerting.alerts import Alert, fit_subject
from lambdas.shared import runbooks
from lambdas.shared.severity import NOTIFY
from lambdas.standby.refresh import RefreshResult


def refusal_alert(result: RefreshResult, deployment: str) -> Alert:
    """Notify: a refused standby means a restore there falls back to a slower posture
    (the verification's STANDBY_* findings say so too), not that a recovery point is
    at risk."""
    lines = [
        f"The standby refresher of {deployment} in {result.region} could not keep every "
        "standby: a restore there falls back to a slower posture (pilot light, or cold) "
        "until this is fixed.",
        "",
        *[f"  - {r}" for r in result.refused],
        "",
        "Next step: fix the cause (raise the quota in Service Quotas, AWS CloudHSM; set "
        f"restore.subnets.{result.region}; look at a standby whose tags changed; or, for "
        "a backup, see the runbook's rotation backups: never delete a backup because it "
        "is named here), then list the standbys: aws cloudhsmv2 describe-clusters "
        f"--region {result.region}",
        f"Runbook: {runbooks.STANDBY}",
    ]
    return Alert(
        subject=fit_subject(f"{deployment}: standby refresh refused in {result.region}"),
        body="\n".join(lines),
        severity=NOTIFY,
    )
