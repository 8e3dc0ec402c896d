"""What deployed functions print, kept per function like CloudWatch Logs.

Handlers log to stdout (Powertools' JSON logs, EMF metrics). In the sandbox they run
in this process, so their output is redirected into a per-function log while they
run, instead of landing in the operator's terminal between the report lines.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from typing import Any

_LOCK = threading.Lock()
_LOGS: defaultdict[str, list[str]] = defaultdict(list)  # function name -> log lines
_OWN_BUFFERS: weakref.WeakSet[io.StringIO] = weakref.WeakSet()  # every captured() buffer


@contextmanager
def captured(function_name: str) -> Iterator[io.StringIO]:
    """Send stdout, stderr and logging handlers bound to them into the function's log."""
    buffer = io.StringIO()
    originals = (sys.stdout, sys.stderr)
    # Logging handlers (Powertools' among them) keep the stream they were created with:
    # this process's stdout or stderr, or whatever stood in for them when the handler
    # was made (another function's log, a test's captured output since closed).
    handlers = [
        h
        for logger in [logging.getLogger(), *_loggers()]
        for h in logger.handlers
        if isinstance(h, logging.StreamHandler) and _stands_for_stdout(h.stream, originals)
    ]
    _OWN_BUFFERS.add(buffer)
    saved = [(h, h.stream) for h in handlers]
    for handler in handlers:
        _point(handler, buffer)
    try:
        with redirect_stdout(buffer), redirect_stderr(buffer):
            yield buffer
    finally:
        for handler, stream in saved:
            _point(handler, stream)
        with _LOCK:
            _LOGS[function_name].extend(buffer.getvalue().splitlines())


def _point(handler: logging.StreamHandler[Any], stream: Any) -> None:
    """handler.setStream without its flush of the old stream, which raises when that
    stream is a closed capture (and would fail the function's invocation)."""
    handler.acquire()
    try:
        handler.stream = stream
    finally:
        handler.release()


def _stands_for_stdout(stream: object, originals: tuple[object, ...]) -> bool:
    return (
        stream in originals
        or stream in (sys.__stdout__, sys.__stderr__)
        or stream in _OWN_BUFFERS
        or bool(getattr(stream, "closed", False))
    )


def forget(function_name: str) -> None:
    """Start a fresh log (a new deployment reuses the same function names)."""
    with _LOCK:
        _LOGS.pop(function_name, None)


def lines(function_name: str) -> list[str]:
    with _LOCK:
        return list(_LOGS.get(function_name, ()))


def _loggers() -> list[logging.Logger]:
    return [
        logger
        for logger in list(logging.Logger.manager.loggerDict.values())
        if isinstance(logger, logging.Logger)
    ]
