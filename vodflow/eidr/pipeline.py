"""Match the assets in ``raw.assets`` that have no valid EIDR ID, and record every decision.

This is the pipeline's "identify" step (the flow that calls it after each load comes later). For every asset
without a valid EIDR ID it writes one row to ``raw.eidr_matches``: the outcome, the assigned ID (duplicates
only), score, method, reason and candidates, and who decided. Potential matches are queued in
``ops.eidr_review``; a person's decision there overrides the matcher on this and every later run, whatever
the matcher would now say. Assets that have since received a valid ID from their provider lose their match
row (the provider's ID wins).

Parents before children: series are matched first, then seasons, then episodes, so a season can be matched
under the EIDR ID its series received a moment earlier (from the provider, the matcher or a person).

Runs are idempotent (re-running converges) and serialised by an advisory lock; each batch commits on its own,
so a run that fails half-way keeps what it finished and the next run completes the rest.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Engine

from vodflow.eidr.decision import MatchDecision
from vodflow.eidr.ids import CANONICAL_PATTERN
from vodflow.eidr.matcher import BATCH_SIZE, match_batch
from vodflow.eidr.pg_registry import PostgresRegistry, psycopg_connection
from vodflow.eidr.resolver import AssetQuery, Resolver
from vodflow.eidr.review_sql import DECIDED, DECISION_COLUMNS, DECISION_VALUES
from vodflow.ingest.load import copy_rows

TYPE_ORDER = ("series", "season", "episode", "movie")
MATCHER = "matcher"
_STAGE_COLUMNS = (
    "provider",
    "provider_asset_id",
    "outcome",
    "eidr_id",
    "score",
    "method",
    "reason",
    "candidates",
    "asset_row_hash",
    "decided_by",
)
_NO_VALID_ID = f"(a.eidr_id is null or a.eidr_id !~ '^{CANONICAL_PATTERN}$')"

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class MatchRunSummary:
    """What one run did: assets considered, outcomes (after review decisions), decisions applied, rows cleared."""

    considered: int
    duplicate: int
    potential: int
    none: int
    decided_by_review: int
    cleared: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for logs, events and artifacts."""
        return asdict(self)


@dataclass(frozen=True)
class _Asset:
    provider: str
    provider_asset_id: str
    row_hash: str
    query: AssetQuery


_NOT_MATCHED_SINCE_LOADED = """not exists (
    select 1 from raw.eidr_matches done
     where done.provider = a.provider and done.provider_asset_id = a.provider_asset_id
       and done.asset_row_hash = a.row_hash and done.matched_at >= a.loaded_at
)"""
"""This version of the asset has a decision made after it was loaded (by an overlapping run)."""


def _scope(provider: str | None, since: datetime | None) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if provider is not None:
        clauses.append("a.provider = %(provider)s")
        params["provider"] = provider
    if since is not None:
        clauses.append("a.loaded_at >= %(since)s")
        # Runs that overlap (twenty drops at once) each see the others' loads as changed since they started:
        # without this, each re-matched every asset the earlier ones had matched.
        clauses.append(_NOT_MATCHED_SINCE_LOADED)
        params["since"] = since
    return " and ".join(clauses) or "true", params


def _assets(
    conn: psycopg.Connection[Any], asset_type: str, scope: str, params: dict[str, Any]
) -> Iterator[list[_Asset]]:
    """Assets of one type without a valid ID, in batches, with their parent's EIDR ID where one is known."""
    sql = f"""
        select a.provider, a.provider_asset_id, a.row_hash, a.asset_type, a.title, a.original_title,
               a.release_year, a.runtime_minutes, a.language, a.imdb_id,
               case when jsonb_typeof(a.payload -> 'directors') = 'array'
                    then array(select jsonb_array_elements_text(a.payload -> 'directors')) end,
               coalesce(p.eidr_id, pm.eidr_id)
          from raw.assets a
          left join raw.assets p
            on p.provider = a.provider and p.provider_asset_id = a.parent_provider_asset_id
          left join raw.eidr_matches pm
            on pm.provider = a.provider and pm.provider_asset_id = a.parent_provider_asset_id
           and pm.outcome = 'duplicate'
         where {_NO_VALID_ID} and a.asset_type = %(asset_type)s and {scope}
         order by a.provider, a.provider_asset_id
    """
    with conn.cursor(name=f"eidr_assets_{asset_type}") as cur:
        cur.itersize = BATCH_SIZE
        cur.execute(sql, {**params, "asset_type": asset_type})
        while rows := cur.fetchmany(BATCH_SIZE):
            yield [
                _Asset(
                    provider=row[0],
                    provider_asset_id=row[1],
                    row_hash=row[2],
                    query=AssetQuery(
                        key=f"{row[0]}\x1f{row[1]}",
                        asset_type=row[3],
                        title=row[4],
                        original_title=row[5],
                        release_year=row[6],
                        runtime_minutes=row[7],
                        language=row[8],
                        imdb_id=row[9],
                        directors=tuple(row[10] or ()),
                        parent_eidr_id=row[11],
                    ),
                )
                for row in rows
            ]


def _stage_rows(assets: Sequence[_Asset], decisions: Sequence[MatchDecision]) -> Iterator[tuple[Any, ...]]:
    for asset, decision in zip(assets, decisions, strict=True):
        yield (
            asset.provider,
            asset.provider_asset_id,
            decision.outcome.value,
            decision.eidr_id,
            round(decision.score, 4),
            decision.method,
            str(decision.reason),
            json.dumps(decision.candidates_json(), ensure_ascii=False),
            asset.row_hash,
            MATCHER,
        )


def _write(engine: Engine, assets: Sequence[_Asset], decisions: Sequence[MatchDecision]) -> Counter[str]:
    """Stage the matcher's answers, let review decisions override them, upsert, and keep the queue in step."""
    columns = ", ".join(_STAGE_COLUMNS)
    decided = ", ".join(DECISION_COLUMNS)
    with psycopg_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(
            f"create temp table eidr_match_stage on commit drop as select {columns} from raw.eidr_matches with no data"
        )
        copy_rows(conn, "eidr_match_stage", _STAGE_COLUMNS, _stage_rows(assets, decisions))
        cur.execute(
            f"""
            update eidr_match_stage s set ({decided}) = ({", ".join(DECISION_VALUES)})
              from ops.eidr_review r
             where r.provider = s.provider and r.provider_asset_id = s.provider_asset_id and {DECIDED}
            """
        )
        updates = ", ".join(f"{name} = excluded.{name}" for name in _STAGE_COLUMNS[2:])
        cur.execute(
            f"""
            insert into raw.eidr_matches as m ({columns}) select {columns} from eidr_match_stage
            on conflict (provider, provider_asset_id) do update set {updates}, matched_at = now()
            """
        )
        cur.execute(
            """
            insert into ops.eidr_review as r (provider, provider_asset_id, score, candidates)
            select provider, provider_asset_id, score, candidates from eidr_match_stage
             where outcome = 'potential' and decided_by = %s
            on conflict (provider, provider_asset_id) do update
               set score = excluded.score, candidates = excluded.candidates, updated_at = now()
             where r.status = 'pending'
            """,
            (MATCHER,),
        )
        cur.execute(
            """
            delete from ops.eidr_review r using eidr_match_stage s
             where r.provider = s.provider and r.provider_asset_id = s.provider_asset_id
               and r.status = 'pending' and s.outcome <> 'potential'
            """
        )
        cur.execute("select outcome, decided_by <> %s, count(*) from eidr_match_stage group by 1, 2", (MATCHER,))
        counts: Counter[str] = Counter()
        for outcome, by_review, count in cur.fetchall():
            counts[outcome] += count
            counts["decided_by_review"] += count if by_review else 0
    return counts


def _clear_provided(engine: Engine, provider: str | None) -> int:
    """Drop match rows (and pending reviews) of assets that now carry a valid ID or no longer exist."""
    with psycopg_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(
            f"""
            with gone as (
                delete from raw.eidr_matches m
                 where (%(provider)s::text is null or m.provider = %(provider)s)
                   and not exists (select 1 from raw.assets a
                                    where a.provider = m.provider and a.provider_asset_id = m.provider_asset_id
                                      and {_NO_VALID_ID})
                returning m.provider, m.provider_asset_id
            ), dequeued as (
                delete from ops.eidr_review r using gone g
                 where r.provider = g.provider and r.provider_asset_id = g.provider_asset_id
                   and r.status = 'pending'
            )
            select count(*) from gone
            """,
            {"provider": provider},
        )
        row = cur.fetchone()
        return int(row[0]) if row else 0


def match_assets(
    engine: Engine,
    provider: str | None = None,
    only_changed_since: datetime | None = None,
    *,
    resolver: Resolver | None = None,
    on_progress: Progress | None = None,
) -> MatchRunSummary:
    """Match the assets without a valid EIDR ID and write the results; see the module docstring.

    Args:
        engine: the database holding raw.assets, the registry and the result tables.
        provider: only this provider's assets (default: all).
        only_changed_since: only assets loaded (inserted or changed) at or after this instant; a run without it
            re-matches everything, which is what picks up a newer registry.
        resolver: the registry to match against (default: the PostgreSQL extract in the same database).
        on_progress: called with (asset type, assets done of that type) after each batch.
    """
    started = time.monotonic()
    resolver = resolver or PostgresRegistry(engine)
    scope, params = _scope(provider, only_changed_since)
    counts: Counter[str] = Counter()
    with psycopg_connection(engine) as reader:
        reader.execute("select pg_advisory_xact_lock(hashtext('vodflow.eidr.match_assets'))")
        cleared = _clear_provided(engine, provider)
        for asset_type in TYPE_ORDER:
            done = 0
            for assets in _assets(reader, asset_type, scope, params):
                decisions = match_batch(resolver, [asset.query for asset in assets])
                counts.update(_write(engine, assets, decisions))
                done += len(assets)
                if on_progress is not None:
                    on_progress(asset_type, done)
    return MatchRunSummary(
        considered=counts["duplicate"] + counts["potential"] + counts["none"],
        duplicate=counts["duplicate"],
        potential=counts["potential"],
        none=counts["none"],
        decided_by_review=counts["decided_by_review"],
        cleared=cleared,
        seconds=round(time.monotonic() - started, 3),
    )
