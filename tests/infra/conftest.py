"""The static gates' synthesis: each gate config synthesized once per test session."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

from tests.conftest import REPO_ROOT
from tests.infra.template_arns import PLACEHOLDER_ACCOUNT, StackTemplate

# The configs every gate runs on: the shipped example, and one with every optional
# section turned on (so each construct an option adds is synthesized and checked).
GATE_CONFIGS = {
    "example": REPO_ROOT / "config" / "example.yaml",
    "all-options": REPO_ROOT / "config" / "all-options.yaml",
}


@dataclass
class GateSynthesis:
    """Synthesizes a gate config the first time a test asks for it, then keeps it."""

    _stacks: dict[str, list[StackTemplate]] = field(default_factory=dict)

    def stacks(self, config: str) -> list[StackTemplate]:
        if config not in self._stacks:
            self._stacks[config] = _synthesize(config)
        return self._stacks[config]

    def all_stacks(self) -> list[StackTemplate]:
        return [stack for config in GATE_CONFIGS for stack in self.stacks(config)]


def _synthesize(config: str) -> list[StackTemplate]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from stacks.app_builder import build_app
    from stacks.config import load_config

    loaded = load_config(GATE_CONFIGS[config])
    app, _ = build_app(loaded)
    return [
        StackTemplate(
            config=config,
            stack=artifact.stack_name,
            region=artifact.environment.region,
            account=loaded.account or PLACEHOLDER_ACCOUNT,
            template=artifact.template,
        )
        for artifact in app.synth().stacks
    ]


@pytest.fixture(scope="session")
def gate_synthesis() -> GateSynthesis:
    return GateSynthesis()
