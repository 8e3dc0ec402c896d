"""Shared fixtures. jsii's Node banner is silenced for every test process."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.speedups import (
    demo_speed_compressed,
    polls_end_at_the_next_change,
    shared_sandbox_caches,
)
from tests.synthesis import Synthesized, share_between_workers, synthesis, synthesize_path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SANDBOX_CONFIG = REPO_ROOT / "config" / "sandbox.yaml"
EXAMPLE_CONFIG = REPO_ROOT / "config" / "example.yaml"


# What a test needs that makes it slow: a synthesis of the app (10-20 s the first time
# in a run), or the sandbox running the synthesized stack.
_SLOW_FIXTURES = frozenset({"synthesized", "gate_synthesis"})
_SLOW_DIRECTORIES = (REPO_ROOT / "tests" / "sandbox", REPO_ROOT / "tests" / "infra")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`slow` also goes on every test that asks for a synthesis or lives in tests/sandbox
    or tests/infra, so `-m "not slow"` (make unit) selects the fast tests by itself.

    Modules with a slow test run first, each kept whole (its module fixtures are made
    once): under pytest-xdist the long runs start at once, and the workers that finish
    early share the many short tests left at the end instead of waiting on one long one."""
    slow_modules = set()
    for item in items:
        path = Path(str(item.path))
        if item.get_closest_marker("slow") or (
            _SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            or any(path.is_relative_to(directory) for directory in _SLOW_DIRECTORIES)
        ):
            item.add_marker(pytest.mark.slow)
            slow_modules.add(path)
    items.sort(key=lambda item: Path(str(item.path)) not in slow_modules)


@pytest.fixture(scope="session", autouse=True)
def _run_scoped_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Files a test run writes stay in its own base temporary directory: each xdist
    worker gets its own temporary directory (the sandbox writes fixed names there, such
    as the drill config), and the run's syntheses are shared by its workers."""
    base = tmp_path_factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    share_between_workers((base.parent if worker else base) / "synthesis")
    own = base / "tmp"
    own.mkdir(exist_ok=True)
    saved = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = str(own)
    os.environ["TMPDIR"] = str(own)
    yield
    tempfile.tempdir = saved[0]
    if saved[1] is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved[1]


@pytest.fixture(scope="session", autouse=True)
def _sandbox_caches() -> Iterator[None]:
    """Loads every sandbox repeats for nothing, done once per process (tests/speedups.py)."""
    with shared_sandbox_caches():
        yield


@pytest.fixture(scope="session", autouse=True)
def _one_synthesis_per_config() -> Iterator[None]:
    """The sandbox commands synthesize their config on every run; in the tests they
    share one synthesis per config (tests/synthesis.py)."""
    import sandbox.session

    original = sandbox.session.synthesize
    sandbox.session.synthesize = synthesize_path
    yield
    sandbox.session.synthesize = original


@pytest.fixture(autouse=True)
def _polls_end_at_the_next_change(request: pytest.FixtureRequest) -> Iterator[None]:
    """Workflow polls skip the identical looks between two emulator transitions
    (tests/speedups.py); a test that needs a run to stay busy for the whole poll
    interval says so with @pytest.mark.full_polls."""
    if request.node.get_closest_marker("full_polls"):
        yield
        return
    with polls_end_at_the_next_change():
        yield


def config_data(path: Path = SANDBOX_CONFIG) -> dict[str, Any]:
    """A config file's data, to change and hand to `synthesis`."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def synthesized() -> Synthesized:
    """The app synthesized with the sandbox config (one synthesis for the run)."""
    return synthesis(config_data())


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


@pytest.fixture(autouse=True)
def _demo_speed_compressed(request: pytest.FixtureRequest) -> Iterator[None]:
    """The CLI's sandbox commands run at the demo speed: in the tests on a clock ten
    times faster (tests/speedups.py), unless the test is marked demo_pace."""
    if request.node.get_closest_marker("demo_pace"):
        yield
        return
    with demo_speed_compressed():
        yield
