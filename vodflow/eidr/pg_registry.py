"""The registry extract in PostgreSQL, searched with plain indexes and pg_trgm: the :class:`Resolver` in use.

Candidate search runs set-at-a-time: a batch of queries is copied into a temporary table and joined to the
registry in one statement per route, which is what makes 100,000 assets against a million records a matter of
minutes. Exact routes use btree indexes (IMDb ID, normalised title). The fuzzy route uses pg_trgm's ``%``
(trigram similarity above ``pg_trgm.similarity_threshold``) and keeps the most similar few per query: within a
few years of the asset's year through the year-led GiST indexes, or across all years through the GIN index
when the asset has no year. Fuzzy searches are deduplicated and split across a small pool of connections,
because each one is index work on the server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Engine

from vodflow.eidr.records import RegistryRecord
from vodflow.eidr.resolver import AssetQuery, Candidate, Via
from vodflow.ingest.load import copy_rows

DEFAULT_TABLE = "raw.eidr_registry"
EXACT_LIMIT = 25
"""Records kept per query and exact title: enough for every remake of a title, nearest years first."""
FUZZY_LIMIT = 10
"""Records kept per query from the similarity search, most similar first."""
SIMILARITY_THRESHOLD = 0.35
"""pg_trgm similarity a fuzzy candidate needs when the asset has a year. A one-letter typo in a six-letter title
is about 0.44 in trigrams; a threshold much lower floods the search with unrelated titles sharing a word."""
NO_YEAR_SIMILARITY_THRESHOLD = 0.6
"""The same for assets without a year, searched across all years. Without a year a similar title can only be
confirmed when it is nearly identical (rapidfuzz >= 0.95: one edit in twenty letters, well above 0.6 in
trigrams), so the search may be stricter, and it has to be: across all years it is the most expensive one."""

_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_RECORD_COLUMNS = (
    "eidr_id, title, title_norm, referent_type, release_year, runtime_minutes, directors, language, country, "
    "imdb_id, parent_eidr_id"
)
_QUERY_COLUMNS = ("qid", "title_norm", "alt_norm", "imdb_id", "release_year", "types", "kind")
YEAR_WINDOW = 2
"""Years either side of the asset's that the fuzzy search visits."""
KIND_PREDICATES = {
    "film": "(referent_type is null or lower(referent_type) in ('movie', 'short', 'tv', 'web'))",
    "serial": "(referent_type is null or lower(referent_type) in ('series', 'season', 'episode'))",
}
"""Word for word the predicates of the partial year-led GiST indexes (migration ``*_eidr.py``): the planner uses a
partial index only when the query states its predicate."""
_KINDS = {"movie": "film", "series": "serial", "season": "serial", "episode": "serial"}


def checked_table(table: str) -> str:
    """``table`` if it is a plain ``schema.name`` (it is interpolated into SQL), else ValueError."""
    if not _TABLE_NAME.match(table):
        raise ValueError(f"not a schema-qualified table name: {table!r}")
    return table


@contextmanager
def psycopg_connection(engine: Engine) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection as psycopg sees it (COPY, executemany), in one transaction committed on success."""
    with engine.connect() as sa_conn:
        conn: psycopg.Connection[Any] = sa_conn.connection.driver_connection  # type: ignore[assignment]
        with conn.transaction():
            yield conn
        sa_conn.commit()


def _record(row: Sequence[Any]) -> RegistryRecord:
    return RegistryRecord(
        eidr_id=row[0],
        title=row[1],
        title_norm=row[2],
        referent_type=row[3],
        release_year=row[4],
        runtime_minutes=row[5],
        directors=tuple(row[6] or ()),
        language=row[7],
        country=row[8],
        imdb_id=row[9],
        parent_eidr_id=row[10],
    )


def _query_rows(queries: Sequence[AssetQuery]) -> Iterator[tuple[Any, ...]]:
    for qid, query in enumerate(queries):
        types = sorted(query.referent_types) if query.referent_types is not None else None
        kind = _KINDS.get(query.asset_type or "")
        yield (qid, query.title_norm, query.original_title_norm, query.imdb_id, query.release_year, types, kind)


def stage_queries(conn: psycopg.Connection[Any], queries: Sequence[AssetQuery]) -> None:
    """Copy ``queries`` into the transaction's ``eidr_query`` table, which every route joins to the registry."""
    conn.execute(
        "create temp table eidr_query (qid integer, title_norm text, alt_norm text, imdb_id text, "
        "release_year integer, types text[], kind text) on commit drop"
    )
    copy_rows(conn, "eidr_query", _QUERY_COLUMNS, _query_rows(queries))
    conn.execute("analyze eidr_query")


class PostgresRegistry:
    """:class:`vodflow.eidr.resolver.Resolver` over a registry table loaded by :mod:`vodflow.eidr.load`."""

    def __init__(self, engine: Engine, table: str = DEFAULT_TABLE, *, workers: int = 2) -> None:
        self._engine = engine
        self._table = checked_table(table)
        self._workers = max(1, workers)

    def candidates(self, queries: Sequence[AssetQuery], *, fuzzy: bool) -> list[list[Candidate]]:
        """Candidates per query (see the protocol).

        Fuzzy searches are made once per distinct (title, year, type) and spread over ``workers`` connections.
        """
        if not queries:
            return []
        if not fuzzy:
            return self._search(queries, fuzzy=False)
        keys: dict[tuple[object, ...], int] = {}
        distinct: list[AssetQuery] = []
        positions = []
        for query in queries:
            position = keys.setdefault(_search_key(query), len(keys))
            if position == len(distinct):
                distinct.append(query)
            positions.append(position)
        size = max(1, -(-len(distinct) // self._workers))
        parts = [distinct[i : i + size] for i in range(0, len(distinct), size)]
        if len(parts) == 1:
            results = [self._search(parts[0], fuzzy=True)]
        else:
            with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="eidr-search") as pool:
                results = list(pool.map(lambda part: self._search(part, fuzzy=True), parts))
        found = [candidates for part in results for candidates in part]
        return [found[position] for position in positions]

    def resolve(self, eidr_ids: Iterable[str]) -> dict[str, RegistryRecord]:
        """Records for the given IDs (absent IDs are left out)."""
        ids = sorted(set(eidr_ids))
        if not ids:
            return {}
        with psycopg_connection(self._engine) as conn:
            rows = conn.execute(
                f"select {_RECORD_COLUMNS} from {self._table} where eidr_id = any(%s)", (ids,)
            ).fetchall()
        return {row[0]: _record(row) for row in rows}

    def _search(self, queries: Sequence[AssetQuery], *, fuzzy: bool) -> list[list[Candidate]]:
        found: list[list[Candidate]] = [[] for _ in queries]
        with psycopg_connection(self._engine) as conn, conn.cursor() as cur:
            stage_queries(conn, queries)
            for route in (_fuzzy_routes if fuzzy else _exact_routes)(self._table):
                if route.similarity is not None:
                    cur.execute("select set_config('pg_trgm.similarity_threshold', %s, true)", (str(route.similarity),))
                for row in cur.execute(route.sql):
                    found[row[0]].append(Candidate(_record(row[1:]), route.via))
        return found


def _search_key(query: AssetQuery) -> tuple[object, ...]:
    return (query.title_norm, query.release_year, query.referent_types)


_COLUMNS = ", ".join(f"r.{name.strip()}" for name in _RECORD_COLUMNS.split(","))
_COMPATIBLE = "(q.types is null or r.referent_type is null or lower(r.referent_type) = any(q.types))"


@dataclass(frozen=True)
class _Route:
    via: Via
    sql: str
    similarity: float | None = None


def _exact_routes(table: str) -> list[_Route]:
    """IMDb ID and exact normalised title, nearest years first (btree lookups)."""
    return [
        _Route(
            Via.IMDB_ID,
            f"select q.qid, {_COLUMNS} from eidr_query q join {table} r on r.imdb_id = q.imdb_id where {_COMPATIBLE}",
        ),
        _Route(
            Via.TITLE_EXACT,
            f"""
            select q.qid, {_COLUMNS} from eidr_query q cross join lateral (
                select * from {table} r
                 where r.title_norm in (q.title_norm, q.alt_norm) and {_COMPATIBLE}
                 order by abs(r.release_year - q.release_year) nulls last, r.eidr_id
                 limit {EXACT_LIMIT}) r
            """,
        ),
    ]


def _fuzzy_routes(table: str) -> list[_Route]:
    """Similar titles: within YEAR_WINDOW of a known year (year-led GiST, per kind), else in every year (GIN).

    A candidate more than :data:`YEAR_WINDOW` years away can never reach the review threshold (see
    :mod:`vodflow.eidr.scoring`), so the window loses no decision. Registry records without a year are only
    searched for assets without one (the exact route finds them for everyone).
    """
    order = "order by similarity(r.title_norm, q.title_norm) desc, abs(r.release_year - q.release_year) nulls last"
    routes = [
        _Route(
            Via.TITLE_FUZZY,
            f"""
            select q.qid, {_COLUMNS} from eidr_query q cross join lateral (
                select * from {table} r
                 where r.release_year between q.release_year - {YEAR_WINDOW} and q.release_year + {YEAR_WINDOW}
                   and r.title_norm % q.title_norm and r.title_norm <> q.title_norm
                   and {predicate} and {_COMPATIBLE}
                 {order}, r.eidr_id limit {FUZZY_LIMIT}) r
             where q.kind = '{kind}' and q.release_year is not null
            """,
            SIMILARITY_THRESHOLD,
        )
        for kind, predicate in KIND_PREDICATES.items()
    ]
    routes.append(
        _Route(
            Via.TITLE_FUZZY,
            f"""
        select q.qid, {_COLUMNS} from eidr_query q cross join lateral (
            select * from {table} r
             where r.title_norm % q.title_norm and r.title_norm <> q.title_norm and {_COMPATIBLE}
             {order}, r.eidr_id limit {FUZZY_LIMIT}) r
         where q.kind is null or q.release_year is null
            """,
            NO_YEAR_SIMILARITY_THRESHOLD,
        )
    )
    return routes
