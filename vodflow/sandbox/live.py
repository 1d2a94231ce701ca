"""Live days of the supply-chain feed: deliveries after the initial window, and a provider's collapse on one day.

The initial stream ends on 2026-10-31, so on a later date every provider seems to have stopped delivering, and an
anomaly check has nothing normal to compare a day with. ``POST /admin/events/days`` appends *live days* to the
stream (through a complete day, by default yesterday): every provider delivers again, on a weekly rhythm, and on
the last day one provider may deliver only a share of its usual volume (the collapse the anomaly demo detects).

Why the live days are busier than the window (:data:`LIVE_RATES`, ~10x): the detector's spread for a count is
at least ``sqrt(expected)`` (Poisson), estimated from two points per weekday it comes out near twice that, and
it wants three of them below the expected value. A drop to 10 % is therefore reliably visible only from ~70
deliveries a day (measured over 28 days x 4 providers: tests/sandbox/test_live.py); the window's 2 to 16 a day
could never show one.

Everything is a pure function of the live days and their collapses (hashes of the sandbox seed, never
``random``): the same calls give the same events, and a restarted sandbox replays them from its state file.
Live days carry no duplicates, late or bad events: a collapse is the only thing wrong with them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from vodflow.sandbox.catalogue import WINDOW_END
from vodflow.sandbox.events import PROFILES, Asset, Event, chain, format_timestamp, fractions

LIVE_RATES: dict[str, int] = {"lumina": 100, "atlas": 140, "harbor": 80, "meridian": 100}
"""Mean first deliveries per provider on a weekday of the live days."""
WEEKEND_FACTOR = 0.8
"""Saturdays and Sundays deliver this share of a weekday: a rhythm the detector's weekday seasonality follows."""
MAX_DAYS = 21
"""At most this many live days are added up to the requested day: the detector's 14 training days, after a week
in which re-deliveries (QC failure, then days to re-deliver) reach their usual level."""
DEFAULT_SHARE = 0.1
FIRST_LIVE_DAY = WINDOW_END.date() + timedelta(days=1)
_NORMAL = statistics.NormalDist()


@dataclass(frozen=True)
class Collapse:
    """A provider delivering only ``share`` of its usual volume on one day (first deliveries and re-deliveries)."""

    provider: str
    share: float

    def to_json(self) -> dict[str, str | float]:
        """JSON form (state file, admin answers)."""
        return {"provider": self.provider, "share": self.share}


def day_end(day: date) -> datetime:
    """The last second of ``day`` (UTC): events up to it are served once the feed holds ``day``."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def expected_chains(provider: str, day: date) -> float:
    """The mean number of first deliveries ``provider`` makes on ``day`` (weekday rhythm)."""
    return LIVE_RATES[provider] * (WEEKEND_FACTOR if day.weekday() >= 5 else 1.0)


def chains_started(provider: str, day: date, collapse: Collapse | None = None) -> int:
    """First deliveries of ``provider`` on ``day``: Poisson-like around :func:`expected_chains`, deterministic.

    On a collapsed day the provider makes ``share`` of them (rounded).
    """
    mean = expected_chains(provider, day)
    draw = min(max(fractions("live-count", provider, day.isoformat())[0], 1e-6), 1 - 1e-6)
    count = max(0, round(mean + math.sqrt(mean) * _NORMAL.inv_cdf(draw)))
    if collapse is not None and collapse.provider == provider:
        count = round(count * collapse.share)
    return count


def _asset(provider_assets: Sequence[Asset], provider: str, day: date, n: int) -> Asset:
    """The n-th asset delivered that day: the catalogue in turn, so an asset is rarely re-delivered mid-chain."""
    stride = 2 * LIVE_RATES[provider]
    offset = (day - FIRST_LIVE_DAY).days * stride + n
    return provider_assets[offset % len(provider_assets)]


def live_events(
    assets: Sequence[Asset], days: Mapping[date, Collapse | None], after: datetime, through: date
) -> list[Event]:
    """The events of the live ``days`` that occurred after ``after`` and by the end of ``through``, in time order.

    Chains started on earlier live days go on into later ones, so ``after`` is where the feed stood before.

    Args:
        assets: every asset with a chain (:func:`vodflow.sandbox.events.assets`); live deliveries rotate over them.
        days: every live day so far, each with its collapse or ``None``.
        after: exclusive lower bound on ``occurred_at`` (the end of the day the feed held before).
        through: the last day served.
    """
    by_provider: dict[str, list[Asset]] = {}
    for asset in assets:
        by_provider.setdefault(asset.provider, []).append(asset)
    lower, until = format_timestamp(after), format_timestamp(day_end(through))
    found: list[Event] = []
    for day, collapse in sorted(days.items()):
        for provider in PROFILES:
            pool = by_provider.get(provider)
            if not pool:
                continue
            for n in range(chains_started(provider, day, collapse)):
                key = f"live:{day.isoformat()}:{provider}:{n}"
                offset = fractions("live-start", key)[0]
                start = datetime.combine(day, time(), tzinfo=UTC) + timedelta(seconds=int(offset * 86400))
                events = chain(
                    _asset(pool, provider, day, n),
                    start,
                    key=key,
                    until=until,
                    delivers=_Redeliveries(provider, key, days),
                )
                found.extend(event for event in events if event["occurred_at"] > lower)
    found.sort(key=lambda event: (event["occurred_at"], event["event_id"]))
    return found


@dataclass(frozen=True)
class _Redeliveries:
    """Whether a re-delivery happens: on a collapsed day only ``share`` of them do (the chain waits otherwise)."""

    provider: str
    key: str
    days: Mapping[date, Collapse | None]

    def __call__(self, at: datetime, attempt: int) -> bool:
        if attempt == 0:  # first deliveries of a collapsed day are already counted down by chains_started
            return True
        collapse = self.days.get(at.astimezone(UTC).date())
        if collapse is None or collapse.provider != self.provider:
            return True
        return fractions("live-redelivery", self.key, attempt)[0] < collapse.share


def deliveries_on(events: Sequence[Event], day: date) -> dict[str, int]:
    """Delivered events per provider on ``day`` (what ``marts.metrics_daily.deliveries`` will count)."""
    prefix = day.isoformat()
    counts = dict.fromkeys(PROFILES, 0)
    for event in events:
        if event["type"] == "delivered" and str(event["occurred_at"]).startswith(prefix):
            counts[event["provider"]] = counts.get(event["provider"], 0) + 1
    return counts
