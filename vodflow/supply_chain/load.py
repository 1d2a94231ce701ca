"""Load supply-chain events: insert-only, one row per ``event_id``, in one transaction with cursor and audit.

Events are facts: an event delivered twice (same ``event_id``) is stored once and counted ``unchanged``; nothing
is ever updated. The feed's cursor and audit row live in the same ``ops`` tables as the providers', under the
feed's own name.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import psycopg
from sqlalchemy import Engine

from vodflow.ingest.load import (
    LoadContext,
    LoadCounts,
    advance_cursor,
    column_values,
    copy_rows,
    lock_provider,
    write_audit,
    write_quarantine,
)
from vodflow.ingest.validate import ValidatedBatch
from vodflow.supply_chain.schema import EVENT_COLUMNS

_STAGE_COLUMNS = (*EVENT_COLUMNS, "load_id", "extracted_at")


def load_events(engine: Engine, batch: ValidatedBatch, ctx: LoadContext) -> LoadCounts:
    """Insert the batch's new events; returns counts where duplicates are ``unchanged``."""
    with engine.connect() as sa_conn:
        conn: psycopg.Connection[Any] = sa_conn.connection.driver_connection  # type: ignore[assignment]
        with conn.transaction(), conn.cursor() as cur:
            cursor_before = lock_provider(cur, ctx.provider)
            cur.execute(
                f"create temp table stage_events on commit drop as "
                f"select {', '.join(_STAGE_COLUMNS)} from raw.supply_chain_events with no data"
            )
            columns = [column_values(batch.valid[c]) for c in EVENT_COLUMNS]
            rows = zip(*columns, repeat(ctx.load_id), repeat(ctx.extracted_at), strict=False)
            copy_rows(conn, "stage_events", _STAGE_COLUMNS, rows)
            cur.execute(
                f"insert into raw.supply_chain_events ({', '.join(_STAGE_COLUMNS)}) "
                f"select {', '.join(_STAGE_COLUMNS)} from stage_events on conflict (event_id) do nothing"
            )
            inserted = cur.rowcount
            write_quarantine(cur, ctx.provider, batch.quarantined, ctx.load_id)
            counts = LoadCounts(
                served=batch.served,
                deduplicated=batch.deduplicated,
                received=batch.received,
                inserted=inserted,
                updated=0,
                unchanged=len(batch.valid) - inserted,
                stale=0,
                quarantined=len(batch.quarantined),
            )
            cursor_after = advance_cursor(cur, ctx, batch.max_updated_at(), cursor_before)
            write_audit(cur, ctx, counts, "succeeded", cursor_before, cursor_after, None)
        sa_conn.commit()
    return counts
