"""How the provider "lumina" renders a film, with the realistic imperfections of a real feed.

The item shape is a **contract** parsed by the lumina extractor and schema; keep it exactly::

    {"id": "LUM-000372", "type": "movie", "title": "We Live in Public", "original_title": null,
     "year": 2009, "runtime_min": 90, "language": "English", "genres": ["Documentary"], "rating": "R",
     "identifiers": {"imdb": "tt0498329", "eidr": "10.5240/XXXX-XXXX-XXXX-XXXX-XXXX-C"},
     "directors": ["Ondi Timoner"], "countries": ["United States"], "updated_at": "2026-03-04T05:06:07Z"}

Imperfections, all deterministic (hashes of the source ID, never ``random``):

* about 40% of items have ``identifiers.eidr`` null: the pipeline must match them against the registry;
* about 5% spell a *valid* EIDR ID sloppily: lower case, ``doi:10.5240/...``, or without the ``10.5240/`` prefix;
* ``year``, ``runtime_min`` and ``rating`` are null where the source is (rating mostly, runtime ~7%; the source
  has a year for every film);
* about 1% of items break the schema on purpose, every :class:`BadKind` present in any catalogue of at least five
  films. :func:`deliberately_bad` lists them with the reason, so tests can assert each one is quarantined.

The ``malformed_rows`` fault (:func:`malform`) is different: it breaks *every* item of one response, transiently.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from vodflow.eidr.ids import PREFIX
from vodflow.sandbox.catalogue import LUMINA_DEFAULT_SIZE, Film, lumina_split, stable_fraction

PROVIDER = "lumina"
ID_PREFIX = "LUM-"
EIDR_NULL_SHARE = 0.40
EIDR_SLOPPY_SHARE = 0.05
BAD_SHARE = 0.01

Item = dict[str, Any]
"""A rendered item: JSON-ready, keys in contract order."""

_CHECK_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class BadKind(StrEnum):
    """The ways a deliberately bad item breaks the schema."""

    EMPTY_TITLE = "empty_title"
    NEGATIVE_RUNTIME = "negative_runtime"
    YEAR_3020 = "year_3020"
    EIDR_CHECK_CHARACTER = "eidr_check_character"
    UNKNOWN_TYPE = "unknown_type"


REASONS: dict[BadKind, str] = {
    BadKind.EMPTY_TITLE: "title is an empty string",
    BadKind.NEGATIVE_RUNTIME: "runtime_min is negative",
    BadKind.YEAR_3020: "year is 3020, in the future",
    BadKind.EIDR_CHECK_CHARACTER: "identifiers.eidr has a wrong check character",
    BadKind.UNKNOWN_TYPE: "type is 'short-film', not a known asset type",
}


@dataclass(frozen=True)
class BadItem:
    """An item the sandbox breaks on purpose, and why; the pipeline must quarantine it."""

    id: str
    kind: BadKind
    reason: str

    def to_json(self) -> dict[str, str]:
        """JSON form used by ``GET /admin/bad-items``."""
        return {"id": self.id, "kind": self.kind.value, "reason": self.reason}


def item_id(source_id: int) -> str:
    """The item ID lumina gives a film: ``LUM-`` and the source ID zero-padded to six digits."""
    return f"{ID_PREFIX}{source_id:06d}"


def format_timestamp(value: datetime) -> str:
    """``2026-03-04T05:06:07Z``: UTC, second precision, the form lumina sends and sorts by."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def catalogue_bad_kinds(films: Sequence[Film]) -> dict[int, BadKind]:
    """Which films of an initial catalogue are broken, and how (source ID to kind).

    A fixed count rather than a per-film coin toss: ~1% of the catalogue but never fewer than one of each kind,
    so that even a 200-film test catalogue exercises every quarantine rule.
    """
    kinds = list(BadKind)
    count = min(len(films), max(len(kinds), round(len(films) * BAD_SHARE)))
    ranked = sorted(films, key=lambda film: stable_fraction(PROVIDER, "bad", film.source_id))
    return {film.source_id: kinds[i % len(kinds)] for i, film in enumerate(ranked[:count])}


def published_bad_kind(film: Film) -> BadKind | None:
    """Whether a film published later (from the reserve) is broken: a 1% coin toss per film."""
    if stable_fraction(PROVIDER, "bad-new", film.source_id) >= BAD_SHARE:
        return None
    kinds = list(BadKind)
    return kinds[int(stable_fraction(PROVIDER, "bad-new-kind", film.source_id) * len(kinds))]


def _wrong_check_character(canonical: str) -> str:
    correct = canonical[-1]
    shift = 1 + int(stable_fraction(PROVIDER, "wrong-check", canonical) * (len(_CHECK_ALPHABET) - 1))
    wrong = _CHECK_ALPHABET[(_CHECK_ALPHABET.index(correct) + shift) % len(_CHECK_ALPHABET)]
    return canonical[:-1] + wrong


def eidr_value(film: Film, canonical: str) -> str | None:
    """The EIDR value lumina sends for a film: null, sloppily spelt, or canonical."""
    share = stable_fraction(PROVIDER, "eidr", film.source_id)
    if share < EIDR_NULL_SHARE:
        return None
    if share < EIDR_NULL_SHARE + EIDR_SLOPPY_SHARE:
        spelling = int(stable_fraction(PROVIDER, "eidr-spelling", film.source_id) * 3)
        if spelling == 0:
            return canonical.lower()
        if spelling == 1:
            return f"doi:{canonical}"
        return canonical[len(PREFIX) :]
    return canonical


def render_item(film: Film, canonical_eidr: str, updated_at: datetime, bad: BadKind | None = None) -> Item:
    """Render one film as a lumina item, with its imperfections and, if ``bad`` is set, its schema break."""
    eidr = eidr_value(film, canonical_eidr)
    item: Item = {
        "id": item_id(film.source_id),
        "type": "movie",
        "title": film.title,
        "original_title": None,
        "year": film.year,
        "runtime_min": film.runtime_min,
        "language": film.languages[0] if film.languages else None,
        "genres": list(film.genres),
        "rating": film.rating,
        "identifiers": {"imdb": film.imdb_id, "eidr": eidr},
        "directors": list(film.directors),
        "countries": list(film.countries),
        "updated_at": format_timestamp(updated_at),
    }
    if bad is BadKind.EMPTY_TITLE:
        item["title"] = ""
    elif bad is BadKind.NEGATIVE_RUNTIME:
        item["runtime_min"] = -(film.runtime_min or 90)
    elif bad is BadKind.YEAR_3020:
        item["year"] = 3020
    elif bad is BadKind.EIDR_CHECK_CHARACTER:
        item["identifiers"]["eidr"] = _wrong_check_character(canonical_eidr)
    elif bad is BadKind.UNKNOWN_TYPE:
        item["type"] = "short-film"
    return item


def bad_items(kinds: Mapping[int, BadKind]) -> list[BadItem]:
    """The :class:`BadItem` list for a source-ID-to-kind mapping, sorted by item ID."""
    return sorted(
        (BadItem(item_id(source_id), kind, REASONS[kind]) for source_id, kind in kinds.items()),
        key=lambda bad: bad.id,
    )


def deliberately_bad(size: int = LUMINA_DEFAULT_SIZE) -> list[BadItem]:
    """The deliberately bad items of a fresh lumina catalogue of ``size`` films (before any publish).

    A running server also knows about films published since: use ``GET /admin/bad-items`` there.
    """
    return bad_items(catalogue_bad_kinds(lumina_split(size).catalogue))


_MALFORMATIONS: tuple[tuple[str, Any], ...] = (
    ("title", None),
    ("runtime_min", "90 min"),
    ("year", "MMIX"),
    ("genres", "Drama, Crime"),
    ("eidr", "not-an-eidr"),
)


def malform(items: Iterable[Item]) -> list[Item]:
    """Copies of ``items`` with one schema-breaking value each (the ``malformed_rows`` fault).

    The breaks rotate through a null title, a string runtime, a non-numeric year, genres as a string and an
    unparseable EIDR ID. ``id`` and ``updated_at`` stay intact so a client can still page and quarantine.
    """
    result = []
    for index, item in enumerate(items):
        broken = copy.deepcopy(item)
        field, value = _MALFORMATIONS[index % len(_MALFORMATIONS)]
        if field == "eidr":
            broken["identifiers"]["eidr"] = value
        else:
            broken[field] = value
        result.append(broken)
    return result
