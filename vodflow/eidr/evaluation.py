"""An evaluation case for the matcher: real film titles with the imperfections real feeds carry, and the truth.

The films are the sandbox's 17,472 real films. A share of them is held out of the registry (:func:`absent_films`)
so that "not in the registry" is tested too, and held out more often where another film has the same title,
because a remake whose twin is missing from the registry is exactly where a matcher assigns a wrong ID with
confidence. Catalogue rows are drawn from all films (remakes over-sampled) and spoilt independently:

==============  =========  ================================================================================
imperfection    share      what happens
==============  =========  ================================================================================
case            25 %       upper case, lower case or title case
accents         50 %       accents stripped (titles that have some)
article_moved   30 %       ``The Matrix`` -> ``Matrix, The`` (titles with a leading article)
suffix          10 %       ``(HD)``, ``[Remastered]``, ``(4K)``, ``[Director's Cut]``, ... appended
typo            10 %       one letter substituted, dropped, doubled or swapped with its neighbour
year_shift       7 %       release year one off
year_missing     5 %       no release year
runtime_jitter  30 %       runtime 1-4 minutes off
runtime_missing 15 %       no runtime (on top of films whose runtime is unknown)
imdb_id         30 %       the row carries the film's IMDb ID
==============  =========  ================================================================================

A few rows carry an EIDR ID: a valid one (expected outcome ``provided``) or one with a wrong check character
(``invalid``). Figures (:func:`evaluate`) are computed over the rows sent to the matcher.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vodflow.eidr.catalogue_csv import CATALOGUE_COLUMNS
from vodflow.eidr.ids import PREFIX, check_character
from vodflow.eidr.titles import strip_accents
from vodflow.sandbox.catalogue import Film, eidr_id, load_films, stable_fraction

ABSENT_SHARE = 0.08
REMAKE_ABSENT_SHARE = 0.30
REMAKE_OVERSAMPLING = 0.15
SHARES = {
    "case": 0.25,
    "accents": 0.50,
    "article_moved": 0.30,
    "suffix": 0.10,
    "typo": 0.10,
    "year_shift": 0.07,
    "year_missing": 0.05,
    "runtime_jitter": 0.30,
    "runtime_missing": 0.15,
    "imdb_id": 0.30,
}
PROVIDED_SHARE = 0.03
INVALID_SHARE = 0.01
SUFFIXES = (" (HD)", " [Remastered]", " (4K)", " [Director's Cut]", " (Uncut)", " [Extended Edition]", " (SD)")
_ARTICLES = ("The ", "A ", "An ")
_KEYBOARD = "qwertyuiop asdfghjkl zxcvbnm"
UPDATED_AT = "2026-11-01T00:00:00+00:00"


@dataclass(frozen=True)
class LabelledRow:
    """A catalogue row (CSV values by column) and what the matcher should answer."""

    values: dict[str, str]
    truth: str | None
    expected: str
    imperfections: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        """The row's provider_asset_id."""
        return self.values["provider_asset_id"]


def remake_groups() -> dict[str, list[Film]]:
    """Films grouped by lower-case title, only titles shared by several films."""
    groups: dict[str, list[Film]] = {}
    for film in load_films():
        groups.setdefault(film.title.casefold(), []).append(film)
    return {title: films for title, films in groups.items() if len(films) > 1}


def absent_films(seed: int = 0) -> frozenset[str]:
    """IMDb IDs held out of the registry: a share of all films, a larger share of films with a same-titled twin."""
    remakes = {film.imdb_id for films in remake_groups().values() for film in films}
    return frozenset(
        film.imdb_id
        for film in load_films()
        if stable_fraction("eval-absent", seed, film.imdb_id)
        < (REMAKE_ABSENT_SHARE if film.imdb_id in remakes else ABSENT_SHARE)
    )


def _typo(title: str, rng: random.Random) -> str:
    letters = [i for i, char in enumerate(title) if char.isalpha()]
    if len(letters) < 2:
        return title
    i = rng.choice(letters[1:])
    char = title[i]
    kind = rng.choice(("substitute", "drop", "double", "swap"))
    if kind == "substitute":
        row = next((part for part in _KEYBOARD.split() if char.lower() in part), "etaoinshr")
        position = row.find(char.lower())
        neighbours = [row[j] for j in (position - 1, position + 1) if 0 <= j < len(row)] or ["e"]
        new = rng.choice(neighbours)
        return title[:i] + (new.upper() if char.isupper() else new) + title[i + 1 :]
    if kind == "drop":
        return title[:i] + title[i + 1 :]
    if kind == "double":
        return title[:i] + char + title[i:]
    j = i + 1 if i + 1 < len(title) else i - 1
    chars = list(title)
    chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def spoil_title(title: str, rng: random.Random, applied: list[str]) -> str:
    """``title`` with the title imperfections drawn for this row; their names are appended to ``applied``."""
    if rng.random() < SHARES["article_moved"]:
        article = next((a for a in _ARTICLES if title.startswith(a) and len(title) > len(a)), None)
        if article is not None:
            title = f"{title[len(article) :]}, {article.strip()}"
            applied.append("article_moved")
    if rng.random() < SHARES["accents"] and strip_accents(title) != title:
        title = strip_accents(title)
        applied.append("accents")
    if rng.random() < SHARES["typo"]:
        spoilt = _typo(title, rng)
        if spoilt != title:
            title = spoilt
            applied.append("typo")
    if rng.random() < SHARES["case"]:
        title = rng.choice((str.upper, str.lower, str.title))(title)
        applied.append("case")
    if rng.random() < SHARES["suffix"]:
        title += rng.choice(SUFFIXES)
        applied.append("suffix")
    return title


def _year(film: Film, rng: random.Random, applied: list[str]) -> str:
    if film.year is None:
        return ""
    if rng.random() < SHARES["year_missing"]:
        applied.append("year_missing")
        return ""
    if rng.random() < SHARES["year_shift"]:
        applied.append("year_shift")
        return str(film.year + rng.choice((-1, 1)))
    return str(film.year)


def _runtime(film: Film, rng: random.Random, applied: list[str]) -> str:
    if film.runtime_min is None:
        return ""
    if rng.random() < SHARES["runtime_missing"]:
        applied.append("runtime_missing")
        return ""
    if rng.random() < SHARES["runtime_jitter"]:
        applied.append("runtime_jitter")
        return str(max(1, film.runtime_min + rng.choice((-4, -3, -2, -1, 1, 2, 3, 4))))
    return str(film.runtime_min)


def _eidr_value(truth: str | None, rng: random.Random, applied: list[str]) -> tuple[str, str | None]:
    """The row's eidr_id value and the outcome it forces (None: the matcher decides)."""
    draw = rng.random()
    if truth is not None and draw < PROVIDED_SHARE:
        applied.append("eidr_provided")
        return truth, "provided"
    if truth is not None and draw < PROVIDED_SHARE + INVALID_SHARE:
        applied.append("eidr_invalid")
        hex20 = truth[len(PREFIX) :].replace("-", "")[:20]
        wrong = next(c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c != check_character(hex20))
        return truth[:-1] + wrong, "invalid"
    return "", None


def catalogue_rows(count: int, *, seed: int = 0, absent: frozenset[str] | None = None) -> Iterator[LabelledRow]:
    """``count`` labelled catalogue rows, deterministic for ``seed``."""
    absent = absent_films(seed) if absent is None else absent
    films = load_films()
    remakes = [film for group in remake_groups().values() for film in group]
    rng = random.Random(f"vodflow-eidr-evaluation:{seed}")  # noqa: S311 - seeded: reproducible, not secret
    for index in range(count):
        film = rng.choice(remakes if rng.random() < REMAKE_OVERSAMPLING else films)
        truth = None if film.imdb_id in absent else eidr_id(film.imdb_id)
        applied: list[str] = []
        title = spoil_title(film.title, rng, applied)
        values = {
            "provider_asset_id": f"EVAL-{index:07d}",
            "asset_type": "movie",
            "title": title,
            "release_year": _year(film, rng, applied),
            "runtime_minutes": _runtime(film, rng, applied),
            "language": film.languages[0] if film.languages else "",
            "genres": "|".join(film.genres),
            "imdb_id": "",
            "eidr_id": "",
            "updated_at": UPDATED_AT,
        }
        if rng.random() < SHARES["imdb_id"]:
            values["imdb_id"] = film.imdb_id
            applied.append("imdb_id")
        values["eidr_id"], forced = _eidr_value(truth, rng, applied)
        expected = forced or ("duplicate" if truth is not None else "none")
        yield LabelledRow(values, truth, expected, tuple(applied))


def write_catalogue(path: Path, rows: Iterable[LabelledRow]) -> int:
    """Write the rows as a catalogue CSV (the harbor contract); returns how many."""
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CATALOGUE_COLUMNS)
        for row in rows:
            writer.writerow([row.values[column] for column in CATALOGUE_COLUMNS])
            written += 1
    return written


@dataclass(frozen=True)
class Figures:
    """How well the matcher did on the rows it was asked about (rows with a provided ID are counted apart)."""

    matched_rows: int
    in_registry: int
    automatic: int
    correct: int
    wrong: int
    potential: int
    none: int
    forced_ok: int
    forced_rows: int
    wrong_by_imperfection: dict[str, int]
    missed_by_imperfection: dict[str, int]

    @property
    def precision(self) -> float:
        """Correct automatic assignments / automatic assignments."""
        return self.correct / self.automatic if self.automatic else 1.0

    @property
    def recall(self) -> float:
        """Correct automatic assignments / rows whose film is in the registry."""
        return self.correct / self.in_registry if self.in_registry else 1.0

    @property
    def review_share(self) -> float:
        """Rows sent to review / rows matched."""
        return self.potential / self.matched_rows if self.matched_rows else 0.0


def evaluate(rows: Iterable[LabelledRow], answers: Mapping[str, tuple[str, str | None]]) -> Figures:
    """Compare ``answers`` (provider_asset_id -> (outcome, eidr_id)) with the truth of ``rows``."""
    counts: Counter[str] = Counter()
    wrong_by: Counter[str] = Counter()
    missed_by: Counter[str] = Counter()
    for row in rows:
        outcome, assigned = answers[row.key]
        if row.expected in ("provided", "invalid"):
            counts["forced_rows"] += 1
            counts["forced_ok"] += outcome == row.expected
            continue
        counts["matched_rows"] += 1
        counts["in_registry"] += row.truth is not None
        counts[outcome] += 1
        if outcome == "duplicate":
            if assigned == row.truth:
                counts["correct"] += 1
            else:
                counts["wrong"] += 1
                wrong_by.update(row.imperfections or ("clean",))
                wrong_by["absent" if row.truth is None else "present"] += 1
        elif row.truth is not None:
            missed_by.update(row.imperfections or ("clean",))
    return Figures(
        matched_rows=counts["matched_rows"],
        in_registry=counts["in_registry"],
        automatic=counts["duplicate"],
        correct=counts["correct"],
        wrong=counts["wrong"],
        potential=counts["potential"],
        none=counts["none"],
        forced_ok=counts["forced_ok"],
        forced_rows=counts["forced_rows"],
        wrong_by_imperfection=dict(wrong_by.most_common()),
        missed_by_imperfection=dict(missed_by.most_common()),
    )
