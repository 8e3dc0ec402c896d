"""What every config section shares: the error, the strict base model and the value
types (with their patterns) that more than one section checks."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from lambdas.shared.protected import REGION_PATTERN
from stacks.config.aws_names import check_region

# A region's name is checked against botocore's partition data after its shape.
Region = Annotated[str, Field(pattern=REGION_PATTERN), AfterValidator(check_region)]
KMS_KEY_ARN_PATTERN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$"
PositiveHours = Annotated[float, Field(gt=0, le=24 * 366)]
SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]


class ConfigError(Exception):
    """The config file is unreadable or has invalid values; lines say which and why."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def each_subnet_once(value: list[str]) -> list[str]:
    """A subnet list's validator: a subnet named twice is a mistake, not a second AZ."""
    if len(set(value)) != len(value):
        raise ValueError("lists a subnet twice")
    return value
