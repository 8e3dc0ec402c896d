"""What every sandbox the tests open repeats for nothing, done once per test process.

Each of these is a cache of something that cannot differ between two sandboxes; none
changes what a sandbox deploys or how it behaves:

- botocore's service models: moto hands every `mock_aws` block a new default boto3
  session, and every new session loads the JSON models of each service it makes a
  client for again (seconds per sandbox). The sessions share one loader here, as the
  clients of one session always do.
- moto's check of a state machine definition (a full ASL parse) when it is created:
  a definition already accepted once in this process is accepted again without a
  second parse. Executions still parse their definition as before.
- moto's default AMIs (thousands of EC2 images per region, which the stack never
  uses) are not loaded, as tests/emulator/conftest.py already does.

The rest are of another kind: they shorten waits, so they are applied per test
(tests/conftest.py) and a test can opt out: `polls_end_at_the_next_change` (the
workflows' poll waits and retry intervals), `demo_speed_compressed` (the CLI's demo
speed on a faster clock, the demo's emulated durations unchanged), and `quick_follow`
(the `--follow` loop's poll, for the tests that follow a run).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Every Wait state of the workflows is a poll (stacks/constructs/shared/steps.poll_wait)
# of a few seconds; a longer wait is left alone.
POLL_WAIT_MAX_SECONDS = 10
# Retry intervals (Retry's IntervalSeconds, backoff included) last this share of
# themselves: the same attempts, in the same order, sooner.
RETRY_INTERVAL_SHARE = 0.1
# A poll ends this long after the emulator's next transition is due, so the transition
# has surely happened when the workflow looks.
AFTER_CHANGE_SECONDS = 0.02


@contextmanager
def shared_sandbox_caches() -> Iterator[None]:
    import botocore.session
    from moto.stepfunctions.parser import models

    loaders: dict[Any, Any] = {}
    create_loader: Callable[..., Any] = botocore.session.create_loader

    def shared_loader(search_path_string: Any = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = create_loader(search_path_string)
        return loaders[search_path_string]

    backend = models.StepFunctionsParserBackend
    validate: Callable[[str], None] = backend._validate_definition
    accepted: set[str] = set()

    def validate_once(definition: str) -> None:
        if definition not in accepted:
            validate(definition)  # raises InvalidDefinition as before
            accepted.add(definition)

    saved_amis = os.environ.get("MOTO_EC2_LOAD_DEFAULT_AMIS")
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    botocore.session.create_loader = shared_loader
    backend._validate_definition = staticmethod(validate_once)
    try:
        yield
    finally:
        backend._validate_definition = staticmethod(validate)
        botocore.session.create_loader = create_loader
        if saved_amis is None:
            os.environ.pop("MOTO_EC2_LOAD_DEFAULT_AMIS", None)
        else:
            os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = saved_amis


def seconds_until_next_change() -> float | None:
    """Wall seconds until the next transition of any emulated CloudHSM world (a
    cluster, HSM or backup changing state); None when nothing is pending."""
    from sandbox.emulator import moto_plugin

    soonest: float | None = None
    for world in list(getattr(moto_plugin, "_installed", [])):
        change = world.next_change_in()
        if change is None:
            continue
        left = change.total_seconds()
        soonest = left if soonest is None else min(soonest, left)
    return soonest


@contextmanager
def polls_end_at_the_next_change() -> Iterator[None]:
    """A workflow's poll wait (Wait state of at most POLL_WAIT_MAX_SECONDS) ends just
    after the emulator's next state change when that comes sooner; with nothing
    pending it waits in full.

    Every poll of the workflows reads CloudHSM state, which only changes when the
    emulator's scheduler fires a transition: between two transitions a poll would see
    exactly what the previous one saw. Ending the wait at the next transition skips
    only those identical polls, so a run takes the same path through the same states,
    seconds sooner. Stopping an execution still interrupts the wait. A Retry's
    interval is shortened too (RETRY_INTERVAL_SHARE): the attempts stay the same."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (
        wait_function,
    )

    function = wait_function.WaitFunction
    original: Callable[..., None] = function._wait_interval
    retrier_time = retrier_decl.time

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if not 0 < wait_seconds <= POLL_WAIT_MAX_SECONDS:
            original(self, env, wait_seconds)
            return
        deadline = time.monotonic() + wait_seconds
        while env.is_running():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            change = seconds_until_next_change()
            if change is not None and change + AFTER_CHANGE_SECONDS < remaining:
                env.program_state_event.wait(max(change, 0.0) + AFTER_CHANGE_SECONDS)
                return
            env.program_state_event.wait(remaining)

    function._wait_interval = wait_interval
    retrier_decl.time = _ShorterSleeps()  # type: ignore[assignment]
    try:
        yield
    finally:
        retrier_decl.time = retrier_time
        function._wait_interval = original


class _ShorterSleeps:
    """`time` as moto's retrier sees it: its sleep between attempts is shorter."""

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * RETRY_INTERVAL_SHARE)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# The demo speed in the tests: the demo profile's durations on a clock this many times
# faster than the wall, so emulated durations and the reports' emulated seconds stay
# the demo's.
DEMO_SPEEDUP = 10.0


@contextmanager
def demo_speed_compressed(speedup: float = DEMO_SPEEDUP) -> Iterator[None]:
    """Sandboxes opened at the demo speed (the CLI's default) run the demo profile
    compressed `speedup` times (profile.compressed, as the realistic speed compresses
    AWS's durations): the same emulated durations in a tenth of the wall time. A test
    that needs the demo's wall-clock pace says so with @pytest.mark.demo_pace."""
    from sandbox.emulator import PROFILES, SPEEDS, compressed

    demo = SPEEDS["demo"]
    SPEEDS["demo"] = compressed(PROFILES["demo"], speedup)
    try:
        yield
    finally:
        SPEEDS["demo"] = demo


class _QuickFollowTime:
    """`time` as `hsmdr.workflows` sees it: its follow loop polls every 50 ms instead of
    every 2 s. Only that module's name is rebound; every other sleep of the process
    (the emulator's, the workflows' waits) stays as it is."""

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, 0.05))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def quick_follow(monkeypatch: Any) -> None:
    """For a test that runs `--follow` or `hsmdr follow` against the sandbox (a
    pytest.MonkeyPatch undoes it after the test)."""
    monkeypatch.setattr("hsmdr.workflows.time", _QuickFollowTime())
