"""Fault injection: a queue of failures the sandbox plays on provider requests, so clients prove their retries.

A fault is queued by ``POST /admin/faults`` and consumed by matching provider requests, oldest fault first:
``times`` requests are affected (``-1``: until ``DELETE /admin/faults``), optionally only those for one ``page``.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

MAX_DELAY_S = 60.0
"""A ``slow`` fault sleeps at most this long, so a forgotten fault cannot pin server threads for ever."""

HTTP_DATE = "http-date"


class FaultKind(StrEnum):
    """What the sandbox does to an affected request."""

    TOO_MANY_REQUESTS = "429"
    """429 with ``Retry-After`` (seconds, or an HTTP-date about 2 s ahead)."""
    INTERNAL_ERROR = "500"
    """500 with a JSON error body."""
    UNAVAILABLE = "503"
    """503 with a JSON error body (and ``Retry-After`` if ``retry_after`` was given)."""
    SLOW = "slow"
    """Sleep ``delay_s`` seconds, then answer normally."""
    TRUNCATED = "truncated"
    """200 whose JSON body is cut in half (``Content-Length`` matches the cut body)."""
    HTML = "html"
    """200 with a ``text/html`` maintenance page."""
    RESET = "reset"
    """Close the socket (TCP reset) without answering."""
    MALFORMED_ROWS = "malformed_rows"
    """200 whose items carry schema-breaking values."""
    SHIFT = "shift"
    """lumina only: the item just before the requested range is updated now (it moves to the end of the paging
    order), so every later item moves one place up: the first item of page 2 is now the last of page 1, which a
    client paging by page number has already read. What a catalogue edited while it is being paged does."""
    HOSTILE_ROWS = "hostile_rows"
    """200 whose items' titles are hostile text in turn: SQL, NUL, escapes, bidi, a megabyte (``hostile.py``)."""
    INVALID_UTF8 = "invalid_utf8"
    """200 whose JSON body holds bytes that are not UTF-8 in the first item's title (``hostile.py``)."""
    NESTING_BOMB = "nesting_bomb"
    """200 whose JSON body is 100,000 nested arrays (``hostile.py``)."""


@dataclass(frozen=True)
class Fault:
    """One queued fault; ``times`` is what remains (``-1``: unlimited)."""

    id: int
    provider: str
    kind: FaultKind
    times: int = 1
    page: int | None = None
    retry_after: int | str | None = None
    delay_s: float = 1.0
    skip: int = 0
    """Matching requests let through untouched before the fault acts (``skip: 1``: the second request)."""

    def to_json(self) -> dict[str, Any]:
        """JSON form, as listed by ``GET /admin/faults``."""
        data = asdict(self)
        data["kind"] = self.kind.value
        return data


def _int_field(body: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{name} must be an integer")
    return value


def parse_fault(body: Mapping[str, Any], providers: Collection[str]) -> Fault:
    """Validate a ``POST /admin/faults`` body into a :class:`Fault` (its ``id`` is set when queued).

    Raises:
        ValueError: with a message fit for a 400 answer.
    """
    unknown = set(body) - {"provider", "kind", "times", "page", "retry_after", "delay_s", "skip"}
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    provider = body.get("provider")
    if provider not in providers:
        raise ValueError(f"provider must be one of {sorted(providers)}")
    try:
        kind = FaultKind(str(body.get("kind")))
    except ValueError:
        raise ValueError(f"kind must be one of {[k.value for k in FaultKind]}") from None
    times = _int_field(body, "times", 1)
    if times is None or (times < 1 and times != -1):
        raise ValueError("times must be a positive integer, or -1 for until cleared")
    page = _int_field(body, "page", None)
    if page is not None and page < 1:
        raise ValueError("page must be >= 1")
    retry_after = body.get("retry_after")
    if retry_after != HTTP_DATE:
        retry_after = _int_field(body, "retry_after", None)
        if retry_after is not None and retry_after < 0:
            raise ValueError(f"retry_after must be seconds >= 0 or {HTTP_DATE!r}")
    if kind is FaultKind.TOO_MANY_REQUESTS and retry_after is None:
        retry_after = 1
    delay_s = body.get("delay_s", 1.0)
    if isinstance(delay_s, bool) or not isinstance(delay_s, int | float) or not 0 <= delay_s <= MAX_DELAY_S:
        raise ValueError(f"delay_s must be a number of seconds between 0 and {MAX_DELAY_S}")
    skip = _int_field(body, "skip", 0)
    if skip is None or skip < 0:
        raise ValueError("skip must be an integer >= 0")
    if kind is FaultKind.SHIFT and provider != "lumina":
        raise ValueError("a shift fault applies to lumina only (its API pages by page number)")
    return Fault(0, str(provider), kind, times, page, retry_after, float(delay_s), skip)


class FaultQueue:
    """Thread-safe queue of faults; each matching request consumes one use of the oldest matching fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, fault: Fault) -> Fault:
        """Queue ``fault`` and return it with its ID."""
        with self._lock:
            queued = replace(fault, id=self._next_id)
            self._next_id += 1
            self._faults.append(queued)
            return queued

    def take(self, provider: str, page: int | None) -> Fault | None:
        """The fault to apply to a request for ``provider``/``page``, if any, counting one use."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.provider != provider or (fault.page is not None and fault.page != page):
                    continue
                if fault.skip > 0:
                    self._faults[index] = replace(fault, skip=fault.skip - 1)
                    return None
                if fault.times == -1:
                    return fault
                if fault.times == 1:
                    del self._faults[index]
                else:
                    self._faults[index] = replace(fault, times=fault.times - 1)
                return fault
            return None

    def pending(self) -> list[Fault]:
        """The faults still queued, oldest first."""
        with self._lock:
            return list(self._faults)

    def clear(self) -> int:
        """Drop every fault; return how many were queued."""
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count
