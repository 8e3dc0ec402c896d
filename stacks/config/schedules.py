"""Schedule expressions, checked as EventBridge Scheduler reads them.

rate(value unit): a positive whole value; the unit singular for 1 and plural otherwise
(`rate(1 hour)`, `rate(5 hours)`). cron(fields): the six AWS fields (minutes hours
day-of-month month day-of-week year), one of day-of-month and day-of-week `?`, checked by
aws-cron-expression-validator. at(...) schedules run once: every job here recurs.
Schedules is the `schedules` section: when the scheduled jobs run.
"""

from __future__ import annotations

import re
from typing import Annotated

from aws_cron_expression_validator.validator import (  # type: ignore[import-untyped]
    AWSCronExpressionError,
    AWSCronExpressionValidator,
)
from pydantic import AfterValidator, Field

from stacks.config.aws_names import check_time_zone
from stacks.config.base import Strict

RATE_UNITS = ("minute", "hour", "day")
_RATE = re.compile(r"rate\((?P<value>\S+) (?P<unit>[a-z]+)\)")
_CRON = re.compile(r"cron\((?P<fields>.*)\)")
UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 24 * 60}
CRON_INTERVAL_MINUTES = 24 * 60  # a cron(...) schedule is taken as daily
CRON_FIELDS = "minutes hours day-of-month month day-of-week year"
FORMS = f"rate(N minute[s]|hour[s]|day[s]) or cron({CRON_FIELDS})"


def schedule_problem(expression: str) -> str | None:
    """What EventBridge Scheduler would refuse in `expression`, or None."""
    if expression.startswith("rate("):
        return _rate_problem(expression)
    if expression.startswith("cron("):
        return _cron_problem(expression)
    if expression.startswith("at("):
        return f"{expression} runs once; this job recurs: use {FORMS}"
    return f"{expression!r} is not a schedule expression: use {FORMS}"


def check_schedule(expression: str) -> str:
    """A pydantic validator: `expression` unchanged, or ValueError saying what is wrong."""
    problem = schedule_problem(expression)
    if problem:
        raise ValueError(problem)
    return expression


def _rate_problem(expression: str) -> str | None:
    match = _RATE.fullmatch(expression)
    if match is None:
        return f"{expression}: a rate is rate(N unit), one space between, e.g. rate(5 minutes)"
    value, unit = match["value"], match["unit"]
    if not value.isdigit() or int(value) < 1:
        return f"{expression}: the value must be a whole number of 1 or more"
    singular = unit.removesuffix("s")
    if singular not in RATE_UNITS:
        return f"{expression}: unknown unit {unit!r} (minute, hour or day)"
    expected = singular if int(value) == 1 else f"{singular}s"
    if unit != expected:
        return f"{expression}: EventBridge Scheduler wants rate({int(value)} {expected})"
    return None


def _cron_problem(expression: str) -> str | None:
    match = _CRON.fullmatch(expression)
    fields = match["fields"] if match else ""
    try:
        AWSCronExpressionValidator.validate(fields)
    except AWSCronExpressionError as error:
        # The library words the `?` rule without a space after its first sentence.
        reason = str(error).replace("'.One", "'. One")
        return f"{expression}: {reason} (fields: {CRON_FIELDS})"
    return None


def schedule_interval_minutes(expression: str) -> int:
    """How often a valid schedule fires: exact for rate(...), a day for cron(...)."""
    match = _RATE.fullmatch(expression)
    if match is None:
        return CRON_INTERVAL_MINUTES
    return int(match["value"]) * UNIT_MINUTES[match["unit"].removesuffix("s")]


# A schedule expression as EventBridge Scheduler reads it.
Schedule = Annotated[str, AfterValidator(check_schedule)]


class Schedules(Strict):
    """When the scheduled jobs run (EventBridge Scheduler expressions)."""

    verify_backups: Schedule = Field(
        default="rate(1 hour)",
        description="the backup verification; the DR regions' copy monitors use it too",
    )
    copy_backups: Schedule = Field(
        default="rate(1 day)",
        description="the copy job; its interval is part of the `COPY_MISSING` slack (a "
        "`cron(...)` counts as one day)",
    )
    health_check: Schedule = Field(
        default="rate(5 minutes)",
        description="the HSM health check; also the period of the capacity alarm",
    )
    timezone: Annotated[str, AfterValidator(check_time_zone)] = Field(
        default="UTC", description="IANA time zone of the `cron(...)` expressions"
    )
