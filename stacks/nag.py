"""cdk-nag (AwsSolutions) wiring. Every acknowledgement carries its reason."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def check_app(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Accept one cdk-nag finding on `construct` and its children, for `reason`."""
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))


def rendered(construct: IConstruct, value: str) -> str:
    """A token-bearing string as cdk-nag prints it in finding ids (`<Ref>`, `<Id.Attr>`)."""
    from aws_cdk import Stack

    return _render(Stack.of(construct).resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(_render(p) for p in parts)
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return f"<{'.'.join(value['Fn::GetAtt'])}>"
    raise ValueError(f"cannot render {value!r} for a cdk-nag finding id")
