"""The static gates' synthesis: each gate config synthesized once per test run."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.conftest import REPO_ROOT, config_data
from tests.infra.template_arns import PLACEHOLDER_ACCOUNT, StackTemplate
from tests.synthesis import synthesis

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
    from stacks.config import load_config

    loaded = load_config(GATE_CONFIGS[config])
    app = synthesis(config_data(GATE_CONFIGS[config]))
    return [
        StackTemplate(
            config=config,
            stack=name,
            region=app.regions[name],
            account=loaded.account or PLACEHOLDER_ACCOUNT,
            template=template,
        )
        for name, template in app.templates.items()
    ]


@pytest.fixture(scope="session")
def gate_synthesis() -> GateSynthesis:
    return GateSynthesis()
