"""Supply-chain events: deliveries, QC verdicts and publications of the assets every provider delivers.

One deterministic stream for the whole sandbox, served by ``GET /events/v1/events`` (provider key ``events`` for
faults, publish, bad items and the request log). Each delivered asset — every lumina film, every atlas
episode, the rows of harbor's default drop and every meridian package, as the sandbox was started — gets a
chain::

    delivered -> qc_passed -> published (1..3 platforms, each its own event)
    delivered -> qc_failed (reason) -> delivered (again) -> qc_passed | qc_failed -> ... -> published

with log-normal lead times whose medians differ per provider (:data:`PROFILES`), at most two QC failures per
asset, and chains starting on every day of 2026-01-01 .. 2026-10-31; events that would fall after the window
are not (yet) there, so some assets are still in QC or unpublished. Realistic delivery problems:

* **duplicates**: ~1% of events are sent twice (same ``event_id``, same payload), the copy minutes to hours
  later in the stream;
* **out of order**: ~2% of events arrive 1 to :data:`MAX_LATENESS_H` hours late, i.e. after events that happened
  later; the stream is in arrival order, so ``occurred_at`` is not monotonic;
* **bad events**: ~1% break the schema on purpose (:class:`EventBadKind`), never duplicated, listed by
  ``GET /admin/bad-items?provider=events``.

Publish (``POST /admin/publish {"provider": "events", "new": N, "changed": M}``): ``new`` appends N new events
occurring now (a re-delivery chain for an existing asset: delivered, qc_failed, delivered, qc_passed,
published, repeated as needed); ``changed`` re-sends M existing (non-bad) events as duplicates.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import statistics
import struct
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vodflow.sandbox import atlas, harbor, meridian
from vodflow.sandbox.catalogue import SEED, WINDOW_END, WINDOW_START, lumina_split, stable_fraction
from vodflow.sandbox.imperfect import Flaw
from vodflow.sandbox.lumina import item_id
from vodflow.sandbox.oplog import Op, OpLogStore
from vodflow.sandbox.store import PublishError, PublishResult

if TYPE_CHECKING:
    from vodflow.sandbox.live import Collapse

PROVIDER = "events"
TYPES = ("delivered", "qc_passed", "qc_failed", "published")
PLATFORMS = ("apple-tv", "prime-video", "google-tv", "roku", "xfinity")
QC_REASONS = (
    "audio loudness above -23 LUFS",
    "missing captions",
    "black frames in the first minute",
    "wrong aspect ratio",
    "checksum mismatch",
    "subtitles out of sync",
)
DUPLICATE_SHARE = 0.01
LATE_SHARE = 0.02
MAX_LATENESS_H = 48
BAD_SHARE = 0.01
MAX_QC_FAILURES = 2
_SIGMA = 0.6  # log-normal spread of every lead time
_NORMAL = statistics.NormalDist()
_QUADS = struct.Struct(">4Q")
_WINDOW_END_TEXT = WINDOW_END.strftime("%Y-%m-%dT%H:%M:%SZ")

Event = dict[str, Any]
"""A rendered event: JSON-ready, keys in contract order."""


@dataclass(frozen=True)
class Profile:
    """A provider's supply-chain behaviour: median lead times (hours) and QC failure rate."""

    qc_median_h: float
    publish_median_h: float
    redeliver_median_h: float
    qc_fail_rate: float


PROFILES: dict[str, Profile] = {
    "lumina": Profile(qc_median_h=6, publish_median_h=18, redeliver_median_h=30, qc_fail_rate=0.08),
    "atlas": Profile(qc_median_h=2, publish_median_h=8, redeliver_median_h=12, qc_fail_rate=0.05),
    "harbor": Profile(qc_median_h=14, publish_median_h=40, redeliver_median_h=72, qc_fail_rate=0.15),
    "meridian": Profile(qc_median_h=30, publish_median_h=60, redeliver_median_h=96, qc_fail_rate=0.10),
}
"""Per-provider medians, so that lead-time marts differ by provider."""


class EventBadKind(StrEnum):
    """The ways a deliberately bad event breaks the schema."""

    UNKNOWN_TYPE = "unknown_type"
    QC_FAILED_WITHOUT_REASON = "qc_failed_without_reason"
    PUBLISHED_WITHOUT_PLATFORM = "published_without_platform"
    NAIVE_OCCURRED_AT = "naive_occurred_at"
    UNKNOWN_PROVIDER = "unknown_provider"


REASONS: dict[EventBadKind, str] = {
    EventBadKind.UNKNOWN_TYPE: "type is 'shipped', not a known event type",
    EventBadKind.QC_FAILED_WITHOUT_REASON: "a qc_failed event with a null reason",
    EventBadKind.PUBLISHED_WITHOUT_PLATFORM: "a published event with a null platform",
    EventBadKind.NAIVE_OCCURRED_AT: "occurred_at has no zone",
    EventBadKind.UNKNOWN_PROVIDER: "provider is 'nebula', not a known provider",
}


@dataclass(frozen=True)
class Asset:
    """An asset a provider delivers, for which the stream holds a chain."""

    provider: str
    provider_asset_id: str


@dataclass(frozen=True)
class Sizes:
    """The catalogue sizes the sandbox was started with: they decide which assets have events."""

    lumina: int
    atlas: int
    meridian: int
    harbor_rows: int

    def to_json(self) -> dict[str, int]:
        """JSON form (saved in the state file)."""
        return {"lumina": self.lumina, "atlas": self.atlas, "meridian": self.meridian, "harbor_rows": self.harbor_rows}


def assets(sizes: Sizes) -> list[Asset]:
    """Every asset with a chain, provider by provider, in catalogue order."""
    result = [Asset("lumina", item_id(film.source_id)) for film in lumina_split(sizes.lumina).catalogue]
    for film in atlas.atlas_split(sizes.atlas)[0]:
        result.extend(Asset("atlas", key) for key in atlas.episode_ids(film))
    result.extend(Asset("harbor", harbor.asset_id(film.source_id)) for film in harbor.drop_films(sizes.harbor_rows))
    result.extend(Asset("meridian", meridian.asset_id(f.source_id)) for f in meridian.meridian_split(sizes.meridian)[0])
    return result


def event_id(*parts: object) -> str:
    """A deterministic UUID (version 4 layout) from ``parts``: sha256 of the sandbox seed and ``parts``."""
    digest = hashlib.sha256(":".join([SEED, PROVIDER, *map(str, parts)]).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def format_timestamp(moment: datetime) -> str:
    """``2026-03-04T05:06:07Z``: UTC, second precision."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def fractions(*parts: object) -> tuple[float, float, float, float]:
    """Four independent deterministic numbers in [0, 1) from one sha256.

    Cheaper than four :func:`~vodflow.sandbox.catalogue.stable_fraction` calls; the stream needs a lot of them.
    """
    digest = hashlib.sha256(":".join([SEED, PROVIDER, *map(str, parts)]).encode()).digest()
    a, b, c, d = _QUADS.unpack(digest)
    return a / 2**64, b / 2**64, c / 2**64, d / 2**64


def lead_time(median_h: float, share: float) -> timedelta:
    """A log-normal lead time (spread :data:`_SIGMA`) with median ``median_h`` hours, at quantile ``share``."""
    share = min(max(share, 1e-6), 1 - 1e-6)
    hours = median_h * math.exp(_SIGMA * _NORMAL.inv_cdf(share))
    return timedelta(seconds=max(60, int(hours * 3600)))


def _event(
    key: str, asset: Asset, kind: str, at: datetime, reason: str | None = None, platform: str | None = None
) -> Event:
    return {
        "event_id": event_id(key),
        "provider": asset.provider,
        "provider_asset_id": asset.provider_asset_id,
        "type": kind,
        "reason": reason,
        "platform": platform,
        "occurred_at": format_timestamp(at),
    }


def chain(
    asset: Asset,
    start: datetime,
    *,
    key: str | None = None,
    until: str = _WINDOW_END_TEXT,
    delivers: Callable[[datetime, int], bool] | None = None,
) -> list[Event]:
    """The events of one asset from its first delivery at ``start``, in the order they occurred.

    Args:
        asset: whose chain it is.
        start: the first delivery.
        key: what event ids and draws derive from (default ``<provider>:<asset id>``: one chain per asset); the
            live days (:mod:`vodflow.sandbox.live`) deliver an asset again under keys of their own.
        until: events after this ``occurred_at`` text are not there (yet).
        delivers: ``delivers(at, attempt)`` false means the delivery due at ``at`` did not happen (a collapsed
            day): the chain stops there, as an asset waiting for its provider.
    """
    profile = PROFILES[asset.provider]
    key = key or f"{asset.provider}:{asset.provider_asset_id}"
    events: list[Event] = []
    at = start
    failures = 0
    attempt = 0
    while True:
        if delivers is not None and not delivers(at, attempt):
            return [event for event in events if event["occurred_at"] <= until]
        events.append(_event(f"{key}:delivered:{attempt}", asset, "delivered", at))
        qc_lead, verdict, reason_share, redeliver_lead = fractions("attempt", key, attempt)
        at += lead_time(profile.qc_median_h, qc_lead)
        fail_rate = profile.qc_fail_rate if failures == 0 else profile.qc_fail_rate / 2
        if failures < MAX_QC_FAILURES and verdict < fail_rate:
            reason = QC_REASONS[int(reason_share * len(QC_REASONS))]
            events.append(_event(f"{key}:qc_failed:{attempt}", asset, "qc_failed", at, reason=reason))
            at += lead_time(profile.redeliver_median_h, redeliver_lead)
            failures += 1
            attempt += 1
            continue
        events.append(_event(f"{key}:qc_passed:{attempt}", asset, "qc_passed", at))
        break
    how_many, first_platform, *leads = fractions("publish", key)
    count = 1 + int(how_many**1.5 * 3)
    first = int(first_platform * len(PLATFORMS))
    published = []
    for n in range(count):
        platform = PLATFORMS[(first + n) % len(PLATFORMS)]
        share = leads[n] if n < len(leads) else fractions("publish-lead", key, platform)[0]
        moment = at + lead_time(profile.publish_median_h, share)
        published.append(_event(f"{key}:published:{platform}", asset, "published", moment, platform=platform))
    events.extend(sorted(published, key=lambda event: event["occurred_at"]))
    return [event for event in events if event["occurred_at"] <= until]


def _starts(keys: Sequence[str]) -> dict[str, datetime]:
    """Chain starts stratified over the window (the catalogue's algorithm, on string keys).

    Every day has some when there are more assets than days.
    """
    span = int((WINDOW_END - WINDOW_START).total_seconds()) + 1
    draws = {key: fractions("start", key) for key in keys}
    ranked = sorted(keys, key=lambda key: draws[key][0])
    count = len(ranked)
    return {
        key: WINDOW_START + timedelta(seconds=int((rank + draws[key][1]) * span / count))
        for rank, key in enumerate(ranked)
    }


def _pick_bad(events: Sequence[Event], duplicated: set[str]) -> dict[str, EventBadKind]:
    """~1% of events, never duplicated ones, each kind on events of a type it fits."""
    eligible = {
        EventBadKind.UNKNOWN_TYPE: [e for e in events if e["type"] == "delivered"],
        EventBadKind.QC_FAILED_WITHOUT_REASON: [e for e in events if e["type"] == "qc_failed"],
        EventBadKind.PUBLISHED_WITHOUT_PLATFORM: [e for e in events if e["type"] == "published"],
        EventBadKind.NAIVE_OCCURRED_AT: [e for e in events if e["type"] == "qc_passed"],
        EventBadKind.UNKNOWN_PROVIDER: [e for e in events if e["type"] == "published"],
    }
    per_kind = max(1, round(len(events) * BAD_SHARE / len(eligible)))
    result: dict[str, EventBadKind] = {}
    for kind, candidates in eligible.items():
        keys = [e["event_id"] for e in candidates if e["event_id"] not in duplicated and e["event_id"] not in result]
        ranked = sorted(keys, key=lambda key: stable_fraction(PROVIDER, "bad", kind.value, key))
        result.update({key: kind for key in ranked[:per_kind]})
    return result


def break_event(event: Event, kind: EventBadKind) -> Event:
    """A copy of ``event`` broken the way ``kind`` says."""
    broken = dict(event)
    if kind is EventBadKind.UNKNOWN_TYPE:
        broken["type"] = "shipped"
    elif kind is EventBadKind.QC_FAILED_WITHOUT_REASON:
        broken["reason"] = None
    elif kind is EventBadKind.PUBLISHED_WITHOUT_PLATFORM:
        broken["platform"] = None
    elif kind is EventBadKind.NAIVE_OCCURRED_AT:
        broken["occurred_at"] = str(event["occurred_at"]).removesuffix("Z")
    elif kind is EventBadKind.UNKNOWN_PROVIDER:
        broken["provider"] = "nebula"
    return broken


@dataclass(frozen=True)
class Stream:
    """The initial stream in arrival order, and what is special about it."""

    events: tuple[Event, ...]
    bad: dict[str, EventBadKind]
    duplicated: frozenset[str]
    late: frozenset[str]


@functools.cache
def initial_stream(sizes: Sizes) -> Stream:
    """The initial stream for a sandbox started with ``sizes`` (cached: events are never mutated in place)."""
    everything = assets(sizes)
    starts = _starts([f"{a.provider}:{a.provider_asset_id}" for a in everything])
    occurred = [e for a in everything for e in chain(a, starts[f"{a.provider}:{a.provider_asset_id}"])]
    arrivals: list[tuple[datetime, str, int, Event]] = []
    duplicated: set[str] = set()
    late: set[str] = set()
    for event in occurred:
        eid = event["event_id"]
        at = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
        share, amount, duplicate, again_share = fractions("arrival", eid)
        if share < LATE_SHARE:
            delay = timedelta(seconds=3600 + int(amount * (MAX_LATENESS_H - 1) * 3600))
            late.add(eid)
        else:
            delay = timedelta(seconds=1 + int(amount * 120))
        arrivals.append((at + delay, eid, 0, event))
        if duplicate < DUPLICATE_SHARE:
            again = timedelta(seconds=60 + int(again_share * 6 * 3600))
            arrivals.append((at + delay + again, eid, 1, event))
            duplicated.add(eid)
    bad = _pick_bad(occurred, duplicated)
    ordered = tuple(
        break_event(event, bad[eid]) if eid in bad else event for _, eid, _, event in sorted(arrivals, key=_arrival)
    )
    return Stream(ordered, bad, frozenset(duplicated), frozenset(late))


def _arrival(row: tuple[datetime, str, int, Event]) -> tuple[datetime, str, int]:
    return row[0], row[1], row[2]


def malform(events: Iterable[Event]) -> list[Event]:
    """Copies of ``events`` with one schema-breaking value each (the ``malformed_rows`` fault).

    Rotates: ``type`` upper case (``"QC_PASSED"``), ``provider`` null, ``provider_asset_id`` a number,
    ``platform`` a list, ``reason`` a number. ``event_id`` and ``occurred_at`` stay intact.
    """
    result = []
    for index, event in enumerate(events):
        broken = dict(event)
        rotation = index % 5
        if rotation == 0:
            broken["type"] = str(event["type"]).upper()
        elif rotation == 1:
            broken["provider"] = None
        elif rotation == 2:
            broken["provider_asset_id"] = 12345
        elif rotation == 3:
            broken["platform"] = [event["platform"] or "roku"]
        else:
            broken["reason"] = 404
        result.append(broken)
    return result


_REPLAY = ("delivered", "qc_failed", "delivered", "qc_passed", "published")


@dataclass(frozen=True)
class LiveDays:
    """What :meth:`EventsStore.add_days` did: the day asked for, its collapse, and its deliveries per provider."""

    day: date
    collapse: Collapse | None
    first: date | None
    added: int
    deliveries: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        """The admin API's answer."""
        return {
            "day": self.day.isoformat(),
            "collapse": None if self.collapse is None else self.collapse.to_json(),
            "first_day": None if self.first is None else self.first.isoformat(),
            "events_added": self.added,
            "deliveries": self.deliveries,
        }


class EventsStore(OpLogStore):
    """The event stream, with publish and persistence (``events.json``); see the module docstring."""

    provider = PROVIDER

    def __init__(
        self, sizes: Sizes, state_dir: Path | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.sizes = sizes
        self._assets = assets(sizes)
        super().__init__(sizes.to_json(), state_dir, clock)

    def _initial(self) -> None:
        stream = initial_stream(self.sizes)
        self._stream = stream
        self._events: list[Event] = list(stream.events)
        self._by_id = {event["event_id"]: event for event in stream.events}
        self._live: dict[date, Collapse | None] = {}
        self._feed_end = WINDOW_END.date()

    def _apply(self, op: Op) -> None:
        if op["op"] == "days":
            self._apply_days(op)
            return
        if op["op"] == "duplicate":
            self._events.append(self._by_id[op["event_id"]])
            return
        asset = Asset(op["provider"], op["provider_asset_id"])
        event = _event(f"published-{op['seq']}-{op['n']}", asset, op["type"], datetime.fromisoformat(op["at"]))
        if op["type"] == "qc_failed":
            event["reason"] = QC_REASONS[int(stable_fraction(PROVIDER, "reason", op["seq"], op["n"]) * len(QC_REASONS))]
        elif op["type"] == "published":
            event["platform"] = PLATFORMS[
                int(stable_fraction(PROVIDER, "platform", op["seq"], op["n"]) * len(PLATFORMS))
            ]
        self._events.append(event)
        self._by_id[event["event_id"]] = event

    def _plan(self, seq: int, stamp: datetime, new: int, changed: int) -> tuple[list[Op], PublishResult]:
        with self._lock:
            candidates = [eid for eid in self._by_id if eid not in self._stream.bad]
            if changed > len(candidates):
                raise PublishError(f"only {len(candidates)} events can be re-sent, {changed} asked")
            at = stamp.replace(microsecond=0).isoformat()
            ops: list[Op] = []
            asset = self._assets[0]
            for n in range(new):
                if n % len(_REPLAY) == 0:
                    pick = stable_fraction(PROVIDER, "publish-asset", seq, n)
                    asset = self._assets[int(pick * len(self._assets))]
                kind = _REPLAY[n % len(_REPLAY)]
                ops.append(
                    {
                        "op": "new",
                        "seq": seq,
                        "n": n,
                        "type": kind,
                        "provider": asset.provider,
                        "provider_asset_id": asset.provider_asset_id,
                        "at": at,
                    }
                )
            chosen = sorted(candidates, key=lambda eid: stable_fraction(PROVIDER, "resend", seq, eid))[:changed]
            ops.extend({"op": "duplicate", "event_id": eid} for eid in chosen)
            new_ids = [event_id(f"published-{seq}-{n}") for n in range(new)]
            return ops, PublishResult(new=new_ids, changed=chosen)

    # -- live days (vodflow.sandbox.live) ------------------------------------------------------------------------

    def _apply_days(self, op: Op) -> None:
        from vodflow.sandbox.live import Collapse, day_end, live_events

        first, last = date.fromisoformat(op["first"]), date.fromisoformat(op["last"])
        after = day_end(self._feed_end)
        for offset in range((last - first).days + 1):
            self._live[first + timedelta(days=offset)] = None
        self._live[last] = None if op["collapse"] is None else Collapse(**op["collapse"])
        added = live_events(self._assets, self._live, after, last)
        self._events.extend(added)
        self._by_id.update((event["event_id"], event) for event in added)
        self._feed_end = last

    def add_days(self, through: date | None = None, collapse: Collapse | None = None) -> LiveDays:
        """Serve live days up to ``through`` (default: yesterday), ``collapse`` on that last day; idempotent.

        The days added are those after the feed's end (at most :data:`~vodflow.sandbox.live.MAX_DAYS`, the
        earlier ones stay empty). Asking again for a day the feed holds, with the same collapse, changes nothing.

        Raises:
            ValueError: ``through`` is in the initial window, or not over yet (today or later), or ``collapse``
                names an unknown provider or a share outside [0, 1).
            PublishError: the feed already served ``through`` otherwise (it cannot be rewritten).
        """
        from vodflow.sandbox.live import FIRST_LIVE_DAY, MAX_DAYS

        with self._lock:
            yesterday = self._clock().astimezone(UTC).date() - timedelta(days=1)
            through = through or yesterday
            if through < FIRST_LIVE_DAY:
                raise ValueError(f"{through} is in the initial window (up to {WINDOW_END.date()}): pick a later day")
            if through > yesterday:
                today = yesterday + timedelta(days=1)
                raise ValueError(f"{through} is not over yet (the sandbox's clock says {today})")
            if collapse is not None and (collapse.provider not in PROFILES or not 0 <= collapse.share < 1):
                raise ValueError(f"collapse: provider one of {sorted(PROFILES)}, share in [0, 1); got {collapse}")
            if through <= self._feed_end:
                held = self._live.get(through)
                if through in self._live and held == collapse:
                    return self._days_result(through, added=0)
                what = "normally" if held is None else f"with {held.provider} at {held.share:g}"
                raise PublishError(
                    f"the feed already served {through} {what}: a served day cannot change; pick a later day"
                )
            first = max(self._feed_end + timedelta(days=1), through - timedelta(days=MAX_DAYS - 1))
            op: Op = {
                "op": "days",
                "first": first.isoformat(),
                "last": through.isoformat(),
                "collapse": None if collapse is None else collapse.to_json(),
            }
            before = len(self._events)
            self._apply(op)
            self._ops.append(op)
            self._save()
            return self._days_result(through, added=len(self._events) - before, first=first)

    def _days_result(self, day: date, *, added: int, first: date | None = None) -> LiveDays:
        from vodflow.sandbox.live import deliveries_on

        return LiveDays(
            day=day,
            collapse=self._live.get(day),
            first=first,
            added=added,
            deliveries=deliveries_on(self._events, day),
        )

    @property
    def feed_end(self) -> date:
        """The last day the feed holds (2026-10-31 until live days are added)."""
        with self._lock:
            return self._feed_end

    # -- queries -----------------------------------------------------------------------------------------------

    def page(self, since: datetime | None, after: int, limit: int) -> tuple[list[Event], int | None]:
        """Up to ``limit`` events with ``occurred_at >= since`` after stream position ``after``, in arrival order.

        ``after`` is -1 for the start of the stream.

        Returns:
            The events (shared: do not mutate them) and, if more follow, the last position looked at (the next
            page starts after it), else ``None``.
        """
        with self._lock:
            floor = None if since is None else format_timestamp(since)

            def matches(event: Event) -> bool:
                return floor is None or _occurred_key(event) >= floor

            selected: list[Event] = []
            position = after + 1
            while position < len(self._events) and len(selected) < limit:
                if matches(self._events[position]):
                    selected.append(self._events[position])
                position += 1
            more = any(matches(event) for event in itertools.islice(self._events, position, None))
            return selected, (position - 1) if more else None

    def events(self) -> list[Event]:
        """The whole stream now, in arrival order (shared dicts)."""
        with self._lock:
            return list(self._events)

    def bad_items(self) -> list[Flaw]:
        """The deliberately bad events (published events are never bad)."""
        return sorted(
            (Flaw(eid, kind.value, REASONS[kind]) for eid, kind in self._stream.bad.items()), key=lambda f: f.id
        )

    @property
    def stream(self) -> Stream:
        """The initial stream and its duplicates, late and bad events (for tests)."""
        return self._stream


def _occurred_key(event: Event) -> str:
    # a naive occurred_at (a deliberately bad event) compares as if it were UTC
    text = str(event["occurred_at"])
    return text if text.endswith("Z") else text + "Z"
