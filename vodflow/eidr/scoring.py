"""Score one candidate against one asset: title similarity, corrected by the evidence that separates works.

The score starts from how alike the normalised titles are (1.0 when equal, else rapidfuzz's similarity) and
is then moved by independent pieces of evidence, each recorded so that a reviewer sees why:

=========  =====================================================================================================
IMDb ID    equal: +0.50 (an alternate ID is the strongest evidence a feed carries: with the year it carries a
           title only half alike to confident, a translated title to review); different: -0.30
year       equal: +0.05; one year apart: -0.05; unknown on either side: -0.06 (no evidence at all, so a bit
           worse than a near miss); two apart: -0.15; further: -0.50
runtime    |difference| <= max(3 min, 4.5 %): +0.03 (PAL speed-up alone is 4 %); <= max(8 min, 10 %): -0.03;
           <= 20 min: -0.15 (another cut?); more: -0.30
wording    the same normalised title of three words or more: +0.02, because a long title is seldom reused by
           another work, while "Heat" or "Crush" often is
numbering  the titles carry different numbers (``Part II`` / ``Part III``, ``Volume I`` / ``2``): -0.30, because a
           sequel's title is one typo away from its predecessor's
language   both known and different: -0.06 (feeds may name a dubbed version's language: it only demotes)
directors  a shared name: +0.08; both known and disjoint: -0.30
type       the referent type cannot be the asset's type: the candidate is out (score 0)
parent     both parents known and different: out; equal: +0.05
=========  =====================================================================================================

The recorded score is the sum clipped to [0, 1]; candidates are ranked, and told apart, by the unclipped sum
(``strength``), so that an exact title with a matching IMDb ID still beats an exact title alone.

Why these values, with the thresholds of :mod:`vodflow.eidr.decision` (confident at 0.95): an exact title
with the same year is confident on its own (1.05). Otherwise a short title is never enough alone: it needs one
more field that agrees, a year one off (0.95) or a runtime when the year is unknown (0.97), and nothing
against it; without either it stays in review (0.94), because that is exactly what an absent remake looks
like. A title of three words or more is specific enough to stand with an unknown year (0.96). Any doubt
demotes a match to review: a runtime 5-10 % off, another language, other directors, other sequel numbers. A
title with one typo in ten letters (0.90) is confident with the same year and no contradiction. A year two
off only ever reaches review; three or more, nothing. Where nothing separates two candidates, the margin rule
sends them to review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from vodflow.eidr.resolver import AssetQuery, Candidate
from vodflow.eidr.titles import normalise_name
from vodflow.languages import normalise_language

IMDB_SAME = 0.50
IMDB_DIFFERENT = -0.30
YEAR_EQUAL = 0.05
YEAR_ONE_OFF = -0.05
YEAR_TWO_OFF = -0.15
YEAR_FAR = -0.50
YEAR_UNKNOWN = -0.06
RUNTIME_CLOSE = 0.03
RUNTIME_CLOSE_LIMIT = (3, 0.045)
RUNTIME_NEAR = -0.03
RUNTIME_NEAR_LIMIT = (8, 0.10)
RUNTIME_OFF = -0.15
RUNTIME_OFF_LIMIT = 20
RUNTIME_FAR = -0.30
LANGUAGE_DIFFERENT = -0.06
DIRECTOR_SHARED = 0.08
DIRECTOR_DISJOINT = -0.30
PARENT_SAME = 0.05
DISTINCTIVE_TITLE = 0.02
DISTINCTIVE_WORDS = 3
NUMBERING_DIFFERENT = -0.30
_ROMAN = {
    "i": 1,
    "ii": 2,
    "iii": 3,
    "iv": 4,
    "v": 5,
    "vi": 6,
    "vii": 7,
    "viii": 8,
    "ix": 9,
    "x": 10,
    "xi": 11,
    "xii": 12,
}


@dataclass(frozen=True)
class ScoredCandidate:
    """A candidate with its score and the evidence behind it (component -> contribution)."""

    candidate: Candidate
    strength: float
    evidence: dict[str, float]

    @property
    def score(self) -> float:
        """The strength clipped to [0, 1]: what is recorded and compared with the thresholds."""
        return min(1.0, max(0.0, self.strength))

    @property
    def eidr_id(self) -> str:
        """The candidate's EIDR ID."""
        return self.candidate.record.eidr_id

    def as_json(self) -> dict[str, Any]:
        """The candidate as stored in ``candidates`` (raw.eidr_matches, MATCHES.csv, the review queue)."""
        record = self.candidate.record
        return {
            "eidr_id": record.eidr_id,
            "score": round(self.score, 4),
            "title": record.title,
            "release_year": record.release_year,
            "runtime_minutes": record.runtime_minutes,
            "referent_type": record.referent_type,
            "via": self.candidate.via.value,
            "evidence": {name: round(value, 4) for name, value in self.evidence.items()},
        }


def title_similarity(query: AssetQuery, title_norm: str) -> float:
    """1.0 for equal normalised titles (title or original title), else the best rapidfuzz similarity in [0, 1].

    ``ratio`` catches typos, ``token_sort_ratio`` reordered words; ``token_set_ratio`` is not used because it
    calls "Alien" and "Alien Resurrection" identical.
    """
    if title_norm in (query.title_norm, query.original_title_norm):
        return 1.0
    best = max(fuzz.ratio(query.title_norm, title_norm), fuzz.token_sort_ratio(query.title_norm, title_norm))
    if query.original_title_norm:
        best = max(best, fuzz.ratio(query.original_title_norm, title_norm))
    return best / 100.0


def numbers(title_norm: str) -> frozenset[int]:
    """The numbers a normalised title carries: digits anywhere, Roman numerals after the first word ("I, Robot")."""
    found = set()
    for position, word in enumerate(title_norm.split()):
        if word.isdigit():
            found.add(int(word))
        elif position and word in _ROMAN:
            found.add(_ROMAN[word])
    return frozenset(found)


def _wording(query: AssetQuery, title_norm: str) -> float | None:
    exact = title_norm in (query.title_norm, query.original_title_norm)
    return DISTINCTIVE_TITLE if exact and len(title_norm.split()) >= DISTINCTIVE_WORDS else None


def _numbering(query: AssetQuery, title_norm: str) -> float | None:
    if title_norm in (query.title_norm, query.original_title_norm):
        return None
    return None if numbers(query.title_norm) == numbers(title_norm) else NUMBERING_DIFFERENT


def _year(query: AssetQuery, year: int | None) -> float:
    if query.release_year is None or year is None:
        return YEAR_UNKNOWN
    gap = abs(query.release_year - year)
    return {0: YEAR_EQUAL, 1: YEAR_ONE_OFF, 2: YEAR_TWO_OFF}.get(gap, YEAR_FAR)


def _runtime(query: AssetQuery, runtime: float | None) -> float | None:
    if query.runtime_minutes is None or runtime is None or query.asset_type in ("series", "season"):
        return None
    gap = abs(query.runtime_minutes - runtime)
    longer = max(query.runtime_minutes, runtime)
    if gap <= max(RUNTIME_CLOSE_LIMIT[0], RUNTIME_CLOSE_LIMIT[1] * longer):
        return RUNTIME_CLOSE
    if gap <= max(RUNTIME_NEAR_LIMIT[0], RUNTIME_NEAR_LIMIT[1] * longer):
        return RUNTIME_NEAR
    return RUNTIME_OFF if gap <= RUNTIME_OFF_LIMIT else RUNTIME_FAR


def _language(query: AssetQuery, language: str | None) -> float | None:
    if query.language_code is None or language is None:
        return None
    theirs = {normalise_language(part) for part in language.split(",")}
    return None if query.language_code in theirs else LANGUAGE_DIFFERENT


def _directors(query: AssetQuery, directors: tuple[str, ...]) -> float | None:
    if not query.director_keys or not directors:
        return None
    theirs = {normalise_name(name) for name in directors}
    return DIRECTOR_SHARED if query.director_keys & theirs else DIRECTOR_DISJOINT


def _imdb(query: AssetQuery, imdb_id: str | None) -> float | None:
    if query.imdb_id is None or imdb_id is None:
        return None
    return IMDB_SAME if query.imdb_id == imdb_id else IMDB_DIFFERENT


def _excluded(query: AssetQuery, candidate: Candidate) -> str | None:
    record = candidate.record
    allowed = query.referent_types
    if allowed is not None and record.referent_type is not None and record.referent_type.lower() not in allowed:
        return "type"
    if query.parent_eidr_id and record.parent_eidr_id and query.parent_eidr_id != record.parent_eidr_id:
        return "parent"
    return None


def score(query: AssetQuery, candidate: Candidate) -> ScoredCandidate:
    """Score ``candidate`` for ``query``; see the module docstring for the weights."""
    record = candidate.record
    excluded = _excluded(query, candidate)
    if excluded is not None:
        return ScoredCandidate(candidate, -1.0, {excluded: -1.0})
    evidence: dict[str, float] = {"title": title_similarity(query, record.title_norm)}
    evidence["year"] = _year(query, record.release_year)
    optional = {
        "imdb_id": _imdb(query, record.imdb_id),
        "wording": _wording(query, record.title_norm),
        "numbering": _numbering(query, record.title_norm),
        "runtime": _runtime(query, record.runtime_minutes),
        "language": _language(query, record.language),
        "directors": _directors(query, record.directors),
        "parent": PARENT_SAME if query.parent_eidr_id and query.parent_eidr_id == record.parent_eidr_id else None,
    }
    evidence.update({name: value for name, value in optional.items() if value is not None})
    return ScoredCandidate(candidate, sum(evidence.values()), evidence)
