"""From scored candidates to one of EIDR's three answers: duplicate, potential duplicate, or none.

Rules, in order:

1. No candidate scores at least :data:`LOW`: **none**.
2. The best candidate scores at least :data:`HIGH`, the runner-up (another ID) is at least :data:`MARGIN`
   weaker, and the asset is not a season or episode whose parent is unconfirmed: **duplicate** of the best.
3. Otherwise **potential**: the candidates at or above :data:`LOW` go to review, with the reason: ``ambiguous``
   (a runner-up within the margin), ``below_high`` or ``parent_unconfirmed``.

Why these thresholds, with the weights of :mod:`vodflow.eidr.scoring`: :data:`HIGH` = 0.95 is what an exact
title scores with one more agreeing field (a year one off, or a runtime when the year is unknown) and nothing
against it, and what a one-typo title scores with the same year; a short title alone (0.94) and any
contradiction stay below it. :data:`LOW` = 0.80 keeps out of review a title that is only alike (a similarity
of 0.75 with the same year is another work far more often than a typo) and an exact title with a far year (a
remake), while a reviewer still sees an exact title two years off or a typo with a year one off.
:data:`MARGIN` = 0.10 means two candidates are only told apart by real evidence (a year, a runtime, a
language, a director), never by typo-level differences in similarity: remakes that nothing separates go to
review. A wrong confident match costs more than a review, so every doubt resolves towards potential.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vodflow.eidr.resolver import AssetQuery, Candidate, Via
from vodflow.eidr.scoring import ScoredCandidate, score

HIGH = 0.95
LOW = 0.80
MARGIN = 0.10
MAX_CANDIDATES = 5
"""How many candidates a decision keeps (for review and for the record)."""

_VIA_RANK = {Via.IMDB_ID: 0, Via.TITLE_EXACT: 1, Via.TITLE_FUZZY: 2}


class Outcome(StrEnum):
    """EIDR's answers to a match request."""

    DUPLICATE = "duplicate"
    POTENTIAL = "potential"
    NONE = "none"


class Reason(StrEnum):
    """Why a decision came out as it did (stored next to the outcome)."""

    CONFIDENT = "confident"
    AMBIGUOUS = "ambiguous"
    BELOW_HIGH = "below_high"
    PARENT_UNCONFIRMED = "parent_unconfirmed"
    BELOW_LOW = "below_low"
    NO_CANDIDATE = "no_candidate"


NO_CANDIDATE_METHOD = "no_candidate"


@dataclass(frozen=True)
class MatchDecision:
    """The matcher's answer for one asset: outcome, the assigned ID (duplicates only), score and method."""

    key: str
    outcome: Outcome
    eidr_id: str | None
    score: float
    method: str
    reason: str
    candidates: tuple[ScoredCandidate, ...]

    def candidates_json(self) -> list[dict[str, Any]]:
        """The kept candidates, best first, as JSON-ready dicts."""
        return [candidate.as_json() for candidate in self.candidates]


def merge(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per EIDR ID, keeping the strongest route that found it (IMDb, then exact, then fuzzy)."""
    best: dict[str, Candidate] = {}
    for candidate in candidates:
        seen = best.get(candidate.record.eidr_id)
        if seen is None or _VIA_RANK[candidate.via] < _VIA_RANK[seen.via]:
            best[candidate.record.eidr_id] = candidate
    return list(best.values())


def decide(query: AssetQuery, candidates: Iterable[Candidate]) -> MatchDecision:
    """Score every candidate and apply the rules in the module docstring."""
    ranked = sorted(
        (score(query, candidate) for candidate in merge(candidates)),
        key=lambda scored: (-scored.strength, _VIA_RANK[scored.candidate.via], scored.eidr_id),
    )
    if not ranked:
        return MatchDecision(query.key, Outcome.NONE, None, 0.0, NO_CANDIDATE_METHOD, Reason.NO_CANDIDATE, ())
    best = ranked[0]
    method = best.candidate.via.value
    kept = tuple(scored for scored in ranked[:MAX_CANDIDATES] if scored.score >= LOW)
    if best.score < LOW:
        return MatchDecision(query.key, Outcome.NONE, None, best.score, method, Reason.BELOW_LOW, tuple(ranked[:1]))
    runner_up = ranked[1].strength if len(ranked) > 1 else float("-inf")
    if best.strength - runner_up < MARGIN:
        reason = Reason.AMBIGUOUS
    elif best.score < HIGH:
        reason = Reason.BELOW_HIGH
    elif query.needs_parent and not (query.parent_eidr_id and best.candidate.record.parent_eidr_id):
        reason = Reason.PARENT_UNCONFIRMED
    else:
        return MatchDecision(query.key, Outcome.DUPLICATE, best.eidr_id, best.score, method, Reason.CONFIDENT, kept)
    return MatchDecision(query.key, Outcome.POTENTIAL, None, best.score, method, reason, kept)
