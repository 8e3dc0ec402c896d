"""The emulator's single clock: real UTC wall time.

Nothing is faked here on purpose. Code under test computes ages with its own
``datetime.now(UTC)``; if the emulator kept a virtual clock the two would disagree.
``CloudHsmWorld.time_travel`` therefore moves the *data* into the past instead of
moving the clock into the future.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_epoch(moment: datetime) -> float:
    """awsJson timestamps are epoch seconds as a number; the service sends milliseconds."""
    return round(moment.timestamp(), 3)
