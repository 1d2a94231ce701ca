"""Load a validated batch into PostgreSQL: staged COPY, upsert of new or changed rows, quarantine, cursor, audit.

Everything happens in ONE transaction, under a per-provider advisory lock: a crash anywhere leaves the previous
rows and cursor, and two runs of one provider serialise instead of racing. A row is written only when its
content hash changed and it is not older than what is stored, so re-runs and backfills converge and a late,
older version never overwrites a newer one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

import pandas as pd
import psycopg
from sqlalchemy import Engine, text

from vodflow.canonical import CANONICAL_COLUMNS
from vodflow.ingest.storable import jsonb_text, storable_text
from vodflow.ingest.validate import QuarantinedRow, ValidatedBatch

_HASHED = tuple(c for c in CANONICAL_COLUMNS if c not in ("provider", "provider_asset_id"))
# The content hash is computed by PostgreSQL, once per staged row; the timestamp enters as epoch seconds so the
# hash does not depend on the session's TimeZone.
_ROW_HASH_SQL = (
    "md5(row("
    + ", ".join("extract(epoch from provider_updated_at)" if c == "provider_updated_at" else c for c in _HASHED)
    + ")::text)"
)
_COPY_COLUMNS = (*CANONICAL_COLUMNS, "load_id", "extracted_at")
_STAGE_COLUMNS = (*CANONICAL_COLUMNS, "row_hash", "load_id", "extracted_at")
_UPDATABLE = [c for c in CANONICAL_COLUMNS if c not in ("provider", "provider_asset_id")]

BeforeCommit = Callable[[psycopg.Connection[Any]], None]


@dataclass(frozen=True)
class LoadCounts:
    """What one load did; ``received == inserted + updated + unchanged + quarantined`` always holds."""

    served: int
    deduplicated: int
    received: int
    inserted: int
    updated: int
    unchanged: int
    stale: int
    quarantined: int

    def as_dict(self) -> dict[str, int]:
        """Plain dict for events, artifacts and return values."""
        return asdict(self)


@dataclass(frozen=True)
class LoadContext:
    """Who is loading what: the audit row's identity."""

    provider: str
    load_id: uuid.UUID
    started_at: datetime
    extracted_at: datetime
    flow_run_id: uuid.UUID | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None


def provider_lock_key(provider: str) -> int:
    """The advisory-lock key that serialises loads of one provider (or feed)."""
    return int.from_bytes(hashlib.sha256(f"vodflow.ingest.{provider}".encode()).digest()[:8], "big", signed=True)


def column_values(series: pd.Series) -> list[Any]:
    """One frame column as plain Python values for COPY (None for missing), converted column-wise for speed."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return [None if pd.isna(v) else v for v in series.dt.to_pydatetime()]
    if series.name == "payload":
        return [jsonb_text(v) for v in series.tolist()]
    return series.astype(object).where(series.notna(), None).tolist()


def _stage_rows(frame: pd.DataFrame, load_id: uuid.UUID, extracted_at: datetime) -> Iterator[tuple[Any, ...]]:
    columns = [column_values(frame[c]) for c in CANONICAL_COLUMNS]
    return zip(*columns, repeat(load_id), repeat(extracted_at), strict=False)


def copy_rows(
    conn: psycopg.Connection[Any], table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]
) -> int:
    """COPY rows into ``table``; returns how many were written."""
    count = 0
    with conn.cursor() as cur, cur.copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def quarantine_hash(provider: str, row: QuarantinedRow) -> str:
    """Identity of a quarantined row: the same bad row served again is stored once (``times_seen`` grows)."""
    body = json.dumps({"id": row.provider_asset_id, "raw": row.raw_row}, sort_keys=True, default=str)
    return hashlib.sha256(f"{provider}\n{body}".encode()).hexdigest()


def write_quarantine(cur: psycopg.Cursor[Any], provider: str, rows: list[QuarantinedRow], load_id: uuid.UUID) -> None:
    """Store quarantined rows with their reasons; a row seen before is counted again, not stored twice."""
    if not rows:
        return
    cur.executemany(
        """
        insert into ops.quarantine as q (provider, provider_asset_id, row_hash, reasons, raw_row,
                                         first_load_id, last_load_id)
        values (%s, %s, %s, %s::jsonb, %s::jsonb, %s, %s)
        on conflict (provider, row_hash) do update
           set last_load_id = excluded.last_load_id, last_seen_at = now(), times_seen = q.times_seen + 1,
               reasons = excluded.reasons
        """,
        [
            (
                provider,
                row.provider_asset_id,
                quarantine_hash(provider, row),
                json.dumps([r.as_dict() for r in row.reasons]),
                jsonb_text(row.raw_row),
                load_id,
                load_id,
            )
            for row in rows
        ],
    )


def _upsert(cur: psycopg.Cursor[Any], batches: int) -> tuple[int, int, int, int]:
    """Upsert the staged rows (newest version per key); returns (distinct keys, inserted, updated, stale).

    One batch has unique keys already (validation keeps the newest); only several can repeat a key.
    """
    newest = (
        "(select distinct on (provider, provider_asset_id) * from stage_assets "
        "order by provider, provider_asset_id, provider_updated_at desc, stage_seq desc)"
        if batches > 1
        else "stage_assets"
    )
    assignments = ", ".join(f"{c} = excluded.{c}" for c in (*_UPDATABLE, "row_hash", "load_id", "extracted_at"))
    # One statement: the CTE "s" is read twice, so PostgreSQL materialises it (hash computed once), and the
    # stale count sees the rows as they were before this insert (one snapshot for the whole statement).
    cur.execute(
        f"""
        with s as materialized (
            select n.*, {_ROW_HASH_SQL} as row_hash from {newest} n
        ),
        stale as (
            select count(*) as n from s join raw.assets t using (provider, provider_asset_id)
             where t.provider_updated_at > s.provider_updated_at and t.row_hash <> s.row_hash
        ),
        upserted as (
            insert into raw.assets as t ({", ".join(_STAGE_COLUMNS)})
            select {", ".join(f"s.{c}" for c in _STAGE_COLUMNS)} from s
            on conflict (provider, provider_asset_id) do update
               set {assignments}, loaded_at = now()
             where t.row_hash <> excluded.row_hash and t.provider_updated_at <= excluded.provider_updated_at
            returning (xmax = 0) as was_inserted
        )
        select (select count(*) from s),
               count(*) filter (where was_inserted), count(*) filter (where not was_inserted),
               (select n from stale)
          from upserted
        """
    )
    distinct, inserted, updated, stale = cur.fetchone()  # type: ignore[misc]
    return int(distinct), int(inserted), int(updated), int(stale)


def write_audit(
    cur: psycopg.Cursor[Any],
    ctx: LoadContext,
    counts: LoadCounts,
    status: str,
    cursor_before: datetime | None,
    cursor_after: datetime | None,
    error: str | None,
) -> None:
    """Write the load's row in ``ops.loads`` (idempotent per load_id)."""
    cur.execute(
        """
        insert into ops.loads (load_id, provider, flow_run_id, status, started_at, window_start, window_end,
                               cursor_before, cursor_after, served, deduplicated, received, inserted, updated,
                               unchanged, stale, quarantined, error)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        on conflict (load_id) do nothing
        """,
        (
            ctx.load_id,
            ctx.provider,
            ctx.flow_run_id,
            status,
            ctx.started_at,
            ctx.window_start,
            ctx.window_end,
            cursor_before,
            cursor_after,
            counts.served,
            counts.deduplicated,
            counts.received,
            counts.inserted,
            counts.updated,
            counts.unchanged,
            counts.stale,
            counts.quarantined,
            None if error is None else storable_text(error),
        ),
    )


def lock_provider(cur: psycopg.Cursor[Any], provider: str) -> datetime | None:
    """Take the provider's transaction lock (a second load of it waits here); return its committed cursor."""
    cur.execute("select pg_advisory_xact_lock(%s)", (provider_lock_key(provider),))
    cur.execute("select cursor_value from ops.ingest_cursors where provider = %s", (provider,))
    row = cur.fetchone()
    return row[0] if row else None


def cursor_may_advance(window_start: datetime | None, cursor_before: datetime | None) -> bool:
    """Whether a load of a window starting at ``window_start`` may move the provider's cursor.

    The cursor promises "every row up to here is loaded". A read from the beginning, or from at or before the
    cursor (an incremental read, a backfill window that overlaps what is loaded), keeps that promise; a window
    that starts after the cursor, or before any cursor exists, leaves a gap behind it, so its rows are loaded but
    the cursor stays where it was: the next incremental read still covers the gap.
    """
    if window_start is None:
        return True
    return cursor_before is not None and window_start <= cursor_before


def advance_cursor(
    cur: psycopg.Cursor[Any], ctx: LoadContext, newest: datetime | None, cursor_before: datetime | None
) -> datetime | None:
    """Move the provider's cursor to ``newest`` in the load's transaction; return the cursor after the load.

    It never moves backwards, and never across a gap (:func:`cursor_may_advance`).
    """
    if newest is None or not cursor_may_advance(ctx.window_start, cursor_before):
        return cursor_before
    cur.execute(
        """
        insert into ops.ingest_cursors as c (provider, cursor_value, load_id) values (%s, %s, %s)
        on conflict (provider) do update
           set cursor_value = greatest(c.cursor_value, excluded.cursor_value),
               load_id = excluded.load_id, updated_at = now()
        returning cursor_value
        """,
        (ctx.provider, newest, ctx.load_id),
    )
    row = cur.fetchone()
    return row[0] if row else newest


def read_cursor(engine: Engine, provider: str) -> datetime | None:
    """The provider's committed cursor (newest provider timestamp loaded), or None before the first load."""
    with engine.connect() as conn:
        value = conn.execute(
            text("select cursor_value from ops.ingest_cursors where provider = :p"), {"p": provider}
        ).scalar()
    return value


class StagedLoad:
    """One load in one transaction, fed batch by batch (a large file in chunks, in bounded memory).

    ``add`` stages a batch's valid rows (COPY into a temporary table) and writes its quarantined rows;
    ``finish`` keeps the newest version of each key across all batches, upserts, moves the cursor and writes the
    audit row. Nothing is visible to others until the transaction commits; leaving the block early rolls back.
    ``moves_cursor=False`` leaves the provider's cursor alone: a file drop has no place in an API's timeline, and
    its old timestamps must not make the next incremental API read skip rows (meridian has both).
    """

    def __init__(self, conn: psycopg.Connection[Any], ctx: LoadContext, *, moves_cursor: bool = True) -> None:
        self._conn = conn
        self._ctx = ctx
        self._moves_cursor = moves_cursor
        self._cur = conn.cursor()
        self.served = 0
        self.deduplicated = 0
        self.quarantined = 0
        self.staged = 0
        self.batches = 0
        self._cursor_after: datetime | None = None
        self.cursor_before = lock_provider(self._cur, ctx.provider)
        self._cur.execute(
            f"create temp table stage_assets on commit drop as "
            f"select {', '.join(_COPY_COLUMNS)} from raw.assets with no data; "
            "alter table stage_assets add column stage_seq bigserial"
        )

    def add(self, batch: ValidatedBatch) -> None:
        """Stage one validated batch."""
        self.staged += copy_rows(
            self._conn,
            "stage_assets",
            _COPY_COLUMNS,
            _stage_rows(batch.valid, self._ctx.load_id, self._ctx.extracted_at),
        )
        write_quarantine(self._cur, self._ctx.provider, batch.quarantined, self._ctx.load_id)
        self.served += batch.served
        self.batches += 1
        self.deduplicated += batch.deduplicated
        self.quarantined += len(batch.quarantined)
        newest = batch.max_updated_at()
        if newest is not None and (self._cursor_after is None or newest > self._cursor_after):
            self._cursor_after = newest

    def finish(self) -> LoadCounts:
        """Upsert, move the cursor, write the audit row; the caller commits."""
        distinct, inserted, updated, stale = _upsert(self._cur, self.batches)
        deduplicated = self.deduplicated + self.staged - distinct
        counts = LoadCounts(
            served=self.served,
            deduplicated=deduplicated,
            received=self.served - deduplicated,
            inserted=inserted,
            updated=updated,
            unchanged=distinct - inserted - updated,
            stale=stale,
            quarantined=self.quarantined,
        )
        cursor_after = self.cursor_before
        if self._moves_cursor:
            cursor_after = advance_cursor(self._cur, self._ctx, self._cursor_after, self.cursor_before)
        write_audit(self._cur, self._ctx, counts, "succeeded", self.cursor_before, cursor_after, None)
        return counts


@contextmanager
def staged_load(
    engine: Engine, ctx: LoadContext, *, before_commit: BeforeCommit | None = None, moves_cursor: bool = True
) -> Iterator[StagedLoad]:
    """Open a :class:`StagedLoad` in its own transaction; commit when the block ends without an error.

    ``before_commit`` runs inside the transaction just before COMMIT (tests inject a crash there; file drops
    write their ledger row there, so it commits with the data). ``moves_cursor``: see :class:`StagedLoad`.
    """
    with engine.connect() as sa_conn:
        conn: psycopg.Connection[Any] = sa_conn.connection.driver_connection  # type: ignore[assignment]
        with conn.transaction():
            load = StagedLoad(conn, ctx, moves_cursor=moves_cursor)
            yield load
            if before_commit is not None:
                before_commit(conn)
        sa_conn.commit()


def load_batch(
    engine: Engine, batch: ValidatedBatch, ctx: LoadContext, *, before_commit: BeforeCommit | None = None
) -> LoadCounts:
    """Write one batch in one transaction and return its counts."""
    with staged_load(engine, ctx, before_commit=before_commit) as load:
        load.add(batch)
        counts = load.finish()
    return counts


def record_failed_load(engine: Engine, ctx: LoadContext, error: str, batch: ValidatedBatch | None = None) -> None:
    """Audit a load that did not commit; keep its quarantined rows so nothing it saw is lost without a trace."""
    counts = LoadCounts(
        served=batch.served if batch else 0,
        deduplicated=batch.deduplicated if batch else 0,
        received=batch.received if batch else 0,
        inserted=0,
        updated=0,
        unchanged=0,
        stale=0,
        quarantined=len(batch.quarantined) if batch else 0,
    )
    with engine.connect() as sa_conn:
        conn: psycopg.Connection[Any] = sa_conn.connection.driver_connection  # type: ignore[assignment]
        with conn.transaction(), conn.cursor() as cur:
            if batch is not None:
                write_quarantine(cur, ctx.provider, batch.quarantined, ctx.load_id)
            write_audit(cur, ctx, counts, "failed", None, None, error[:2000])
        sa_conn.commit()
