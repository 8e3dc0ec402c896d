"""Which topic a message goes to: `page` wakes someone (the recovery point or the
recovery itself is at risk now); `notify` is read in working hours (something drifted
or failed once, and a later run or alarm pages if it turns into a real risk)."""

from __future__ import annotations

from typing import Literal

Severity = Literal["page", "notify"]

PAGE: Severity = "page"

NOTIFY: Severity = "notify"
