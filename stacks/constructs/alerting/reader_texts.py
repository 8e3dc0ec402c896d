"""Alarm descriptions and the messages state machines word, made for the person paged:
runbook links under the config's `docs_url` and `--deployment NAME` in every command
(`runbooks.for_reader`). An aspect over every stack of the app, applied once, so no
construct can add a description or a workflow message that keeps the relative path."""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import IAspect, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct

from lambdas.shared import runbooks


def rewritten(value: Any, *, docs_url: str | None, deployment: str) -> Any:
    """`value` (a resolved CloudFormation value) with every string literal made for the
    reader; intrinsic functions keep their names and their references."""
    if isinstance(value, str):
        return runbooks.for_reader(value, docs_url=docs_url, deployment=deployment)
    if isinstance(value, list):
        return [rewritten(v, docs_url=docs_url, deployment=deployment) for v in value]
    if isinstance(value, dict):
        return {
            k: v
            if k in ("Ref", "Fn::GetAtt")
            else rewritten(v, docs_url=docs_url, deployment=deployment)
            for k, v in value.items()
        }
    return value


@jsii.implements(IAspect)
class ReaderTexts:
    def __init__(self, *, docs_url: str | None, deployment: str) -> None:
        self.docs_url = docs_url
        self.deployment = deployment

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, cloudwatch.CfnAlarm):
            self._override(node, "AlarmDescription", node.alarm_description)
        elif isinstance(node, sfn.CfnStateMachine):
            self._override(node, "DefinitionString", node.definition_string)

    def _override(self, node: Any, name: str, value: Any) -> None:
        if value is None:
            return
        resolved = Stack.of(node).resolve(value)
        new = rewritten(resolved, docs_url=self.docs_url, deployment=self.deployment)
        if new != resolved:
            node.add_property_override(name, new)
