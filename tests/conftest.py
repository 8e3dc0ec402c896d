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

    template: dict[str, Any]
    stack_name: str
    assembly_dir: Path


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
    )
