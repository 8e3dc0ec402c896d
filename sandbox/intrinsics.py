"""CloudFormation intrinsic functions, resolved against what the sandbox created.

The sandbox deploys a synthesized template through the ordinary AWS APIs, so every
property must first become a plain value: Refs turn into the physical ids created
earlier, Fn::Join/Fn::Sub into strings, conditions into booleans. The rules follow
the CloudFormation documentation; anything unsupported fails loudly instead of
deploying a half-resolved definition.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

# `${Name}`, `${Logical.Attribute}`; `${!Literal}` escapes and stays `${Literal}`.
_SUB_PLACEHOLDER: Final = re.compile(r"\$\{([^}]+)\}")


class TemplateResolutionError(Exception):
    """The template uses something the sandbox cannot resolve."""


class _NoValue:
    """Stand-in for AWS::NoValue: the property (or list item) disappears."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _NoValue()


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def url_suffix_for(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


@dataclass(frozen=True)
class StackEnvironment:
    """What the pseudo parameters resolve to."""

    region: str
    account_id: str
    stack_name: str

    @property
    def partition(self) -> str:
        return partition_for(self.region)

    @property
    def stack_id(self) -> str:
        return (
            f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}"
            f":stack/{self.stack_name}/00000000-0000-4000-8000-000000000000"
        )

    def pseudo_parameters(self) -> dict[str, Any]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": url_suffix_for(self.region),
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }


RefLookup = Callable[[str], Any]
AttributeLookup = Callable[[str, str], Any]


@dataclass
class IntrinsicResolver:
    """Turns template values into plain JSON values.

    `ref` and `get_att` look resources up by logical id; they are callbacks because
    the resources appear one by one while the deployer walks the dependency order.
    """

    environment: StackEnvironment
    ref: RefLookup
    get_att: AttributeLookup
    parameters: Mapping[str, Any] = field(default_factory=dict)
    mappings: Mapping[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)
    _condition_cache: dict[str, bool] = field(default_factory=dict, init=False)

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in `value`; AWS::NoValue entries are dropped."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key,) = value
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._resolve_function(key, value[key])
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def resolve_string(self, value: Any) -> str:
        resolved = self.resolve(value)
        if not isinstance(resolved, str):
            raise TemplateResolutionError(f"expected a string, got {resolved!r} from {value!r}")
        return resolved

    def condition_holds(self, name: str) -> bool:
        if name not in self._condition_cache:
            if name not in self.conditions:
                raise TemplateResolutionError(f"unknown condition {name!r}")
            self._condition_cache[name] = self._truth(self.conditions[name])
        return self._condition_cache[name]

    # -- the functions -------------------------------------------------------------

    def _resolve_function(self, name: str, argument: Any) -> Any:
        handlers: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": self._join,
            "Fn::Sub": self._sub,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::FindInMap": self._find_in_map,
            "Fn::If": self._if,
            "Fn::GetAZs": self._get_azs,
            "Fn::Base64": lambda arg: base64.b64encode(self.resolve_string(arg).encode()).decode(),
            "Fn::ToJsonString": lambda arg: json.dumps(self.resolve(arg), separators=(",", ":")),
            "Fn::Length": lambda arg: len(self.resolve(arg)),
            "Fn::Equals": self._truth_of("Fn::Equals"),
            "Fn::Not": self._truth_of("Fn::Not"),
            "Fn::And": self._truth_of("Fn::And"),
            "Fn::Or": self._truth_of("Fn::Or"),
            "Condition": self._truth_of("Condition"),
        }
        handler = handlers.get(name)
        if handler is None:
            raise TemplateResolutionError(f"{name} is not supported by the sandbox")
        return handler(argument)

    def _ref(self, name: Any) -> Any:
        pseudo = self.environment.pseudo_parameters()
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.ref(name)

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        else:
            logical_id, attribute = argument[0], self.resolve_string(argument[1])
        return self.get_att(logical_id, attribute)

    def _join(self, argument: Any) -> str:
        delimiter, items = argument
        parts = self.resolve(items)
        return str(delimiter).join(_as_text(part) for part in parts)

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            template, variables = argument, {}
        else:
            template, raw_variables = argument
            variables = {name: self.resolve(value) for name, value in raw_variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _as_text(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                return _as_text(self.get_att(logical_id, attribute))
            return _as_text(self._ref(name))

        return _SUB_PLACEHOLDER.sub(substitute, template)

    def _select(self, argument: Any) -> Any:
        index, items = argument
        resolved_items = self.resolve(items)
        return resolved_items[int(self.resolve(index))]

    def _split(self, argument: Any) -> list[str]:
        delimiter, text = argument
        return self.resolve_string(text).split(delimiter)

    def _find_in_map(self, argument: Any) -> Any:
        map_name, top_key, second_key = (self.resolve(part) for part in argument[:3])
        try:
            return self.mappings[map_name][top_key][second_key]
        except KeyError as missing:
            raise TemplateResolutionError(
                f"Fn::FindInMap: no {map_name}/{top_key}/{second_key} in Mappings"
            ) from missing

    def _if(self, argument: Any) -> Any:
        condition, when_true, when_false = argument
        return self.resolve(when_true if self.condition_holds(condition) else when_false)

    def _get_azs(self, argument: Any) -> list[str]:
        region = self.resolve(argument) or self.environment.region
        return [f"{region}{zone}" for zone in "abc"]

    def _truth_of(self, name: str) -> Callable[[Any], bool]:
        return lambda argument: self._truth({name: argument})

    def _truth(self, expression: Any) -> bool:
        """Evaluate a condition expression (Conditions section or Fn::If operand)."""
        if isinstance(expression, bool):
            return expression
        if not isinstance(expression, dict) or len(expression) != 1:
            raise TemplateResolutionError(f"not a condition: {expression!r}")
        ((name, argument),) = expression.items()
        evaluators: dict[str, Callable[[Any], bool]] = {
            "Condition": self.condition_holds,
            "Fn::Equals": lambda sides: (
                _as_text(self.resolve(sides[0])) == _as_text(self.resolve(sides[1]))
            ),
            "Fn::Not": lambda operands: not self._truth(operands[0]),
            "Fn::And": lambda operands: all(self._truth(item) for item in operands),
            "Fn::Or": lambda operands: any(self._truth(item) for item in operands),
            "Fn::Contains": lambda pair: (
                _as_text(self.resolve(pair[1]))
                in [_as_text(item) for item in self.resolve(pair[0])]
            ),
        }
        if name not in evaluators:
            raise TemplateResolutionError(f"{name} is not a condition function")
        return evaluators[name](argument)


def _as_text(value: Any) -> str:
    """How CloudFormation renders a value inside a string (numbers and booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise TemplateResolutionError(f"cannot put {value!r} into a string")


def referenced_logical_ids(value: Any) -> set[str]:
    """Logical ids a value points at through Ref, Fn::GetAtt or Fn::Sub.

    Pseudo parameters come back too (AWS::Region...); callers intersect the result with
    the template's resources.
    """
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= referenced_logical_ids(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item.split(".")[0] if isinstance(item, str) else item[0])
            elif key == "Fn::Sub":
                template = item if isinstance(item, str) else item[0]
                local_names = set() if isinstance(item, str) else set(item[1])
                for name in _SUB_PLACEHOLDER.findall(template):
                    if not name.startswith("!") and name.split(".")[0] not in local_names:
                        found.add(name.split(".")[0])
                if not isinstance(item, str):
                    found |= referenced_logical_ids(item[1])
            else:
                found |= referenced_logical_ids(item)
    return found
