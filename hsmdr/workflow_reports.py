"""The restore's and the HSM replacement's reports as their workflows store them: in the
reports bucket of the stack whose state machine ran (its SSM parameter
/hsmdr/<deployment>/reports-bucket, in the execution's region), as
`<prefix><date>-<execution>.json` and `.html`. `hsmdr report` reads them.

Everything needed is in the execution's ARN (the region, the state machine's name, so
the deployment and the workflow) and its start date: no listing, so the operator
policy needs no ListBucket on a DR-region stack's bucket.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from lambdas.replacement.report import REPORT_PREFIX as REPLACEMENT_REPORTS
from lambdas.restore.report import REPORT_PREFIX as RESTORE_REPORTS
from lambdas.shared.report_store import report_stem
from stacks.names import REPLACE_HSM, RESTORE_CLUSTER, reports_bucket_parameter

# The state machine name's suffix (after "<deployment>-") -> where its reports are.
PREFIXES = {RESTORE_CLUSTER: RESTORE_REPORTS, REPLACE_HSM: REPLACEMENT_REPORTS}
# S3 answers a missing key with AccessDenied when the reader may not list the bucket.
MISSING = ("NoSuchKey", "404", "AccessDenied", "403")


def workflow_of(execution_arn: str) -> tuple[str, str] | None:
    """(deployment, report prefix) of a restore or replacement execution, else None."""
    machine = execution_arn.split(":")[6]
    for suffix, prefix in PREFIXES.items():
        if machine.endswith(f"-{suffix}") and len(machine) > len(suffix) + 1:
            return machine.removesuffix(f"-{suffix}"), prefix
    return None


def candidate_stems(prefix: str, execution_arn: str, started: datetime) -> list[str]:
    """The report's key without its suffix: dated by the workflow's own start, which is
    the execution's start day or, past midnight, the next."""
    return [
        report_stem(prefix, day.date().isoformat(), execution_arn)
        for day in (started, started + timedelta(days=1))
    ]


def stored_report(execution_arn: str, started: datetime, client_for: Any) -> dict[str, Any] | None:
    """The stored report of a restore or replacement execution: bucket, keys, the JSON
    report and the HTML page; or why it could not be read (`error`). None for the other
    workflows, whose reports are not stored here."""
    from botocore.exceptions import BotoCoreError, ClientError

    found = workflow_of(execution_arn)
    if found is None:
        return None
    deployment, prefix = found
    region = execution_arn.split(":")[3]
    parameter = reports_bucket_parameter(deployment)
    try:
        ssm = client_for("ssm", region)
        bucket = str(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    except (ClientError, BotoCoreError) as error:  # the region may be the one that is down
        return {"error": f"the reports bucket is not known ({parameter} in {region}): {error}"}
    s3 = client_for("s3", region)
    for stem in candidate_stems(prefix, execution_arn, started):
        try:
            body = s3.get_object(Bucket=bucket, Key=f"{stem}.json")["Body"].read()
            page = s3.get_object(Bucket=bucket, Key=f"{stem}.html")["Body"].read().decode()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in MISSING:
                continue
            return {"bucket": bucket, "error": f"{stem} could not be read: {error}"}
        except BotoCoreError as error:
            return {"bucket": bucket, "error": f"{stem} could not be read: {error}"}
        return {
            "bucket": bucket,
            "json_key": f"{stem}.json",
            "html_key": f"{stem}.html",
            "report": json.loads(body),
            "html": page,
        }
    return {
        "bucket": bucket,
        "error": f"no report of this execution in s3://{bucket}/{prefix} (not written yet, or "
        "written by a version that stored none)",
    }


def summary_lines(stored: dict[str, Any]) -> list[str]:
    """What the Markdown report says about the stored one."""
    if stored.get("error"):
        return ["", f"Stored report: not read: {stored['error']}"]
    report = stored["report"]
    measures = [
        f"{name} {report[key]:.0f}s"
        for name, key in (
            ("RTO", "rto_seconds"),
            ("RPO", "rpo_seconds"),
            ("capacity restored in", "capacity_restored_seconds"),
        )
        if isinstance(report.get(key), int | float)
    ]
    return [
        "",
        f"Stored report: s3://{stored['bucket']}/{stored['json_key']} (and .html): "
        f"{report.get('status')}" + (f", {', '.join(measures)}" if measures else ""),
    ]
