"""What the DR drill tests share: one synthesis of the drill sandbox config (key
verification deployed) per test run, and the checks every drill must pass."""

from __future__ import annotations

from functools import cache
from typing import Any

from sandbox.drill_scenarios import drill_config
from tests.synthesis import synthesize_path

CLUSTER = "cluster-sandboxprimary"
DR_REGION = "us-west-2"
NOTHING_LEAKED = {"clusters": [], "hsms": [], "rules": []}


@cache
def drill_templates() -> dict[str, dict[str, Any]]:
    """Every stack's template for the drill sandbox config, synthesized once a run."""
    return synthesize_path(drill_config())


def states(report: dict[str, Any]) -> list[str]:
    return [s["state"] for s in report["timeline"]]


def page(report: dict[str, Any]) -> dict[str, Any]:
    """The one message sent to the page topic (not the notify topic) during the drill."""
    pages = [a for a in report["alerts"] if not a["topic"].startswith("AlertingNotify")]
    assert len(pages) == 1, report["alerts"]
    return pages[0]
