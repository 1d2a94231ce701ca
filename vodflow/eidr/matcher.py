"""The matcher: asset queries in, decisions out. The pipeline and the batch CLI both call :func:`match_queries`.

Two passes per batch, cheapest first, as EIDR's own deduplication does ("exact alternate IDs first"):

1. exact routes: records sharing the asset's IMDb ID or its exact normalised title (btree lookups);
2. the fuzzy route (trigram similarity), only for assets the first pass found *nothing* for. When the registry
   holds the asset's title exactly, the title is spelt as the registry spells it, and records with other
   spellings are other works: searching them too would only add wrong candidates ("Hamlet" 1996, absent from
   the registry, would meet a "Hamlett" of 1996). Typos and foreign spellings are what the second pass is for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from vodflow.eidr.decision import MatchDecision, decide
from vodflow.eidr.resolver import AssetQuery, Resolver

BATCH_SIZE = 5000

Progress = Callable[[int, int], None]


def match_batch(resolver: Resolver, queries: Sequence[AssetQuery]) -> list[MatchDecision]:
    """Decisions for one batch of queries, in order."""
    found = resolver.candidates(queries, fuzzy=False)
    unmatched = [i for i, candidates in enumerate(found) if not candidates]
    if unmatched:
        similar = resolver.candidates([queries[i] for i in unmatched], fuzzy=True)
        for i, candidates in zip(unmatched, similar, strict=True):
            found[i] = candidates
    return [decide(query, candidates) for query, candidates in zip(queries, found, strict=True)]


def match_queries(
    resolver: Resolver,
    queries: Sequence[AssetQuery],
    *,
    batch_size: int = BATCH_SIZE,
    on_progress: Progress | None = None,
) -> Iterator[MatchDecision]:
    """Decisions for ``queries`` in order, batch by batch; ``on_progress(done, total)`` after each batch."""
    for start in range(0, len(queries), batch_size):
        yield from match_batch(resolver, queries[start : start + batch_size])
        if on_progress is not None:
            on_progress(min(start + batch_size, len(queries)), len(queries))
