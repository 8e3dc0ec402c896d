"""Has a DR drill succeeded recently enough? Pure decisions; the handler fetches.

A CloudWatch alarm evaluates at most seven days of data, and drills run every few
months, so no alarm can see "no successful drill in 92 days" on its own. The drill
workflow emits `DrillSucceeded` (1 or 0) when it ends; this watcher reads that metric
back over `period_days` (CloudWatch keeps hourly data for 455 days) in every region a
drill may run, and emits `DaysSinceSuccessfulDrill` daily for the alarm.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from lambdas.shared import runbooks
from lambdas.shared.env import Env

DRILL_SUCCEEDED = "DrillSucceeded"
DAYS_SINCE_SUCCESSFUL_DRILL = "DaysSinceSuccessfulDrill"
LOOKBACK_SLACK = timedelta(days=1)  # read a day past the period, so "none" is unambiguous
RESOLUTION_SECONDS = 3600  # CloudWatch's resolution for data older than 63 days


@dataclass(frozen=True)
class DrillWatchSettings:
    period_days: int
    regions: tuple[str, ...]  # where drills may run: the deployment and DR regions
    namespace: str
    dimensions: tuple[tuple[str, str], ...]  # exactly what the drill emits DrillSucceeded with

    @property
    def lookback(self) -> timedelta:
        return timedelta(days=self.period_days) + LOOKBACK_SLACK

    def to_env(self) -> dict[str, str]:
        return {Env.DRILL_WATCH_SETTINGS: json.dumps(asdict(self), separators=(",", ":"))}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DrillWatchSettings:
        environ = os.environ if environ is None else environ
        raw = json.loads(environ[Env.DRILL_WATCH_SETTINGS])
        return cls(
            period_days=int(raw["period_days"]),
            regions=tuple(raw["regions"]),
            namespace=str(raw["namespace"]),
            dimensions=tuple((str(k), str(v)) for k, v in raw["dimensions"]),
        )


@dataclass(frozen=True)
class DrillWatchReport:
    checked_at: datetime
    period_days: int
    last_success: datetime | None  # start of the hour in which the newest success was seen
    last_success_region: str | None

    @property
    def days_since_success(self) -> float:
        """Days since the newest successful drill; the lookback window if none was seen."""
        if self.last_success is None:
            return float(self.period_days) + LOOKBACK_SLACK / timedelta(days=1)
        return round((self.checked_at - self.last_success) / timedelta(days=1), 3)

    @property
    def overdue(self) -> bool:
        return self.days_since_success > self.period_days

    def to_dict(self) -> dict[str, object]:
        return {
            "status": "FAILED" if self.overdue else "SUCCEEDED",
            "checked_at": self.checked_at.isoformat(),
            "period_days": self.period_days,
            "last_successful_drill": self.last_success.isoformat() if self.last_success else None,
            "last_successful_drill_region": self.last_success_region,
            "days_since_successful_drill": self.days_since_success,
            "next_step": (
                f"Run a DR drill: hsmdr drill start --config <deployment config> --follow "
                f"(runbook: {runbooks.DR_DRILL})"
                if self.overdue
                else "nothing to do"
            ),
        }


def newest_success(
    points_by_region: Mapping[str, Iterable[tuple[datetime, float]]],
) -> tuple[datetime | None, str | None]:
    """The newest (timestamp, region) whose DrillSucceeded value shows a success."""
    best: tuple[datetime | None, str | None] = (None, None)
    for region, points in points_by_region.items():
        for when, value in points:
            if value > 0 and (best[0] is None or when > best[0]):
                best = (when, region)
    return best


def watch(
    settings: DrillWatchSettings,
    points_by_region: Mapping[str, Iterable[tuple[datetime, float]]],
    now: datetime,
) -> DrillWatchReport:
    when, region = newest_success(points_by_region)
    return DrillWatchReport(
        checked_at=now,
        period_days=settings.period_days,
        last_success=when,
        last_success_region=region,
    )
