"""The sandbox's film catalogue and how it is split between providers.

The films are the 17,472 rows of the ``omdb`` table shipped in ``bokeh-sampledata`` (real films, CC0). They are
loaded once per process, ordered by their ``ID``, and then dealt out to the sandbox providers by a fixed,
seeded permutation so that every provider sees a realistic mix of years, genres and countries rather than a run
of neighbouring IDs.

The split (**positions in the permutation**, see :data:`REGIONS`)::

    position   0 ...  150 ... 250 ............ 8000 ....... 11000 ....... 14000 ........ 17472
    lumina     [catalogue: first `size` (default 2000, max 6000)][reserve ...]
    harbor     [ shared 0-150 ]                    [ own 8000-11000 )
    meridian           [ shared 100-250 ]                         [ own 11000-14000 )
    atlas                                                                       [ own 14000-end )

* **lumina** (JSON API, films) delivers the first ``size`` films of its region; the rest of the region is the
  *reserve pool* that ``POST /admin/publish`` draws "new" films from, in order.
* **harbor** (CSV drops) and **meridian** (ADI XML) each own a slice no other provider touches, plus a small
  *shared* slice taken from the start of lumina's catalogue: these films are delivered by two (positions
  100-150: three) providers on purpose, so that cross-provider identity (the same EIDR ID from two sources) is
  exercised. The shared slices sit at the very start so they stay inside lumina's catalogue for any lumina
  ``size`` >= 250.
* **atlas** (series) owns the tail; it is reserved for seeding series and never overlaps films.

Two ``imdbID`` values appear on two rows each (a film and its later cut). They land in different regions, so no
single provider delivers the same imdbID twice; across providers they yield the same EIDR ID, which is what a
real registry "duplicate" looks like.

Every film gets a deterministic EIDR ID derived from its imdbID, and lumina items get a deterministic
``updated_at`` stratified over :data:`WINDOW_START` .. :data:`WINDOW_END`, so that at the default size every day
of the window holds data (date-window backfills always find rows).
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vodflow.eidr.ids import format_id

SEED = "vodflow-sandbox"
"""Salt of every hash in the sandbox: change it and every derived value changes."""

WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)
"""First instant an initial catalogue item may carry as ``updated_at``."""

WINDOW_END = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
"""Last instant (inclusive) an initial catalogue item may carry as ``updated_at``."""

LUMINA_DEFAULT_SIZE = 2000
LUMINA_MAX_SIZE = 6000


@dataclass(frozen=True)
class Film:
    """One row of the source table, typed, before any provider renders it.

    Comma-separated source columns are split into tuples; empty strings become empty tuples or ``None`` so that
    renderers never have to guess.
    """

    source_id: int
    imdb_id: str
    title: str
    year: int | None
    rating: str | None
    runtime_min: int | None
    genres: tuple[str, ...]
    directors: tuple[str, ...]
    languages: tuple[str, ...]
    countries: tuple[str, ...]


@dataclass(frozen=True)
class Region:
    """A provider's slice of the permutation: an exclusive range plus an optional shared one."""

    own: range
    shared: range = range(0)


REGIONS: dict[str, Region] = {
    "lumina": Region(own=range(0, 8000)),
    "harbor": Region(own=range(8000, 11000), shared=range(0, 150)),
    "meridian": Region(own=range(11000, 14000), shared=range(100, 250)),
    "atlas": Region(own=range(14000, 17472)),
}
"""Where each provider takes its films from; see the module docstring for the picture."""


@dataclass(frozen=True)
class LuminaSplit:
    """lumina's delivered catalogue and the reserve pool that "publish new" draws from, both in order."""

    catalogue: tuple[Film, ...]
    reserve: tuple[Film, ...]


def stable_fraction(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``: the sandbox's only source of "randomness".

    sha256 rather than ``random`` or ``hash()`` because it is identical across processes, Python versions and
    platforms, which is what makes two fresh servers serve byte-identical pages.
    """
    digest = hashlib.sha256(":".join([SEED, *map(str, parts)]).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def eidr_id(imdb_id: str) -> str:
    """The canonical EIDR ID the sandbox assigns to a film: sha256 of its imdbID, first 20 upper-case hex digits."""
    return format_id(hashlib.sha256(imdb_id.encode()).hexdigest().upper()[:20])


def _split(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


@functools.cache
def load_films() -> tuple[Film, ...]:
    """Every film of the source table, ordered by ``ID``; read once per process and cached."""
    from bokeh_sampledata.movies_data import movie_path

    with sqlite3.connect(f"file:{movie_path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "select ID, imdbID, Title, Year, Rating, Runtime, Genre, Director, Language, Country from omdb order by ID"
        ).fetchall()
    return tuple(
        Film(
            source_id=int(row[0]),
            imdb_id=str(row[1]),
            title=str(row[2]),
            year=None if row[3] is None else int(row[3]),
            rating=row[4] or None,
            runtime_min=None if row[5] is None else int(row[5]),
            genres=_split(row[6]),
            directors=_split(row[7]),
            languages=_split(row[8]),
            countries=_split(row[9]),
        )
        for row in rows
    )


@functools.cache
def permutation() -> tuple[Film, ...]:
    """All films in the seeded order the regions are cut from (by sha256 of the source ID, which is unique)."""
    return tuple(sorted(load_films(), key=lambda film: stable_fraction("permutation", film.source_id)))


def region_films(provider: str) -> tuple[Film, ...]:
    """The films of a provider's region: its shared slice first, then its own, in permutation order.

    Raises:
        KeyError: if ``provider`` has no region.
    """
    region = REGIONS[provider]
    films = permutation()
    return tuple(films[i] for i in region.shared) + tuple(films[i] for i in region.own)


def lumina_split(size: int = LUMINA_DEFAULT_SIZE) -> LuminaSplit:
    """The lumina catalogue (the first ``size`` films of its region) and its reserve (the rest of the region).

    Raises:
        ValueError: if ``size`` is outside 1 .. :data:`LUMINA_MAX_SIZE`.
    """
    if not 1 <= size <= LUMINA_MAX_SIZE:
        raise ValueError(f"lumina size must be between 1 and {LUMINA_MAX_SIZE}, got {size}")
    films = region_films("lumina")
    return LuminaSplit(catalogue=films[:size], reserve=films[size:])


def spread_updated_at(films: Sequence[Film], salt: str) -> dict[int, datetime]:
    """Deterministic ``updated_at`` per source ID, stratified over the window.

    Films are ranked by a hash, and the film of rank ``r`` of ``n`` lands at a hashed point inside the ``r``-th of
    ``n`` equal strata. Unlike independent random draws this leaves no empty day whenever ``n`` exceeds the
    number of days (304), while still looking irregular. Second precision, like most provider APIs.
    """
    span = int((WINDOW_END - WINDOW_START).total_seconds()) + 1
    count = len(films)
    ranked = sorted(films, key=lambda film: stable_fraction(salt, "rank", film.source_id))
    result: dict[int, datetime] = {}
    for rank, film in enumerate(ranked):
        offset = int((rank + stable_fraction(salt, "offset", film.source_id)) * span / count)
        result[film.source_id] = WINDOW_START + timedelta(seconds=min(offset, span - 1))
    return result
