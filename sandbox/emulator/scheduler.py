"""Pending lifecycle transitions, applied lazily in due-time order.

Nothing runs in the background. Every API call, ``settle`` and ``time_travel`` first
calls ``run_due(now)``, which fires each transition whose due time has passed, oldest
first, passing it its own due time so the timestamps it writes are the moments the
transition "really" happened, even when they are hours in the past after time travel.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

Action = Callable[[datetime], None]


@dataclass(order=True)
class Transition:
    due: datetime
    seq: int
    label: str = field(compare=False)
    action: Action = field(compare=False, repr=False)
    # Recurring housekeeping (the daily backup timer) is not a transitional state,
    # so settle() does not wait for it.
    recurring: bool = field(compare=False, default=False)


class Scheduler:
    def __init__(self) -> None:
        self._heap: list[Transition] = []
        self._seq = itertools.count()

    def at(self, due: datetime, label: str, action: Action, *, recurring: bool = False) -> None:
        heapq.heappush(self._heap, Transition(due, next(self._seq), label, action, recurring))

    def run_due(self, now: datetime) -> int:
        """Fire every transition due by ``now``, including ones they schedule."""
        fired = 0
        while self._heap and self._heap[0].due <= now:
            transition = heapq.heappop(self._heap)
            transition.action(transition.due)
            fired += 1
        return fired

    def shift(self, delta: timedelta) -> None:
        # A uniform shift keeps the heap ordered.
        for transition in self._heap:
            transition.due -= delta

    def next_due(self, *, include_recurring: bool) -> datetime | None:
        dues = [t.due for t in self._heap if include_recurring or not t.recurring]
        return min(dues) if dues else None

    def pending(self, *, include_recurring: bool = False) -> list[Transition]:
        return sorted(t for t in self._heap if include_recurring or not t.recurring)
