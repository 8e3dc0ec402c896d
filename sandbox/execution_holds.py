"""Holding a running execution at a known point, so a test (or a scenario) can act while
it is there, whatever the speed of the emulator or the load of the machine.

Every Wait state of the stack's workflows is a CloudHSM poll. While `held_at_a_wait`
is entered, the first Wait that ends with `ready()` true keeps its execution waiting
there (the execution's state, locks and resources exactly as they are) until the
execution is stopped or the caller releases it. `ready` runs in the execution's
thread: it reads the emulated world directly, never through a client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hold:
    held: threading.Event = field(default_factory=threading.Event)  # an execution waits
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


@contextmanager
def held_at_a_wait(ready: Callable[[], bool] = lambda: True) -> Iterator[Hold]:
    """Inside: the first Wait state that ends with `ready()` true sets `hold.held` and
    keeps its execution there until it is stopped or `hold.release()`; on exit every
    held execution is released."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (
        wait_function,
    )

    hold = Hold()
    lock = threading.Lock()
    function = wait_function.WaitFunction
    original: Callable[..., None] = function._wait_interval

    def wait_then_hold(self: Any, env: Any, wait_seconds: int) -> None:
        original(self, env, wait_seconds)
        with lock:
            if hold.held.is_set() or not env.is_running() or not ready():
                return
            hold.held.set()
        while env.is_running() and not hold.released.is_set():
            env.program_state_event.wait(0.05)

    function._wait_interval = wait_then_hold  # type: ignore[method-assign]
    try:
        yield hold
    finally:
        hold.release()
        function._wait_interval = original  # type: ignore[method-assign]
