"""Backfill plans: a provider, a date range and a chunk size become a list of windows, or a clear refusal.

Everything here is checked before a single flow run is created, so a mistyped backfill costs nothing: a range
the wrong way round, a chunk larger than the provider's API serves, a provider that has no time windows (file
drops) or a plan of thousands of windows is refused with a message that says what to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from vodflow.providers import INGESTIBLE, UnknownProviderError

#: The largest window each source's API answers in one read (its paging is bounded by it). A chunk larger than
#: this is refused rather than silently split, so the windows a user asked for are the windows that run.
MAX_WINDOW: dict[str, timedelta] = {
    "lumina": timedelta(days=31),
    "atlas": timedelta(days=31),
    "meridian": timedelta(days=7),
    "events": timedelta(days=7),
}

#: Sources with no time window to re-read, and what to do instead.
NOT_BACKFILLABLE: dict[str, str] = {
    "harbor": "harbor delivers CSV files, which have no date window to re-read; drop the files again "
    "(`vodflow ingest harbor --path FILE_OR_DIR`)",
}

#: A plan above this many windows is almost certainly a typo (a year in 1-minute chunks).
MAX_WINDOWS = 1000

#: Attempts looked up per window; a window that failed this often needs a person, not another retry.
MAX_ATTEMPTS = 20
#: The most runs the Prefect server returns for one filter (it answers 422 to a larger ``limit``).
READ_LIMIT = 200

#: Windows of one backfill in flight at once; each provider deployment admits this many runs (prefect.yaml).
MAX_CONCURRENCY = 4

_CHUNK = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class BackfillRequestError(ValueError):
    """A backfill that cannot run as asked; the message says why and what would be accepted."""


@dataclass(frozen=True)
class BackfillWindow:
    """One slice of the range: ``start`` inclusive, ``end`` exclusive, both UTC."""

    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        """``2026-03-01..2026-03-02`` (dates when both ends are midnight), else minutes."""
        return window_label(self.start, self.end)

    def idempotency_base(self, provider: str) -> str:
        """What identifies this window's run across re-runs of the same backfill (attempts are appended)."""
        return f"vodflow-backfill:{provider}:{self.start.isoformat()}:{self.end.isoformat()}"

    def parameters(self) -> dict[str, str | bool]:
        """The provider flow's parameters for this window; dbt runs once after all windows, not per window."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "transform": False}


@dataclass(frozen=True)
class BackfillPlan:
    """A checked backfill: the windows to run and how."""

    provider: str
    start: datetime
    end: datetime
    chunk: timedelta
    windows: tuple[BackfillWindow, ...]
    max_concurrency: int
    full_refresh: bool

    @property
    def label(self) -> str:
        """``lumina/2026-03-01..2026-03-08``: the backfill run's name."""
        return f"{self.provider}/{window_label(self.start, self.end)}"

    def idempotency_base(self) -> str:
        """What identifies this backfill's parent run across re-runs with the same parameters."""
        return (
            f"vodflow-backfill:{self.provider}:{self.start.isoformat()}:{self.end.isoformat()}"
            f":{int(self.chunk.total_seconds())}:{'full-refresh' if self.full_refresh else 'incremental'}"
        )


def attempt_key(base: str, attempt: int) -> str:
    """The idempotency key of one attempt at a window (or a backfill): ``<base>#<attempt>``."""
    return f"{base}#{attempt}"


def as_utc(value: datetime | str) -> datetime:
    """A timezone-aware UTC datetime; a naive one (as typed on a command line) is taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise BackfillRequestError(f"{value!r} is not a date or an ISO 8601 date-time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def window_label(start: datetime, end: datetime) -> str:
    """A window as people read it in the runs list: dates when both ends are midnight UTC, else minutes."""
    start, end = as_utc(start), as_utc(end)
    midnight = all(v.hour == v.minute == v.second == v.microsecond == 0 for v in (start, end))
    fmt = "%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M"
    return f"{start:{fmt}}..{end:{fmt}}"


def parse_chunk(value: str | timedelta) -> timedelta:
    """``30m``, ``6h``, ``1d``, ``2w``, an ISO 8601 duration (``P1D``, ``PT6H``) or a timedelta."""
    if isinstance(value, timedelta):
        chunk = value
    elif match := _CHUNK.match(value):
        chunk = timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
    else:
        try:
            chunk = TypeAdapter(timedelta).validate_python(value.strip())
        except ValidationError:
            raise BackfillRequestError(f"chunk {value!r} is not a duration; use e.g. 30m, 6h, 1d, 2w or P1D") from None
    if chunk <= timedelta(0):
        raise BackfillRequestError(f"chunk must be positive, got {value!r}")
    return chunk


def plan_backfill(
    provider: str,
    start: datetime | str,
    end: datetime | str,
    chunk: str | timedelta = "1d",
    *,
    max_concurrency: int = 2,
    full_refresh: bool = False,
) -> BackfillPlan:
    """Split ``[start, end)`` into chunk-sized windows (the last one shorter if need be), or refuse."""
    if provider not in INGESTIBLE:
        raise UnknownProviderError(provider)
    if provider in NOT_BACKFILLABLE:
        raise BackfillRequestError(NOT_BACKFILLABLE[provider])
    start_utc, end_utc = as_utc(start), as_utc(end)
    if start_utc >= end_utc:
        raise BackfillRequestError(f"start ({start_utc.isoformat()}) must be before end ({end_utc.isoformat()})")
    size = parse_chunk(chunk)
    limit = MAX_WINDOW[provider]
    if size > limit:
        raise BackfillRequestError(
            f"chunk {size} is larger than {provider} serves in one window ({limit}); use a smaller chunk"
        )
    if not 1 <= max_concurrency <= MAX_CONCURRENCY:
        raise BackfillRequestError(f"max_concurrency must be between 1 and {MAX_CONCURRENCY}, got {max_concurrency}")
    count = -(-(end_utc - start_utc) // size)
    if count > MAX_WINDOWS:
        raise BackfillRequestError(
            f"{count} windows of {size} is more than {MAX_WINDOWS}; use a larger chunk or a shorter range"
        )
    windows = []
    cursor = start_utc
    while cursor < end_utc:
        windows.append(BackfillWindow(cursor, min(cursor + size, end_utc)))
        cursor += size
    return BackfillPlan(provider, start_utc, end_utc, size, tuple(windows), max_concurrency, full_refresh)
