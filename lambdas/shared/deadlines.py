"""Deadlines kept in a job as ISO timestamps, so a Step Functions loop can carry them."""

from __future__ import annotations

from datetime import datetime, timedelta


def deadline(now: datetime, minutes: float) -> str:
    return (now + timedelta(minutes=minutes)).isoformat()


def passed(deadline_iso: str, now: datetime) -> bool:
    return now >= datetime.fromisoformat(deadline_iso)
