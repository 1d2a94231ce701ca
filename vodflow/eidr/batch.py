"""Batch matching of a catalogue CSV against a loaded registry: what ``vodflow eidr match`` runs.

Per row, in order:

* a provider EIDR ID that fails validation: ``invalid`` (the matcher still runs, so the candidates column shows a
  reviewer what the title matches);
* a valid ID the registry holds: ``provided``;
* a valid ID the registry does not hold: the matcher runs, but its answer is capped at ``potential`` with method
  ``provided_not_in_registry``, because assigning another ID would overrule the provider on the strength of a
  registry extract that may simply be older than the provider's data;
* no ID: the matcher's answer (``duplicate``, ``potential`` or ``none``), exactly as the pipeline gives it.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from vodflow.eidr.catalogue_csv import CatalogueRow
from vodflow.eidr.decision import MatchDecision, Outcome
from vodflow.eidr.ids import EidrCheck, check
from vodflow.eidr.matcher import match_queries
from vodflow.eidr.pg_registry import DEFAULT_TABLE, PostgresRegistry
from vodflow.eidr.resolver import AssetQuery

MATCHES_COLUMNS = ("provider_asset_id", "outcome", "eidr_id", "score", "method", "candidates")
PROVIDED = "provided"
INVALID = "invalid"
PROVIDED_NOT_IN_REGISTRY = "provided_not_in_registry"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BatchResult:
    """One output row of MATCHES.csv."""

    provider_asset_id: str
    outcome: str
    eidr_id: str | None
    score: float
    method: str
    candidates: str

    def as_row(self) -> tuple[str, ...]:
        """The row as written (empty string for a missing ID)."""
        return (
            self.provider_asset_id,
            self.outcome,
            self.eidr_id or "",
            f"{self.score:.4f}",
            self.method,
            self.candidates,
        )


def query_for(row: CatalogueRow) -> AssetQuery:
    """The matcher's view of a catalogue row."""
    return AssetQuery(
        key=row.provider_asset_id,
        title=row.title,
        asset_type=row.asset_type,
        release_year=row.release_year,
        runtime_minutes=row.runtime_minutes,
        language=row.language,
        imdb_id=row.imdb_id,
    )


def _json(decision: MatchDecision) -> str:
    return json.dumps(decision.candidates_json(), ensure_ascii=False, separators=(",", ":"))


def _result(row: CatalogueRow, verdict: EidrCheck | None, decision: MatchDecision | None) -> BatchResult:
    key = row.provider_asset_id
    if decision is None:  # only rows whose valid ID the registry holds skip the matcher
        return BatchResult(key, PROVIDED, verdict.normalised if verdict else None, 1.0, PROVIDED, "[]")
    if verdict is None:
        return BatchResult(
            key, decision.outcome.value, decision.eidr_id, decision.score, decision.method, _json(decision)
        )
    if verdict.normalised is None:
        method = (verdict.reason or "eidr_format").split(":", 1)[0]
        return BatchResult(key, INVALID, None, 0.0, method, _json(decision))
    outcome = Outcome.NONE if decision.outcome is Outcome.NONE else Outcome.POTENTIAL
    return BatchResult(key, outcome.value, None, decision.score, PROVIDED_NOT_IN_REGISTRY, _json(decision))


def match_rows(
    registry: PostgresRegistry, rows: list[CatalogueRow], on_progress: Progress | None = None
) -> list[BatchResult]:
    """Results for ``rows`` in order; see the module docstring for the outcomes."""
    verdicts = {row.provider_asset_id: check(row.eidr_id) for row in rows if row.eidr_id is not None}
    held = set(registry.resolve(v.normalised for v in verdicts.values() if v.normalised is not None))
    to_match = [row for row in rows if _needs_matching(verdicts.get(row.provider_asset_id), held)]
    decisions = {
        decision.key: decision
        for decision in match_queries(registry, [query_for(row) for row in to_match], on_progress=on_progress)
    }
    return [_result(row, verdicts.get(row.provider_asset_id), decisions.get(row.provider_asset_id)) for row in rows]


def _needs_matching(verdict: EidrCheck | None, held: set[str]) -> bool:
    return verdict is None or verdict.normalised not in held


def write_matches(path: Path, results: Iterable[BatchResult]) -> Counter[str]:
    """Write MATCHES.csv; returns the count per outcome."""
    counts: Counter[str] = Counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(MATCHES_COLUMNS)
        for result in results:
            writer.writerow(result.as_row())
            counts[result.outcome] += 1
    return counts


def run_batch(
    engine: Engine,
    rows: list[CatalogueRow],
    out: Path,
    *,
    table: str = DEFAULT_TABLE,
    on_progress: Progress | None = None,
) -> Counter[str]:
    """Match catalogue ``rows`` (from :func:`read_catalogue`) against ``table``; write ``out``; count per outcome."""
    return write_matches(out, match_rows(PostgresRegistry(engine, table), rows, on_progress))
