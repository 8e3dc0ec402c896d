"""What the static gates read from the synthesized templates, and how their findings
are matched against the reasoned exceptions kept in the repo."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sandbox.intrinsics import TemplateResolutionError
from tests.infra.iam_gate import UNRESOLVED, check_statement
from tests.infra.template_arns import StackTemplate, placeholder_resolver

# Where IAM statements live: identity policies, roles' trust policies, and the resource
# policies the stack writes (their statements are checked the same way).
_POLICY_DOCUMENTS = {
    "AWS::IAM::Policy": "PolicyDocument",
    "AWS::IAM::ManagedPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
}


@dataclass(frozen=True)
class Finding:
    """One problem of one action in one statement of one synthesized stack."""

    config: str
    stack: str
    logical_id: str
    statement: str  # its Sid, or its index in the document
    action: str
    kind: str
    subject: str
    message: str

    def line(self) -> str:
        return (
            f"[{self.config}] {self.stack} {self.logical_id} statement {self.statement}: "
            f"{self.action}: {self.message}"
        )


@dataclass(frozen=True)
class LocatedStatement:
    stack: StackTemplate
    logical_id: str  # the policy's resource (a role's inline policy: "Role/PolicyName")
    label: str
    statement: dict[str, Any]  # as synthesized, intrinsics unresolved


def iam_statements(stack: StackTemplate) -> Iterator[LocatedStatement]:
    """Every statement of every policy document in the template."""
    for logical_id, resource in stack.resources().items():
        properties = resource.get("Properties", {})
        documents: list[tuple[str, Any]] = []
        key = _POLICY_DOCUMENTS.get(resource.get("Type", ""))
        if key and key in properties:
            documents.append((logical_id, properties[key]))
        if resource.get("Type") == "AWS::IAM::Role":
            if "AssumeRolePolicyDocument" in properties:
                documents.append((f"{logical_id}/trust", properties["AssumeRolePolicyDocument"]))
            for policy in properties.get("Policies", []):
                name = policy.get("PolicyName", "?")
                documents.append((f"{logical_id}/{name}", policy["PolicyDocument"]))
        for where, document in documents:
            for index, statement in enumerate(_as_list(document.get("Statement", []))):
                label = statement.get("Sid") or str(index)
                yield LocatedStatement(stack, where, label, statement)


def iam_findings(stacks: Iterable[StackTemplate]) -> list[Finding]:
    """The IAM gate over every statement of every stack."""
    findings = []
    for stack in stacks:
        resolver = placeholder_resolver(stack)
        for located in iam_statements(stack):
            where = (stack.config, stack.stack, located.logical_id, located.label)
            try:
                statement = resolver.resolve(located.statement)
            except TemplateResolutionError as error:
                findings.append(Finding(*where, "-", UNRESOLVED, "-", str(error)))
                continue
            for problem in check_statement(statement):
                findings.append(
                    Finding(*where, problem.action, problem.kind, problem.subject, problem.message)
                )
    return findings


def state_machine_definitions(stack: StackTemplate) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, definition) of every state machine, with placeholder ARNs in it."""
    resolver = placeholder_resolver(stack)
    for logical_id, resource in stack.of_type("AWS::StepFunctions::StateMachine"):
        properties = resource["Properties"]
        if "DefinitionString" in properties:
            text = resolver.resolve_string(properties["DefinitionString"])
            yield logical_id, json.loads(text)
        else:
            yield logical_id, resolver.resolve(properties["Definition"])


# -- reasoned exceptions ---------------------------------------------------------------

_MATCHED_FIELDS = ("config", "stack", "logical_id", "statement", "action", "kind", "subject")


@dataclass(frozen=True)
class GateException:
    """A finding the gate accepts, and why. Each field is a glob pattern ("*" if absent)."""

    reason: str
    fields: tuple[tuple[str, str], ...]

    def matches(self, finding: Finding) -> bool:
        return all(
            fnmatch.fnmatchcase(str(getattr(finding, name)), pattern)
            for name, pattern in self.fields
        )

    def describe(self) -> str:
        return ", ".join(f"{name}={pattern}" for name, pattern in self.fields)


def load_exceptions(path: Path) -> list[GateException]:
    """The exceptions file: a list of entries, each with a `reason` and the fields it
    matches. An entry without a reason, or naming an unknown field, is refused."""
    entries = yaml.safe_load(path.read_text()) or []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: must hold a list of exceptions")
    exceptions = []
    for index, entry in enumerate(entries):
        reason = str(entry.get("reason", "")).strip() if isinstance(entry, dict) else ""
        if len(reason) < 20:
            raise ValueError(f"{path}: entry {index}: give a reason (a sentence) for it")
        unknown = sorted(set(entry) - {"reason", *_MATCHED_FIELDS})
        if unknown:
            raise ValueError(f"{path}: entry {index}: unknown fields {unknown}")
        fields = tuple((name, str(entry[name])) for name in _MATCHED_FIELDS if name in entry)
        if not fields:
            raise ValueError(f"{path}: entry {index}: matches every finding")
        exceptions.append(GateException(reason, fields))
    return exceptions


def unexcused(findings: Iterable[Finding], exceptions: Iterable[GateException]) -> list[Finding]:
    kept = list(exceptions)
    return [f for f in findings if not any(e.matches(f) for e in kept)]


def unused(exceptions: Iterable[GateException], findings: Iterable[Finding]) -> list[str]:
    seen = list(findings)
    return [e.describe() for e in exceptions if not any(e.matches(f) for f in seen)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
