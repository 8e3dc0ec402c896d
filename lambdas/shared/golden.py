"""Golden backups: one backup per period kept forever (NeverExpires), as pure decisions.

Per cluster and region, the newest `keep` periods (weekly, monthly or quarterly, by
CreateTimestamp in UTC) that hold a READY backup each get one golden backup: the
oldest READY backup of the period, so the choice does not move as the period fills.
Golden backups are marked NeverExpires and tagged `hsmdr:golden=<period>`; the tag is
how this code knows which NeverExpires flags are its own. Golden backups of older
periods are unmarked, and a NeverExpires that someone else set is never touched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from lambdas.shared.copies import GOLDEN_KEY, newest_first
from lambdas.shared.models import BACKUP_READY, Backup

PERIODS = ("weekly", "monthly", "quarterly")


def period_key(when: datetime, period: str) -> str:
    """The UTC period a timestamp falls in: 2026-W48, 2026-11 or 2026-Q4."""
    utc = when.astimezone(UTC)
    if period == "weekly":
        year, week, _ = utc.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "monthly":
        return f"{utc.year}-{utc.month:02d}"
    if period == "quarterly":
        return f"{utc.year}-Q{(utc.month - 1) // 3 + 1}"
    raise ValueError(f"period must be one of {PERIODS}, not {period!r}")


class GoldenAction(StrEnum):
    MARK = "mark"  # set NeverExpires and tag hsmdr:golden=<period>
    UNMARK = "unmark"  # clear NeverExpires and remove the tag
    KEEP = "keep"  # golden already, nothing to change


@dataclass(frozen=True)
class GoldenDecision:
    backup: Backup
    action: GoldenAction
    period: str
    reason: str


def decide_golden(backups: Iterable[Backup], *, period: str, keep: int) -> list[GoldenDecision]:
    """What to mark and unmark among one cluster's backups in one region."""
    ready = [b for b in backups if b.state == BACKUP_READY and b.create_timestamp]
    by_period: dict[str, list[Backup]] = defaultdict(list)
    for backup in ready:
        assert backup.create_timestamp is not None
        by_period[period_key(backup.create_timestamp, period)].append(backup)
    kept_periods = sorted(by_period, reverse=True)[:keep]
    decisions: list[GoldenDecision] = []
    for key in kept_periods:
        decisions.extend(_golden_period(key, by_period[key]))
    for backup in newest_first(ready):
        assert backup.create_timestamp is not None
        key = period_key(backup.create_timestamp, period)
        if GOLDEN_KEY in backup.tags and key not in kept_periods:
            decisions.append(
                GoldenDecision(
                    backup,
                    GoldenAction.UNMARK,
                    key,
                    f"golden for {key}, older than the newest {keep} {period} periods",
                )
            )
    return decisions


def _golden_period(key: str, members: list[Backup]) -> list[GoldenDecision]:
    oldest_first = list(reversed(newest_first(members)))
    ours = [b for b in oldest_first if GOLDEN_KEY in b.tags]
    decisions: list[GoldenDecision] = []
    if ours:
        golden, extra = ours[0], ours[1:]
        if golden.never_expires:
            decisions.append(GoldenDecision(golden, GoldenAction.KEEP, key, f"golden for {key}"))
        else:
            decisions.append(
                GoldenDecision(
                    golden,
                    GoldenAction.MARK,
                    key,
                    f"golden for {key} but NeverExpires was cleared: set it again",
                )
            )
        decisions.extend(
            GoldenDecision(b, GoldenAction.UNMARK, key, f"a second golden backup for {key}")
            for b in extra
        )
        return decisions
    # A NeverExpires set outside this tool is left alone, and already keeps its period.
    if any(b.never_expires for b in oldest_first):
        return []
    first = oldest_first[0]
    return [GoldenDecision(first, GoldenAction.MARK, key, f"the oldest READY backup of {key}")]
