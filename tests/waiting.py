"""Polling for an outcome that arrives on its own (a run's end, a message, a log line), in one place."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(probe: Callable[[], T], timeout: float, what: str, every: float = 0.2) -> T:
    """Call ``probe`` every ``every`` seconds until it returns something truthy, and return that.

    Raises:
        AssertionError: ``probe`` was still falsy after ``timeout`` seconds; the message names ``what``.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout} s")
        time.sleep(every)
