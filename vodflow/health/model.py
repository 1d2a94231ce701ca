"""The report's window and the two ways a figure can be missing.

"no data" and "not enough data" are kept apart on purpose: the first is a day or a period in which nothing was
recorded (a gap to look at), the second a provider that has no history yet (nothing to judge). Neither is a zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

NO_DATA = "no data"
NOT_ENOUGH_DATA = "not enough data"


@dataclass(frozen=True)
class Window:
    """The period a report covers: ``days`` UTC days ending on ``as_of``, and the instants that bound it.

    ``end`` is the end of ``as_of`` (midnight after it), or now if that is earlier: every query counts only what
    happened before ``end``, so a report for a past day reads the same whatever was loaded since.
    """

    as_of: date
    days: int
    start: datetime
    end: datetime

    @classmethod
    def ending_on(cls, as_of: date, days: int, now: datetime | None = None) -> Window:
        """The window of ``days`` days ending on ``as_of`` (inclusive)."""
        if days < 1:
            raise ValueError(f"days must be at least 1, not {days}")
        now = (now or datetime.now(UTC)).astimezone(UTC)
        first = as_of - timedelta(days=days - 1)
        start = datetime.combine(first, time(), tzinfo=UTC)
        end = min(datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC), now)
        if end <= start:
            raise ValueError(f"as_of {as_of} is in the future")
        return cls(as_of=as_of, days=days, start=start, end=end)

    @property
    def first_day(self) -> date:
        """The window's first UTC day."""
        return self.start.date()

    @property
    def day_list(self) -> list[date]:
        """Every UTC day of the window, oldest first."""
        return [self.first_day + timedelta(days=n) for n in range(self.days)]

    @property
    def last_day_start(self) -> datetime:
        """Twenty-four hours before ``end``: "the last day" for lag percentiles."""
        return self.end - timedelta(days=1)


@dataclass
class Section:
    """What every section carries besides its figures: whether it could be read, and why not."""

    unavailable: str | None = None
    """Why the section could not be computed (marts not built yet, server unreachable…); None when it could."""
    notes: list[str] = field(default_factory=list)


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile with linear interpolation (PostgreSQL's ``percentile_cont``); None for no values."""
    ordered = sorted(v for v in values if v is not None and not math.isnan(v))
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ratio(part: float | None, whole: float | None) -> float | None:
    """``part / whole``, None when there is no whole (nothing to take a share of is not a 0 % share)."""
    if part is None or not whole:
        return None
    return part / whole
