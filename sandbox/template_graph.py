"""The order in which a template's resources can be created.

CloudFormation creates a resource only after everything it references (Ref,
Fn::GetAtt, Fn::Sub) or explicitly DependsOn; the sandbox follows the same rule so
that every reference already has a physical id when it is resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.intrinsics import TemplateResolutionError, referenced_logical_ids


def resource_dependencies(resources: Mapping[str, Any]) -> dict[str, set[str]]:
    """For each logical id, the other resources it must wait for."""
    dependencies: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        explicit = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        implicit = referenced_logical_ids(resource.get("Properties", {}))
        dependencies[logical_id] = (explicit | implicit) & set(resources) - {logical_id}
    return dependencies


def creation_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids, dependencies first; template order breaks ties (stable output)."""
    remaining = resource_dependencies(resources)
    ordered: list[str] = []
    created: set[str] = set()
    while remaining:
        ready = [logical_id for logical_id, needs in remaining.items() if needs <= created]
        if not ready:
            raise TemplateResolutionError(f"circular dependency among {sorted(remaining)}")
        for logical_id in ready:
            ordered.append(logical_id)
            created.add(logical_id)
            del remaining[logical_id]
    return ordered
