"""What a stack holds, found by walking its construct tree: its state machines, its
Lambda functions, and the metrics its alarms already watch."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import CfnResource, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct, IValidation

from lambdas.shared.env import Env

WALKED_TYPES = ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine")


@dataclass(frozen=True)
class Workflow:
    """A state machine of the stack."""

    resource: sfn.CfnStateMachine
    name: str  # its StateMachineName, or its construct path if it has none

    @property
    def arn(self) -> str:
        return self.resource.ref


@dataclass(frozen=True)
class Function:
    """A Lambda function of the stack."""

    resource: lambda_.CfnFunction
    service: str  # its POWERTOOLS_SERVICE_NAME, or its construct path if it has none

    @property
    def name(self) -> str:
        return self.resource.ref


def find_workflows(stack: Stack) -> list[Workflow]:
    return [
        Workflow(node, node.state_machine_name or node.node.path)
        for node in stack.node.find_all()
        if isinstance(node, sfn.CfnStateMachine)
    ]


def find_functions(stack: Stack) -> list[Function]:
    functions = []
    for node in stack.node.find_all():
        if isinstance(node, lambda_.CfnFunction):
            # The L2 fills the L1's environment lazily: read the rendered properties.
            properties = stack.resolve(node._cfn_properties) or {}
            variables = (properties.get("environment") or {}).get("variables") or {}
            service = variables.get(Env.SERVICE_NAME)
            functions.append(
                Function(node, service if isinstance(service, str) else node.node.path)
            )
    return functions


def walked_paths(stack: Stack) -> set[str]:
    """Construct paths of every function and state machine in the stack."""
    return {
        node.node.path
        for node in stack.node.find_all()
        if isinstance(node, CfnResource) and node.cfn_resource_type in WALKED_TYPES
    }


class WatchedMetrics:
    """The metrics the stack's alarms watch, with their dimension values resolved."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._watched: list[tuple[str, str, dict[str, str]]] = []
        self._queries: set[str] = set()  # Metrics Insights queries (SELECT ...)
        for node in stack.node.find_all():
            if isinstance(node, cloudwatch.CfnAlarm):
                self._watched += self._metrics_of(node)
                self._queries |= self._queries_of(node)

    def covers_query(self, query: str) -> bool:
        """Some alarm evaluates this Metrics Insights query."""
        return query in self._queries

    @staticmethod
    def _queries_of(alarm: cloudwatch.CfnAlarm) -> set[str]:
        queries: Sequence[Any] = alarm.metrics if isinstance(alarm.metrics, list) else []
        return {
            q.expression
            for q in queries
            if isinstance(getattr(q, "expression", None), str)
            and q.expression.lstrip().upper().startswith("SELECT ")
        }

    def covers(self, namespace: str, metric_name: str, identity: Mapping[str, Any]) -> bool:
        """Some alarm reads this metric with at least these dimension values (its own
        metric, or one of a metric-math alarm's)."""
        wanted = {k: self._canonical(v) for k, v in identity.items()}
        return any(
            ns == namespace and name == metric_name and wanted.items() <= dims.items()
            for ns, name, dims in self._watched
        )

    def _metrics_of(self, alarm: cloudwatch.CfnAlarm) -> list[tuple[str, str, dict[str, str]]]:
        found: list[Any] = [alarm] if alarm.metric_name else []
        queries: Sequence[Any] = alarm.metrics if isinstance(alarm.metrics, list) else []
        for query in queries:
            stat = getattr(query, "metric_stat", None)
            if isinstance(stat, cloudwatch.CfnAlarm.MetricStatProperty) and isinstance(
                stat.metric, cloudwatch.CfnAlarm.MetricProperty
            ):
                found.append(stat.metric)
        return [
            (
                metric.namespace,
                metric.metric_name,
                {d.name: self._canonical(d.value) for d in metric.dimensions or []},
            )
            for metric in found
        ]

    def _canonical(self, value: Any) -> str:
        return json.dumps(self._stack.resolve(value), sort_keys=True, default=str)


@jsii.implements(IValidation)
class NothingAddedAfter:
    """Fails synthesis when a function or state machine joined the stack after `walker`
    walked it: that one would go unwatched."""

    def __init__(self, walker: IConstruct, seen: set[str], problem: Callable[[str], str]) -> None:
        self._walker = walker
        self._seen = seen
        self._problem = problem

    def validate(self) -> list[str]:
        late = walked_paths(Stack.of(self._walker)) - self._seen
        return [self._problem(path) for path in sorted(late)]
