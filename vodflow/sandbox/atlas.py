"""The provider "atlas": a JSON API of series documents (series -> seasons -> episodes), token-paged.

Series are invented, deterministically, from atlas's slice of the catalogue (positions 14000 .. 17472, which no
other provider touches): a film's title becomes a series name, its year the year season 1 aired, its genres and
rating the series'; seasons 1..N (N from 1 to 6, skewed low, no season airing after 2026) hold 6..13 weekly
episodes with generated names. One entry is one series document with its seasons and episodes nested, so a
changed episode re-sends its whole series (as real nested APIs do). See ``README.md`` for the shape.

Imperfections: series names go through :mod:`vodflow.sandbox.imperfect` (casing, articles moved, suffixes,
typos, accents stripped); 5% of series have no ``firstAired``; ``language`` is an ISO 639-1 code where one is
known, else an English name; ``eidr`` is null for 30% of series, 70% of seasons and 45% of episodes. About 1% of
episodes break the schema on purpose (:class:`AtlasBadKind`), listed by ``GET /admin/bad-items?provider=atlas``.
"""

from __future__ import annotations

import bisect
import copy
import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from vodflow.eidr.ids import format_id
from vodflow.sandbox.catalogue import Film, region_films, spread_updated_at, stable_fraction
from vodflow.sandbox.imperfect import (
    ALL_IMPERFECTIONS,
    Flaw,
    drops_year,
    imperfect_title,
    language_value,
    pick_bad,
    wrong_check_character,
)
from vodflow.sandbox.oplog import Op, OpLogStore
from vodflow.sandbox.store import PublishError, PublishResult

PROVIDER = "atlas"
ATLAS_DEFAULT_SIZE = 200
ATLAS_MAX_SIZE = 2000
LATEST_SEASON_YEAR = 2026
BAD_SHARE = 0.01

Document = dict[str, Any]
"""A rendered series document: JSON-ready, keys in contract order."""

_TV_RATINGS = {"G": "TV-G", "PG": "TV-PG", "GP": "TV-PG", "M/PG": "TV-PG", "PG-13": "TV-14", "M": "TV-14"}
_TV_RATINGS |= {"R": "TV-MA", "NC-17": "TV-MA", "X": "TV-MA"}
_TV_SCALE = ("TV-Y", "TV-G", "TV-PG", "TV-14", "TV-MA")
_ADJECTIVES = (
    "Long", "Last", "Broken", "Silent", "Hidden", "Lost", "Golden", "Final", "First", "Dark", "Secret", "Empty",
    "Burning", "Quiet", "Open", "Crooked", "Distant", "Bitter", "Wild", "Cold", "Second", "Narrow", "Hollow",
)  # fmt: skip
_NOUNS = (
    "Road", "Promise", "Harbor", "Signal", "Door", "Letter", "Winter", "Garden", "River", "Bridge", "Mirror",
    "Storm", "Night", "Game", "Truth", "Map", "Shadow", "Line", "Call", "Return", "Key", "Circle", "Witness",
    "Crossing", "Inheritance", "Tide", "Ledger", "Orchard", "Frontier", "Verdict",
)  # fmt: skip
_EIDR_NULL = {"series": 0.30, "season": 0.70, "episode": 0.45}


class AtlasBadKind(StrEnum):
    """The ways a deliberately bad atlas episode breaks the schema."""

    EMPTY_NAME = "empty_name"
    NEGATIVE_EPISODE_NUMBER = "negative_episode_number"
    FIRST_AIRED_INVALID = "first_aired_invalid"
    DANGLING_SEASON_ID = "dangling_season_id"
    EIDR_CHECK_CHARACTER = "eidr_check_character"


REASONS: dict[AtlasBadKind, str] = {
    AtlasBadKind.EMPTY_NAME: "episode name is an empty string",
    AtlasBadKind.NEGATIVE_EPISODE_NUMBER: "episodeNumber is negative",
    AtlasBadKind.FIRST_AIRED_INVALID: "firstAired is 31/02/YYYY, not a date",
    AtlasBadKind.DANGLING_SEASON_ID: "seasonId names a season (S99) that does not exist",
    AtlasBadKind.EIDR_CHECK_CHARACTER: "eidr has a wrong check character",
}


# -- identifiers -------------------------------------------------------------------------------------------------


def series_id(source_id: int) -> str:
    """``ATS-014562``: the series invented from the film with that source ID."""
    return f"ATS-{source_id:06d}"


def season_id(series: str, season: int) -> str:
    """``ATS-014562-S02``."""
    return f"{series}-S{season:02d}"


def episode_id(series: str, season: int, episode: int) -> str:
    """``ATS-014562-S02E05``."""
    return f"{series}-S{season:02d}E{episode:02d}"


def canonical_eidr(entity_id: str) -> str:
    """The EIDR ID the sandbox assigns to an atlas series, season or episode (sha256 of ``atlas:<id>``)."""
    return format_id(hashlib.sha256(f"{PROVIDER}:{entity_id}".encode()).hexdigest().upper()[:20])


def format_first_aired(day: date) -> str:
    """``DD/MM/YYYY``, atlas's date format."""
    return day.strftime("%d/%m/%Y")


def to_epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds, atlas's timestamp format (``lastModified``)."""
    return int(moment.timestamp() * 1000)


# -- the catalogue -----------------------------------------------------------------------------------------------


def atlas_split(size: int = ATLAS_DEFAULT_SIZE) -> tuple[tuple[Film, ...], tuple[Film, ...]]:
    """The films seeding the initial series (the first ``size`` of atlas's region) and the reserve.

    Raises:
        ValueError: if ``size`` is outside 1 .. :data:`ATLAS_MAX_SIZE`.
    """
    if not 1 <= size <= ATLAS_MAX_SIZE:
        raise ValueError(f"atlas size must be between 1 and {ATLAS_MAX_SIZE}, got {size}")
    films = region_films(PROVIDER)
    return films[:size], films[size:]


def season_plan(film: Film) -> list[int]:
    """Episode counts of the series invented from ``film``, one per season (seasons air yearly from its year)."""
    wanted = 1 + int(stable_fraction(PROVIDER, "seasons", film.source_id) ** 2 * 6)
    first_year = film.year or 2000
    seasons = max(1, min(wanted, LATEST_SEASON_YEAR - first_year + 1))
    return [6 + int(stable_fraction(PROVIDER, "episodes", film.source_id, s) * 8) for s in range(1, seasons + 1)]


def _season_start(film: Film, season: int) -> date:
    first_year = film.year or 2000
    offset = int(stable_fraction(PROVIDER, "season-start", film.source_id, season) * 181)
    return date(first_year + season - 1, 1, 1) + timedelta(days=offset)


def episode_name(series: str, season: int, episode: int) -> str:
    """A generated episode name: "Pilot" for S01E01, else a phrase from a small vocabulary."""
    if season == 1 and episode == 1:
        return "Pilot"
    key = episode_id(series, season, episode)
    adjective = _ADJECTIVES[int(stable_fraction(PROVIDER, "adj", key) * len(_ADJECTIVES))]
    noun = _NOUNS[int(stable_fraction(PROVIDER, "noun", key) * len(_NOUNS))]
    other = _NOUNS[int(stable_fraction(PROVIDER, "noun2", key) * len(_NOUNS))]
    pattern = int(stable_fraction(PROVIDER, "pattern", key) * 6)
    if pattern == 0:
        return f"The {adjective} {noun}"
    if pattern == 1:
        return f"{noun}s"
    if pattern == 2:
        return f"A {adjective} {noun}"
    if pattern == 3 and other != noun:
        return f"{noun} and {other}"
    if pattern == 4:
        return f"{adjective} {noun}, Part {1 + episode % 2}"
    return f"{adjective} {noun}"


def _episode_seconds(film: Film, key: str) -> int:
    base = min(60, max(22, (film.runtime_min or 90) // 2))
    return (base - 3) * 60 + int(stable_fraction(PROVIDER, "duration", key) * 360)


def _eidr(entity: str, entity_id: str) -> str | None:
    if stable_fraction(PROVIDER, "eidr", entity_id) < _EIDR_NULL[entity]:
        return None
    return canonical_eidr(entity_id)


def tv_rating(film: Film) -> str | None:
    """The series' TV rating, mapped from the film's MPAA rating (null where the source has none)."""
    return None if film.rating is None else _TV_RATINGS.get(film.rating)


def render_episode(film: Film, series: str, season: int, number: int, modified_ms: int) -> Document:
    """One episode object (with its parent IDs)."""
    key = episode_id(series, season, number)
    aired = _season_start(film, season) + timedelta(days=7 * (number - 1))
    return {
        "episodeId": key,
        "seasonId": season_id(series, season),
        "seriesId": series,
        "seasonNumber": season,
        "episodeNumber": number,
        "name": episode_name(series, season, number),
        "durationSeconds": _episode_seconds(film, key),
        "firstAired": format_first_aired(aired),
        "eidr": _eidr("episode", key),
        "lastModified": modified_ms,
    }


def _break(episode: Document, kind: AtlasBadKind) -> None:
    if kind is AtlasBadKind.EMPTY_NAME:
        episode["name"] = ""
    elif kind is AtlasBadKind.NEGATIVE_EPISODE_NUMBER:
        episode["episodeNumber"] = -episode["episodeNumber"]
    elif kind is AtlasBadKind.FIRST_AIRED_INVALID:
        episode["firstAired"] = "31/02/" + episode["firstAired"][-4:]
    elif kind is AtlasBadKind.DANGLING_SEASON_ID:
        episode["seasonId"] = season_id(episode["seriesId"], 99)
    elif kind is AtlasBadKind.EIDR_CHECK_CHARACTER:
        episode["eidr"] = wrong_check_character(canonical_eidr(episode["episodeId"]), PROVIDER)


def render_series(film: Film, modified_ms: int, bad: Mapping[str, AtlasBadKind] | None = None) -> Document:
    """The series document invented from ``film``, every entity last modified at ``modified_ms``.

    ``bad`` maps episode IDs to the way they break the schema.
    """
    series = series_id(film.source_id)
    first_aired = None if drops_year(PROVIDER, series) else format_first_aired(_season_start(film, 1))
    seasons = []
    for season, count in enumerate(season_plan(film), start=1):
        episodes = [render_episode(film, series, season, n, modified_ms) for n in range(1, count + 1)]
        for episode in episodes:
            kind = (bad or {}).get(episode["episodeId"])
            if kind is not None:
                _break(episode, kind)
        seasons.append(
            {
                "seasonId": season_id(series, season),
                "seriesId": series,
                "seasonNumber": season,
                "name": f"Season {season}",
                "firstAired": format_first_aired(_season_start(film, season)),
                "eidr": _eidr("season", season_id(series, season)),
                "lastModified": modified_ms,
                "episodes": episodes,
            }
        )
    return {
        "seriesId": series,
        "name": imperfect_title(film.title, PROVIDER, series, ALL_IMPERFECTIONS),
        "originalName": None,
        "genres": list(film.genres),
        "language": language_value(film.languages, PROVIDER, series, code_share=0.9, three_letter_share=0),
        "contentRating": tv_rating(film),
        "eidr": _eidr("series", series),
        "firstAired": first_aired,
        "lastModified": modified_ms,
        "seasons": seasons,
    }


def episode_ids(film: Film) -> list[str]:
    """Every episode ID of the series invented from ``film`` (as initially rendered)."""
    series = series_id(film.source_id)
    return [episode_id(series, s, n) for s, count in enumerate(season_plan(film), 1) for n in range(1, count + 1)]


def catalogue_bad_kinds(films: Iterable[Film]) -> dict[str, AtlasBadKind]:
    """Which episodes of an initial catalogue are broken: ~1%, at least one of each kind."""
    keys = [key for film in films for key in episode_ids(film)]
    return {key: AtlasBadKind(kind) for key, kind in pick_bad(keys, list(AtlasBadKind), PROVIDER, BAD_SHARE).items()}


def published_bad_kinds(film: Film) -> dict[str, AtlasBadKind]:
    """Which episodes of a series published later are broken: a 1% coin toss per episode."""
    kinds = list(AtlasBadKind)
    result = {}
    for key in episode_ids(film):
        if stable_fraction(PROVIDER, "bad-new", key) < BAD_SHARE:
            result[key] = kinds[int(stable_fraction(PROVIDER, "bad-new-kind", key) * len(kinds))]
    return result


def deliberately_bad(size: int = ATLAS_DEFAULT_SIZE) -> list[Flaw]:
    """The deliberately bad episodes of a fresh atlas catalogue of ``size`` series (before any publish)."""
    return _flaws(catalogue_bad_kinds(atlas_split(size)[0]))


def _flaws(kinds: Mapping[str, AtlasBadKind]) -> list[Flaw]:
    return sorted((Flaw(key, kind.value, REASONS[kind]) for key, kind in kinds.items()), key=lambda f: f.id)


@functools.cache
def _initial_documents(size: int) -> tuple[dict[str, Document], dict[str, AtlasBadKind]]:
    catalogue, _ = atlas_split(size)
    stamps = spread_updated_at(catalogue, f"{PROVIDER}-modified")
    bad = catalogue_bad_kinds(catalogue)
    documents = {}
    for film in catalogue:
        millis = int(stable_fraction(PROVIDER, "millis", film.source_id) * 1000)
        documents[series_id(film.source_id)] = render_series(film, to_epoch_ms(stamps[film.source_id]) + millis, bad)
    return documents, bad


def iter_entities(document: Document) -> Iterator[tuple[str, Document]]:
    """``("series" | "season" | "episode", object)`` for a document and everything nested in it."""
    yield "series", document
    for season in document["seasons"]:
        yield "season", season
        for episode in season["episodes"]:
            yield "episode", episode


# -- malformed_rows ----------------------------------------------------------------------------------------------

_MALFORMATIONS: tuple[Callable[[Document], None], ...] = (
    lambda doc: doc.update(name=None),
    lambda doc: doc.update(seasons={"1": doc["seasons"]}),
    lambda doc: doc.update(firstAired="1981-03-14"),
    lambda doc: doc.update(genres=", ".join(doc["genres"]) or "Drama"),
    lambda doc: doc["seasons"][0].update(seasonNumber="S01"),
    lambda doc: doc["seasons"][0]["episodes"][0].update(durationSeconds="45 min"),
)


def malform(documents: Iterable[Document]) -> list[Document]:
    """Copies of ``documents`` with one schema-breaking value each (the ``malformed_rows`` fault).

    Rotates through: null ``name``, ``seasons`` as an object, ``firstAired`` as ISO (not DD/MM/YYYY), ``genres``
    as a string, the first season's ``seasonNumber`` as ``"S01"``, the first episode's ``durationSeconds`` as
    ``"45 min"``. ``seriesId`` and ``lastModified`` stay intact.
    """
    result = []
    for index, document in enumerate(documents):
        broken = copy.deepcopy(document)
        _MALFORMATIONS[index % len(_MALFORMATIONS)](broken)
        result.append(broken)
    return result


# -- the store ---------------------------------------------------------------------------------------------------

_CHANGE_KINDS = ("new_episode", "episode_name", "episode_duration", "content_rating")


class AtlasStore(OpLogStore):
    """The series documents atlas serves, with publish (new series, changes) and persistence (``atlas.json``).

    ``publish(new, changed)``: ``new`` series from the reserve, in order; ``changed`` existing series, chosen by a
    hash of the publish number, each with one change — a new episode appended to its last season, an episode
    renamed, an episode's duration changed, or the series' ``contentRating`` changed. The changed object and
    its document get ``lastModified`` = now; the answer lists series IDs.
    """

    provider = PROVIDER

    def __init__(
        self, size: int = ATLAS_DEFAULT_SIZE, state_dir: Path | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.size = size
        self._catalogue, self._reserve = atlas_split(size)
        self._films = {film.source_id: film for film in (*self._catalogue, *self._reserve)}
        super().__init__({"size": size}, state_dir, clock)

    # -- state -------------------------------------------------------------------------------------------------

    def _initial(self) -> None:
        documents, bad = _initial_documents(self.size)
        self._documents = dict(documents)  # shared with the cache: copied on write (see _change)
        self._bad = dict(bad)
        self._published = 0
        self._index()

    def _index(self) -> None:
        self._sorted = sorted((doc["lastModified"], sid) for sid, doc in self._documents.items())

    def _apply(self, op: Op) -> None:
        millis = int(op["at"])
        if op["op"] == "new":
            film = self._films[int(op["source_id"])]
            bad = published_bad_kinds(film)
            self._bad |= bad
            self._documents[series_id(film.source_id)] = render_series(film, millis, bad)
            self._published += 1
        else:
            self._change(op, millis)
        self._index()

    def _change(self, op: Op, millis: int) -> None:
        document = copy.deepcopy(self._documents[op["series_id"]])
        self._documents[op["series_id"]] = document
        document["lastModified"] = millis
        if op["op"] == "content_rating":
            document["contentRating"] = op["value"]
            return
        season = document["seasons"][-1] if op["op"] == "new_episode" else None
        if season is None:
            episode = next(e for _, e in iter_entities(document) if e.get("episodeId") == op["episode_id"])
            episode[{"episode_name": "name", "episode_duration": "durationSeconds"}[op["op"]]] = op["value"]
            episode["lastModified"] = millis
            return
        film = self._films[int(document["seriesId"][4:])]
        number = max(e["episodeNumber"] for e in season["episodes"]) + 1
        season["episodes"].append(render_episode(film, document["seriesId"], season["seasonNumber"], number, millis))
        season["lastModified"] = millis

    def _plan(self, seq: int, stamp: datetime, new: int, changed: int) -> tuple[list[Op], PublishResult]:
        with self._lock:
            available = len(self._reserve) - self._published
            if new > available:
                raise PublishError(f"the reserve holds {available} more series, {new} asked")
            if changed > len(self._documents):
                raise PublishError(f"only {len(self._documents)} series can change, {changed} asked")
            millis = to_epoch_ms(stamp)
            films = self._reserve[self._published : self._published + new]
            ops: list[Op] = [{"op": "new", "source_id": film.source_id, "at": millis} for film in films]
            chosen = sorted(self._documents, key=lambda sid: stable_fraction(PROVIDER, "change", seq, sid))[:changed]
            ops.extend(self._change_op(self._documents[sid], seq, millis) for sid in sorted(chosen))
            return ops, PublishResult(new=[series_id(film.source_id) for film in films], changed=sorted(chosen))

    def _change_op(self, document: Document, seq: int, millis: int) -> Op:
        sid = document["seriesId"]
        kind = _CHANGE_KINDS[int(stable_fraction(PROVIDER, "change-kind", seq, sid) * len(_CHANGE_KINDS))]
        op: Op = {"op": kind, "series_id": sid, "at": millis}
        if kind == "new_episode":
            return op
        if kind == "content_rating":
            current = document["contentRating"]
            position = _TV_SCALE.index(current) if current in _TV_SCALE else 1
            return op | {"value": _TV_SCALE[(position + 1) % len(_TV_SCALE)]}
        episodes = [e for _, e in iter_entities(document) if "episodeId" in e and e["episodeId"] not in self._bad]
        if not episodes:  # pragma: no cover - every series has 6+ episodes and ~1% are bad
            return op | {"op": "new_episode"}
        episode = episodes[int(stable_fraction(PROVIDER, "change-episode", seq, sid) * len(episodes))]
        op["episode_id"] = episode["episodeId"]
        if kind == "episode_name":
            name = str(episode["name"])
            return op | {"value": name.upper() if name != name.upper() else name.title()}
        return op | {
            "value": int(episode["durationSeconds"]) + 60 + int(stable_fraction(PROVIDER, "dur", seq, sid) * 240)
        }

    # -- queries -----------------------------------------------------------------------------------------------

    def page(self, since_ms: int | None, after: tuple[int, str] | None, limit: int) -> tuple[list[Document], bool]:
        """Documents with ``lastModified >= since_ms`` after the key ``after``, sorted by (lastModified, seriesId).

        Returns:
            Up to ``limit`` documents (JSON-ready, shared with the store: never mutate them) and whether more follow.
        """
        with self._lock:
            rows = self._sorted
            start = 0 if since_ms is None else bisect.bisect_left(rows, (since_ms, ""))
            if after is not None:
                start = max(start, bisect.bisect_right(rows, after))
            selected = rows[start : start + limit]
            documents = [self._documents[sid] for _, sid in selected]
            return documents, start + limit < len(rows)

    def documents(self) -> list[Document]:
        """Every document served now, in paging order (deep copies)."""
        return copy.deepcopy(self.page(None, None, len(self._sorted) or 1)[0])

    def bad_items(self) -> list[Flaw]:
        """The deliberately bad episodes served now (initial catalogue and series published since)."""
        with self._lock:
            return _flaws(self._bad)
