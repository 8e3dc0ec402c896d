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
