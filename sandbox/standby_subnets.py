"""The standby refresher in the sandbox: its subnets come from `restore.subnets`
(placeholders in a sandbox config), so it is pointed at the sandbox's own subnets of
its region, as the key functions are (sandbox/key_store_setup.py)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from lambdas.shared.env import Env

Template = dict[str, Any]


def standby_in_sandbox_subnets(
    templates: Mapping[str, Template], regions: Mapping[str, str], networks: Mapping[str, Any]
) -> dict[str, Template]:
    """The templates (by stack name), a copy of each one that has a standby refresher
    with its subnets replaced by the sandbox network's of the stack's region."""
    result = {}
    for name, template in templates.items():
        network = networks.get(regions.get(name, ""))
        if network is None or not _refreshers(template):
            result[name] = template
            continue
        changed = copy.deepcopy(template)
        subnets = [network.subnets[zone] for zone in sorted(network.subnets)][:2]
        for variables in _refreshers(changed):
            settings = json.loads(variables[Env.STANDBY_SETTINGS])
            settings["subnet_ids"] = subnets
            variables[Env.STANDBY_SETTINGS] = json.dumps(settings, sort_keys=True)
        result[name] = changed
    return result


def _refreshers(template: Template) -> list[dict[str, Any]]:
    found = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if isinstance(variables.get(Env.STANDBY_SETTINGS), str):
            found.append(variables)
    return found
