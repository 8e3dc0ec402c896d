"""A Step Functions execution history, as the timeline people read: each state
entered, when it started and ended, how long it took."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any


def timeline(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    open_steps: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = str(event.get("type", ""))
        at = _time(event.get("timestamp"))
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            step = {"state": name, "type": kind.removesuffix("StateEntered"), "start": at}
            open_steps[name] = step
            steps.append(step)
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if name in open_steps:
                open_steps.pop(name)["end"] = at
        elif kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            for step in open_steps.values():  # the state that was running when it ended
                step["end"] = at
                step["failed"] = True
    for step in steps:
        step.setdefault("end", None)
        step["seconds"] = _seconds(step["start"], step["end"])
        step["start"] = _iso(step["start"])
        step["end"] = _iso(step["end"])
    return steps


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)
