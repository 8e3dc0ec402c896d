"""cdk-nag (AwsSolutions) wiring. Every acknowledgement carries its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def check_app(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Accept one cdk-nag finding on `construct` and its children, for `reason`."""
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))
