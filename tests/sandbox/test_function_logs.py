"""A function's output goes to its own log, whatever stream its logging handlers were
made with (sandbox/function_logs.py)."""

from __future__ import annotations

import io
import logging

from sandbox import function_logs


def test_a_handler_made_on_a_since_closed_capture_logs_into_the_functions_log() -> None:
    # A test's captured stdout, closed at its end (a text stream whose flush then raises)
    closed = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    handler = logging.StreamHandler(closed)
    logger = logging.getLogger("hsmdr-test-closed-stream")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    closed.close()
    function_logs.forget("closed-stream-function")
    try:
        with function_logs.captured("closed-stream-function"):
            logger.info("written while the function ran")
    finally:
        logger.removeHandler(handler)
    assert function_logs.lines("closed-stream-function") == ["written while the function ran"]
    assert handler.stream is closed  # given back as it was
