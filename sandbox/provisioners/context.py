"""What every provisioner shares: the created resource's ids, clients, naming, notes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from sandbox.intrinsics import StackEnvironment

Properties = dict[str, Any]


@dataclass(frozen=True)
class Provisioned:
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProvisionContext:
    """What every provisioner shares: clients, naming, and a log of compromises."""

    environment: StackEnvironment
    notes: list[str] = field(default_factory=list)
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.environment.region)
        return self._clients[service]

    def note(self, logical_id: str, message: str) -> None:
        self.notes.append(f"{logical_id}: {message}")

    def generated_name(
        self, logical_id: str, max_length: int = 64, *, prefix: str | None = None
    ) -> str:
        """CloudFormation's `<stack>-<LogicalId>-<SUFFIX>`, deterministic for reproducible runs."""
        prefix = self.environment.stack_name if prefix is None else prefix
        digest = hashlib.sha256(f"{self.environment.stack_name}/{logical_id}".encode())
        suffix = digest.hexdigest()[:12].upper()
        base = f"{prefix}-{logical_id}" if prefix else logical_id
        return f"{base[: max_length - len(suffix) - 1]}-{suffix}"

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        env = self.environment
        where = env.region if region else ""
        return f"arn:{env.partition}:{service}:{where}:{env.account_id}:{resource}"


Provisioner = Callable[[ProvisionContext, str, Properties], Provisioned]


def text(value: Any) -> str:
    """A property value as the string attribute maps of SNS/SQS/Lambda expect."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def policy_json(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def pick(properties: Properties, *names: str) -> Properties:
    return {name: properties[name] for name in names if name in properties}


def lower_camel(value: Any) -> Any:
    """CloudFormation's PascalCase property keys as the Step Functions API's camelCase."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: lower_camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [lower_camel(item) for item in value]
    return value
