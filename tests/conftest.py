"""Shared fixtures. jsii's Node banner is silenced for every test process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SANDBOX_CONFIG = REPO_ROOT / "config" / "sandbox.yaml"
EXAMPLE_CONFIG = REPO_ROOT / "config" / "example.yaml"


@dataclass(frozen=True)
class Synthesized:
    """One synthesis of the app with the sandbox config, shared by the session."""

    template: dict[str, Any]  # the main stack's
    stack_name: str
    assembly_dir: Path
    templates: dict[str, dict[str, Any]]  # every stack's, by stack name (main + DR regions)
    regions: dict[str, str]  # stack name -> the region it deploys to


@pytest.fixture(scope="session")
def synthesized() -> Synthesized:
    from stacks.app_builder import build_app
    from stacks.config import load_config

    app, stack = build_app(load_config(SANDBOX_CONFIG))
    assembly = app.synth()
    artifact = assembly.get_stack_by_name(stack.stack_name)
    return Synthesized(
        template=artifact.template,
        stack_name=stack.stack_name,
        assembly_dir=Path(assembly.directory),
        templates={s.stack_name: s.template for s in assembly.stacks},
        regions={s.stack_name: s.environment.region for s in assembly.stacks},
    )


@pytest.fixture(autouse=True)
def _nothing_refused_unexpectedly(request: pytest.FixtureRequest) -> Any:
    """Every sandbox run is also a permission test: a call that IAM, a resource or key
    policy, or a security group refused fails the test that made it, unless the test
    says it expects refusals (@pytest.mark.denials_expected)."""
    from sandbox.permissions.enforcer import every_enforcer

    before = {id(e): (len(e.denials), len(e.network_refusals)) for e in every_enforcer()}
    yield
    if request.node.get_closest_marker("denials_expected"):
        return
    refused = []
    for enforcer in every_enforcer():
        denials, refusals = before.get(id(enforcer), (0, 0))
        refused += [d.message for d in enforcer.denials[denials:]]
        refused += enforcer.network_refusals[refusals:]
    assert not refused, "refused by the sandbox's permission checks:\n" + "\n".join(refused)
