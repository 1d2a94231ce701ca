"""The sandbox's registry extract: the providers' own films, plus synthetic filler for scale.

Every sandbox film has a deterministic EIDR ID (:func:`vodflow.sandbox.catalogue.eidr_id`); this module writes
those films as a registry extract (the JSON Lines format of :mod:`vodflow.eidr.records`), so matching assets that
arrive without an EIDR ID can be checked against the IDs the providers would have sent. Films sharing an
imdbID (a film and its later cut) share an ID and appear once.

Filler records bring the extract to registry scale (the bench uses a million). They are built from the real
films' title vocabulary, directors, languages and countries, with years skewed towards recent decades and a mix
of referent types (movies, episodes, series, seasons, shorts), so that the trigram search meets the kind of
competition a real registry holds: many titles sharing words with the real ones, a letter or a word away from
them. They never repeat a real title exactly (see :func:`_title`).
Everything is seeded: the same arguments write the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from vodflow.eidr.ids import format_id
from vodflow.eidr.titles import normalise_title
from vodflow.sandbox.catalogue import Film, eidr_id, load_films

_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_REFERENT_TYPES = (("Movie", 0.55), ("Episode", 0.25), ("Series", 0.08), ("Season", 0.07), ("Short", 0.05))
_WORD_COUNTS = ((1, 0.08), (2, 0.32), (3, 0.30), (4, 0.20), (5, 0.06), (6, 0.04))
FILLER_IMDB_BASE = 9_000_000_000
"""Filler IMDb IDs are ``tt9000000000`` and up: ten digits, never a real film's."""


def film_record(film: Film) -> dict[str, Any]:
    """A sandbox film as a registry record (every seventh runtime as a float, as registry durations come)."""
    runtime: float | int | None = film.runtime_min
    if runtime is not None and film.source_id % 7 == 0:
        runtime = float(runtime)
    return {
        "eidr_id": eidr_id(film.imdb_id),
        "referent_type": "Movie",
        "title": film.title,
        "release_year": film.year,
        "runtime_minutes": runtime,
        "directors": list(film.directors),
        "language": film.languages[0] if film.languages else None,
        "country": film.countries[0] if film.countries else None,
        "imdb_id": film.imdb_id,
    }


def film_records(films: Iterable[Film] | None = None, *, exclude: Collection[str] = ()) -> Iterator[dict[str, Any]]:
    """Registry records of ``films`` (default: all sandbox films), one per EIDR ID, skipping imdbIDs in ``exclude``."""
    seen: set[str] = set()
    for film in load_films() if films is None else films:
        if film.imdb_id in exclude:
            continue
        record = film_record(film)
        if record["eidr_id"] not in seen:
            seen.add(record["eidr_id"])
            yield record


@dataclass(frozen=True)
class _Vocabulary:
    words: tuple[str, ...]
    directors: tuple[str, ...]
    languages: tuple[str, ...]
    countries: tuple[str, ...]
    real_titles: frozenset[str]


@cache
def _vocabulary() -> _Vocabulary:
    films = load_films()
    return _Vocabulary(
        words=tuple(sorted({w.capitalize() for film in films for w in _WORD.findall(film.title) if len(w) > 1})),
        directors=tuple(sorted({name for film in films for name in film.directors})),
        languages=tuple(sorted({lang for film in films for lang in film.languages})),
        countries=tuple(sorted({country for film in films for country in film.countries})),
        real_titles=frozenset(normalise_title(film.title) for film in films),
    )


def _title(rng: random.Random, vocabulary: _Vocabulary) -> str:
    """Words from real titles, but never a real film's (normalised) title.

    A random filler record titled like a real film, with a random year, would be a remake that does not exist;
    the real remakes (567 titles shared by several sandbox films) are the same-title cases the matcher is
    measured on.
    """
    while True:
        title = " ".join(rng.choice(vocabulary.words) for _ in range(_pick(rng, _WORD_COUNTS)))
        if normalise_title(title) not in vocabulary.real_titles:
            return title


def _pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def filler_record(index: int, rng: random.Random) -> dict[str, Any]:
    """One synthetic record; its EIDR ID depends on ``index`` only, its content on ``rng``."""
    vocabulary = _vocabulary()
    referent_type = _pick(rng, _REFERENT_TYPES)
    title = f"Season {rng.randint(1, 12)}" if referent_type == "Season" else _title(rng, vocabulary)
    year = max(1910, 2025 - int(abs(rng.gauss(0, 25))))
    runtime: float | None = None
    if referent_type in ("Movie", "Short", "Episode"):
        centre, spread = {"Movie": (100, 20), "Short": (15, 6), "Episode": (40, 12)}[referent_type]
        runtime = max(3.0, round(rng.gauss(centre, spread), rng.choice((0, 0, 0, 1))))
    digest = hashlib.sha256(f"vodflow-filler:{index}".encode()).hexdigest().upper()
    return {
        "eidr_id": format_id(digest[:20]),
        "referent_type": referent_type,
        "title": title,
        "release_year": year if rng.random() > 0.03 else None,
        "runtime_minutes": runtime,
        "directors": [rng.choice(vocabulary.directors)] if referent_type != "Season" and rng.random() < 0.7 else [],
        "language": rng.choice(vocabulary.languages) if rng.random() < 0.8 else None,
        "country": rng.choice(vocabulary.countries) if rng.random() < 0.8 else None,
        "imdb_id": f"tt{FILLER_IMDB_BASE + index}" if rng.random() < 0.3 else None,
    }


def filler_records(count: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` synthetic records, deterministic for a given ``seed``."""
    rng = random.Random(f"vodflow-filler:{seed}")  # noqa: S311 - seeded: reproducible, not secret
    for index in range(count):
        yield filler_record(index, rng)


def write_registry(path: Path, *, total: int | None = None, exclude: Collection[str] = (), seed: int = 0) -> int:
    """Write the sandbox extract to ``path``: the films (minus ``exclude`` imdbIDs), then filler up to ``total``.

    Returns the number of lines written. Streams: memory does not grow with ``total``.
    """
    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in film_records(exclude=exclude):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
        for record in filler_records(max(0, (total or 0) - written), seed=seed):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
    return written
