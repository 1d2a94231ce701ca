"""Progress reporting for ``up`` and ``down``, kept out of the stack logic so the CLI decides how it looks."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


class Reporter(Protocol):
    """Receives one begin and one end (or failure) per component step."""

    def begin(self, component: str, action: str) -> None:
        """A step starts (e.g. ``prefect-server``, ``starting``)."""

    def end(self, component: str, outcome: str, seconds: float) -> None:
        """A step finished with ``outcome`` (e.g. ``started, pid 123``) after ``seconds``."""

    def fail(self, component: str, seconds: float) -> None:
        """A step raised after ``seconds``; the error itself is reported by the caller."""


class NullReporter:
    """Reports nothing: for callers that only want the result."""

    def begin(self, component: str, action: str) -> None:
        """Ignore."""

    def end(self, component: str, outcome: str, seconds: float) -> None:
        """Ignore."""

    def fail(self, component: str, seconds: float) -> None:
        """Ignore."""


@dataclass
class Step:
    """A step in progress; the body sets ``outcome`` to what it did."""

    component: str
    outcome: str = "done"
    seconds: float = 0.0


@contextlib.contextmanager
def step(reporter: Reporter, component: str, action: str) -> Iterator[Step]:
    """Time one step and report its begin and end (or failure) to ``reporter``."""
    current = Step(component)
    started = time.monotonic()
    reporter.begin(component, action)
    try:
        yield current
    except BaseException:
        reporter.fail(component, time.monotonic() - started)
        raise
    current.seconds = time.monotonic() - started
    reporter.end(component, current.outcome, current.seconds)
