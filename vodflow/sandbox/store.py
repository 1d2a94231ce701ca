"""lumina's mutable state: the items it serves now, "publish" and "change" operations, and their persistence.

The initial catalogue is a pure function of the size; everything that happens later is an append-only log of
operations (films published from the reserve, field changes) saved as JSON in the state dir. Replaying that log
rebuilds the same items, so a restarted sandbox serves what it served before, and the same sequence of admin
calls always yields the same data (apart from ``updated_at``, which is the wall-clock time of the call).
"""

from __future__ import annotations

import bisect
import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vodflow.sandbox.atomic import replaced_atomically
from vodflow.sandbox.catalogue import WINDOW_END, eidr_id, lumina_split, spread_updated_at, stable_fraction
from vodflow.sandbox.lumina import (
    PROVIDER,
    BadItem,
    BadKind,
    Item,
    bad_items,
    catalogue_bad_kinds,
    item_id,
    published_bad_kind,
    render_item,
)

STATE_VERSION = 1
RATINGS = ("G", "PG", "PG-13", "R", "NC-17")
_CHANGE_FIELDS = ("rating", "runtime_min", "title")


class PublishError(ValueError):
    """A publish request that cannot be honoured (reserve exhausted, too many changes)."""


@dataclass(frozen=True)
class PublishResult:
    """The item IDs a publish call added and changed."""

    new: list[str]
    changed: list[str]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _parse_timestamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def write_json_atomically(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so that a crash leaves either the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path, suffix="") as handle:
        handle.write(json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))


def _next_value(item: Item, field: str, seq: int) -> Any:
    """A visibly different value for ``field``, or ``None`` if this field cannot change visibly."""
    current = item[field]
    if field == "rating":
        return RATINGS[(RATINGS.index(current) + 1) % len(RATINGS)] if current in RATINGS else "PG"
    if field == "runtime_min":
        return 90 if current is None else current + 1 + int(stable_fraction(PROVIDER, "runtime", seq, item["id"]) * 9)
    title = str(current)
    changed = title.upper() if title != title.upper() else title.title()
    return changed if changed != title else None


class LuminaStore:
    """The items lumina serves, thread-safe, optionally persisted under ``state_dir``.

    Args:
        size: number of films in the initial catalogue.
        state_dir: where ``lumina.json`` lives; ``None`` keeps the state in memory only.
        clock: returns "now" (aware datetime); injectable so tests can pin time.
    """

    def __init__(self, size: int, state_dir: Path | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.size = size
        self._clock = clock or _utc_now
        self._lock = threading.RLock()
        self._split = lumina_split(size)
        self._films = {film.source_id: film for film in (*self._split.catalogue, *self._split.reserve)}
        self._base_updated = spread_updated_at(self._split.catalogue, f"{PROVIDER}-updated")
        self._base_bad = catalogue_bad_kinds(self._split.catalogue)
        self._path = None if state_dir is None else Path(state_dir) / f"{PROVIDER}.json"
        self._seq = 0
        self._published: list[dict[str, Any]] = []
        self._changes: list[dict[str, Any]] = []
        self._load()
        self._rebuild()

    # -- persistence -------------------------------------------------------------------------------------------

    def _load(self) -> None:
        if self._path is None or not self._path.exists():
            return
        try:
            state = json.loads(self._path.read_text(encoding="utf-8"))
            version, size = state["version"], state["size"]
            seq, published, changes = state["publish_seq"], state["published"], state["changes"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"unreadable sandbox state file {self._path}: {exc}") from exc
        if version != STATE_VERSION:
            raise ValueError(f"{self._path}: state version {version}, expected {STATE_VERSION}")
        if size != self.size:
            raise ValueError(
                f"{self._path} was written for a lumina catalogue of {size} films, not {self.size}: "
                "use the same size or another state dir"
            )
        self._seq, self._published, self._changes = int(seq), list(published), list(changes)

    def _save(self) -> None:
        if self._path is None:
            return
        write_json_atomically(
            self._path,
            {
                "provider": PROVIDER,
                "version": STATE_VERSION,
                "size": self.size,
                "publish_seq": self._seq,
                "published": self._published,
                "changes": self._changes,
            },
        )

    # -- derived items -----------------------------------------------------------------------------------------

    def _bad_kinds(self) -> dict[int, BadKind]:
        kinds = dict(self._base_bad)
        for entry in self._published:
            kind = published_bad_kind(self._films[entry["source_id"]])
            if kind is not None:
                kinds[entry["source_id"]] = kind
        return kinds

    def _rebuild(self) -> None:
        bad = self._bad_kinds()
        items: dict[str, Item] = {}
        for film in self._split.catalogue:
            items[item_id(film.source_id)] = render_item(
                film, eidr_id(film.imdb_id), self._base_updated[film.source_id], bad.get(film.source_id)
            )
        for entry in self._published:
            film = self._films[entry["source_id"]]
            items[item_id(film.source_id)] = render_item(
                film, eidr_id(film.imdb_id), _parse_timestamp(entry["updated_at"]), bad.get(film.source_id)
            )
        for change in self._changes:
            item = items[change["id"]]
            item[change["field"]] = change["value"]
            item["updated_at"] = change["updated_at"]
        self._items = items
        self._sorted = sorted((_parse_timestamp(i["updated_at"]), i["id"], i) for i in items.values())

    # -- queries -----------------------------------------------------------------------------------------------

    def query(
        self, since: datetime | None, until: datetime | None, page: int, page_size: int
    ) -> tuple[list[Item], bool]:
        """One page of items with ``since <= updated_at < until``, sorted by (updated_at, id).

        Returns:
            The page's items (JSON-ready copies) and whether a further page holds more.
        """
        with self._lock:
            rows = self._sorted
            start = 0 if since is None else bisect.bisect_left(rows, since, key=lambda row: row[0])
            stop = len(rows) if until is None else bisect.bisect_left(rows, until, key=lambda row: row[0])
            first = start + (page - 1) * page_size
            last = min(first + page_size, stop)
            selected = [copy.deepcopy(row[2]) for row in rows[first:last]] if first < stop else []
            return selected, last < stop

    def items(self) -> list[Item]:
        """Every item served now, in paging order (copies)."""
        items, _ = self.query(None, None, 1, len(self._sorted) or 1)
        return items

    def bad_items(self) -> list[BadItem]:
        """The deliberately bad items served now (initial catalogue and published since), sorted by ID."""
        with self._lock:
            return bad_items(self._bad_kinds())

    # -- mutations ---------------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        # A host clock set before the end of the window would put "new" data behind a client's cursor; never
        # publish before the window's end.
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        return max(now, WINDOW_END + timedelta(seconds=1))

    def publish(self, new: int, changed: int) -> PublishResult:
        """Add ``new`` films from the reserve and change ``changed`` existing items, all stamped "now".

        Which items change, and how, is a hash of the publish sequence number and the item ID: deterministic.
        Deliberately bad items are never changed (they stay bad, for the tests that count them).

        Raises:
            PublishError: if the reserve holds fewer than ``new`` films or fewer than ``changed`` items can change.
        """
        with self._lock:
            available = len(self._split.reserve) - len(self._published)
            if new > available:
                raise PublishError(f"the reserve holds {available} more films, {new} asked")
            bad_ids = {bad.id for bad in self.bad_items()}
            candidates = [item_id_ for item_id_ in self._items if item_id_ not in bad_ids]
            if changed > len(candidates):
                raise PublishError(f"only {len(candidates)} items can change, {changed} asked")
            seq = self._seq + 1
            stamp = self._now().strftime("%Y-%m-%dT%H:%M:%SZ")
            chosen = sorted(candidates, key=lambda i: stable_fraction(PROVIDER, "change", seq, i))[:changed]
            for target in sorted(chosen):
                self._changes.append(self._change(self._items[target], seq, stamp))
            films = self._split.reserve[len(self._published) : len(self._published) + new]
            self._published.extend({"source_id": film.source_id, "updated_at": stamp} for film in films)
            self._seq = seq
            self._save()
            self._rebuild()
            return PublishResult(new=[item_id(film.source_id) for film in films], changed=sorted(chosen))

    @staticmethod
    def _change(item: Item, seq: int, stamp: str) -> dict[str, Any]:
        first = int(stable_fraction(PROVIDER, "change-field", seq, item["id"]) * len(_CHANGE_FIELDS))
        for offset in range(len(_CHANGE_FIELDS)):
            field = _CHANGE_FIELDS[(first + offset) % len(_CHANGE_FIELDS)]
            value = _next_value(item, field, seq)
            if value is not None:
                return {"id": item["id"], "field": field, "value": value, "updated_at": stamp}
        raise AssertionError("unreachable: a rating change is always possible")  # pragma: no cover

    def touch_before(self, since: datetime | None, until: datetime | None, page: int, page_size: int) -> str | None:
        """Change the item just before page ``page`` of this query, stamped now; its ID (None if there is none).

        The item moves to the end of the paging order, so the rest of the range moves one place up while a
        client is between pages: the "shift" fault.
        """
        with self._lock:
            rows = self._sorted
            start = 0 if since is None else bisect.bisect_left(rows, since, key=lambda row: row[0])
            first = start + (page - 1) * page_size
            if first <= 0 or first > len(rows):
                return None
            target = rows[first - 1][2]
            seq = self._seq + 1
            self._changes.append(self._change(target, seq, self._now().strftime("%Y-%m-%dT%H:%M:%SZ")))
            self._seq = seq
            self._save()
            self._rebuild()
            return str(target["id"])

    def reset(self) -> None:
        """Back to the initial catalogue: forget every publish and change (also on disk)."""
        with self._lock:
            self._seq, self._published, self._changes = 0, [], []
            self._save()
            self._rebuild()
