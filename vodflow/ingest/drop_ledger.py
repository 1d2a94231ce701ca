"""The database side of file drops: who is handling a file right now, and what became of every file.

Claims: a run handles a file only while it holds a session advisory lock on (provider, name), taken with
``pg_try_advisory_lock`` on a connection of its own. Two runs told about the same file (an event and the safety-net
schedule, or a re-sent event) never both read it: the second skips it. The lock lives in PostgreSQL, not in the
file system, so it also holds between pods that share a volume; a crashed run's lock goes with its connection.

Ledger: ``ops.drop_files`` keeps one row per file handled (name, SHA-256, size, outcome, reason, the load that
wrote it, where it went). A loaded file's row is written in the load's own transaction, so data and ledger commit
together; a rejected file's row after it was moved.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

import psycopg
from sqlalchemy import Engine, text


@dataclass(frozen=True)
class LedgerEntry:
    """One handled file, as ``ops.drop_files`` stores it."""

    provider: str
    file_name: str
    sha256: str | None
    bytes: int | None
    outcome: str
    stored_as: str
    reason: str | None = None
    load_id: uuid.UUID | None = None
    flow_run_id: uuid.UUID | None = None


_INSERT = """
    insert into ops.drop_files (provider, file_name, sha256, bytes, outcome, stored_as, reason, load_id, flow_run_id)
    values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


def _values(entry: LedgerEntry) -> tuple[Any, ...]:
    return (
        entry.provider,
        entry.file_name,
        entry.sha256,
        entry.bytes,
        entry.outcome,
        entry.stored_as,
        entry.reason,
        entry.load_id,
        entry.flow_run_id,
    )


def write_entries(conn: psycopg.Connection[Any], entries: list[LedgerEntry]) -> None:
    """Write ledger rows inside the caller's transaction (a load's, so they commit with its rows)."""
    with conn.cursor() as cur:
        cur.executemany(_INSERT, [_values(entry) for entry in entries])


def record_entry(engine: Engine, entry: LedgerEntry) -> None:
    """Write one ledger row in its own transaction (a rejected file)."""
    with engine.connect() as sa_conn:
        conn: psycopg.Connection[Any] = sa_conn.connection.driver_connection  # type: ignore[assignment]
        with conn.transaction():
            write_entries(conn, [entry])
        sa_conn.commit()


def file_outcomes(engine: Engine, provider: str, names: list[str]) -> list[dict[str, Any]]:
    """The latest ledger row of each of ``names`` with its load's counts (what ``vodflow ingest --path`` prints)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                select distinct on (f.file_name) f.file_name, f.outcome, f.reason, f.stored_as, f.load_id,
                       l.received, l.inserted, l.updated, l.unchanged, l.quarantined
                  from ops.drop_files f left join ops.loads l using (load_id)
                 where f.provider = :p and f.file_name = any(:names)
                 order by f.file_name, f.processed_at desc, f.drop_file_id desc
                """
            ),
            {"p": provider, "names": names},
        ).mappings()
        return [dict(row) for row in rows]


def sha256_of(handle: BinaryIO) -> tuple[str, int]:
    """SHA-256 and size of an open file, read from the start; the handle is left at the start again."""
    digest = hashlib.sha256()
    size = 0
    handle.seek(0)
    while block := handle.read(1 << 20):
        digest.update(block)
        size += len(block)
    handle.seek(0)
    return digest.hexdigest(), size


def _claim_key(provider: str, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"vodflow.drop.{provider}/{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def claim_files(engine: Engine, provider: str, names: list[str]) -> Iterator[list[str]]:
    """Claim the files no other run is handling; yields the claimed names (in order) and releases them at exit."""
    with engine.connect() as conn:
        claimed = [
            name
            for name in names
            if conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": _claim_key(provider, name)}).scalar()
        ]
        conn.commit()
        try:
            yield claimed
        finally:
            for name in claimed:
                conn.execute(text("select pg_advisory_unlock(:k)"), {"k": _claim_key(provider, name)})
            conn.commit()
