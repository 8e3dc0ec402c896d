"""Is the primary region's verification still reporting? The DR copy monitor speaks
for the copies only when it is not: while the primary's hourly verification runs, it
already reports the same copies (and pages for them), and two messages for one
problem teach people to ignore one.

The decision is pure; `last_report` reads the verification's own metric in the
primary region (CloudWatch, same account) and says None when it cannot: a primary
region that does not answer is a silent one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lambdas.shared.env import METRICS_NAMESPACE, Env

VERIFICATION_METRIC = "VerificationFindings"  # emitted on every run, findings or not
VERIFICATION_SERVICE = "verify-backups"


@dataclass(frozen=True)
class PrimaryWatch:
    region: str
    silent_after: timedelta  # no verification report for this long: the primary is silent

    def to_env(self) -> dict[str, str]:
        data = {
            "region": self.region,
            "silent_after_minutes": self.silent_after / timedelta(minutes=1),
        }
        return {Env.PRIMARY_WATCH: json.dumps(data, separators=(",", ":"))}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PrimaryWatch | None:
        raw = (os.environ if environ is None else environ).get(Env.PRIMARY_WATCH)
        if not raw:
            return None
        data = json.loads(raw)
        return cls(data["region"], timedelta(minutes=float(data["silent_after_minutes"])))


def reporting(last: datetime | None, now: datetime, silent_after: timedelta) -> bool:
    return last is not None and now - last <= silent_after


def last_report(watch: PrimaryWatch, now: datetime, client: Any = None) -> datetime | None:
    """When the primary's verification last reported, within the window; None if not
    (or if CloudWatch there does not answer)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if client is None:  # the primary region, from a DR-region stack: fail fast
            from lambdas.shared import cross_region

            client = cross_region.client("cloudwatch", watch.region)
        response = client.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "verification",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": METRICS_NAMESPACE,
                            "MetricName": VERIFICATION_METRIC,
                            "Dimensions": [{"Name": "service", "Value": VERIFICATION_SERVICE}],
                        },
                        "Period": 60,
                        "Stat": "SampleCount",
                    },
                }
            ],
            StartTime=now - watch.silent_after,
            EndTime=now + timedelta(minutes=1),
        )
    except (BotoCoreError, ClientError):
        return None
    stamps = [
        stamp
        for result in response["MetricDataResults"]
        for stamp, count in zip(result["Timestamps"], result["Values"], strict=False)
        if count > 0
    ]
    return max(stamps) if stamps else None
