"""Every Python function's settings (`lambda` in the file)."""

from __future__ import annotations

from pydantic import Field, field_validator

from stacks.config.base import Strict

# CloudWatch Logs' retention periods, by the name CDK gives each.
LOG_RETENTION_NAMES = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
    30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
    150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1827: "FIVE_YEARS", 3653: "TEN_YEARS",
}  # fmt: skip


class LambdaOptions(Strict):
    """Every Python function's settings (`lambda` in the file)."""

    powertools_layer_version: int = Field(
        default=27, ge=1, description="version of the Powertools for AWS Lambda v3 public layer"
    )
    log_retention_days: int = Field(
        default=90,
        description="retention of every function's log group in days, one of CloudWatch "
        f"Logs' periods: {', '.join(map(str, LOG_RETENTION_NAMES))}",
    )
    memory_mb: int = Field(default=256, ge=128, le=10240, description="function memory")

    @field_validator("log_retention_days")
    @classmethod
    def _known_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_NAMES:
            allowed = sorted(LOG_RETENTION_NAMES)
            raise ValueError(f"must be one of CloudWatch Logs' retention periods {allowed}")
        return value
