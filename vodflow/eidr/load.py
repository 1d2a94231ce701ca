"""Load a registry extract (JSON Lines) into PostgreSQL: streamed, COPY-based, idempotent.

The file is read line by line and streamed through COPY into a temporary staging table, so memory stays flat
however long the extract is (a million lines is an ordinary size). One statement then upserts the staged
records, writing only those whose content hash changed, and counts what was added, changed and unchanged: loading
the same file twice adds and changes nothing. Bad lines (not JSON, no ``eidr_id`` or ``title``, an invalid
EIDR ID) are skipped and reported with their line numbers; when an ID occurs on several lines the last one wins.
Everything happens in one transaction under an advisory lock, so a failed load leaves the previous registry and
two concurrent loads serialise. ``prune`` (for full extracts only) also deletes records the file no longer has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine

from vodflow.eidr.pg_registry import DEFAULT_TABLE, checked_table, psycopg_connection
from vodflow.eidr.records import RecordError, parse_line
from vodflow.ingest.load import copy_rows

MAX_ISSUES = 50
"""Line issues kept with their text for the report; beyond that they are only counted (memory stays bounded)."""
PROGRESS_EVERY = 50_000
BULK_MIN_ROWS = 50_000
BULK_SHARE = 0.25
"""A load that writes at least BULK_MIN_ROWS rows, and more than this share of the table, rebuilds its indexes."""

_STAGE_COLUMNS = (
    "line_no",
    "eidr_id",
    "referent_type",
    "title",
    "title_norm",
    "release_year",
    "runtime_minutes",
    "directors",
    "language",
    "country",
    "imdb_id",
    "parent_eidr_id",
    "record_hash",
)
_DATA_COLUMNS = _STAGE_COLUMNS[1:]

Progress = Callable[[int], None]


@dataclass(frozen=True)
class LineIssue:
    """A line that was skipped, or whose optional fields were dropped, and why."""

    line_no: int
    message: str


@dataclass
class _Tally:
    lines: int = 0
    records: int = 0
    skipped: int = 0
    with_dropped_fields: int = 0
    issues: list[LineIssue] = field(default_factory=list)
    notes: list[LineIssue] = field(default_factory=list)


@dataclass(frozen=True)
class RegistryLoadReport:
    """What a load did. ``records == added + changed + unchanged + duplicates``."""

    lines: int
    records: int
    added: int
    changed: int
    unchanged: int
    duplicates: int
    skipped: int
    pruned: int
    with_dropped_fields: int
    issues: tuple[LineIssue, ...]
    notes: tuple[LineIssue, ...]

    def as_dict(self) -> dict[str, int]:
        """The counts (not the issues), for logs, events and JSON output."""
        names = ("lines", "records", "added", "changed", "unchanged", "duplicates", "skipped", "pruned")
        return {name: getattr(self, name) for name in names} | {"with_dropped_fields": self.with_dropped_fields}


def _stage_rows(path: Path, tally: _Tally, on_progress: Progress | None) -> Iterator[tuple[Any, ...]]:
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if on_progress is not None and line_no % PROGRESS_EVERY == 0:
                on_progress(line_no)
            try:
                text = raw.decode("utf-8").lstrip("\ufeff")
            except UnicodeDecodeError:
                text = None
            if text is not None and not text.strip():
                continue
            tally.lines += 1
            try:
                if text is None:
                    raise RecordError(line_no, "not UTF-8")
                parsed = parse_line(text, line_no)
            except RecordError as exc:
                tally.skipped += 1
                if len(tally.issues) < MAX_ISSUES:
                    tally.issues.append(LineIssue(line_no, exc.reason))
                continue
            if parsed.dropped:
                tally.with_dropped_fields += 1
                if len(tally.notes) < MAX_ISSUES:
                    tally.notes.append(LineIssue(line_no, "unusable value dropped: " + ", ".join(parsed.dropped)))
            tally.records += 1
            r = parsed.record
            yield (
                line_no,
                r.eidr_id,
                r.referent_type,
                r.title,
                r.title_norm,
                r.release_year,
                r.runtime_minutes,
                list(r.directors),
                r.language,
                r.country,
                r.imdb_id,
                r.parent_eidr_id,
                r.record_hash(),
            )


def _is_bulk(cur: psycopg.Cursor[Any], table: str) -> bool:
    """Whether the load writes many rows next to the table's size: then indexes are rebuilt, not updated."""
    cur.execute(
        f"""
        select count(*), (select greatest(reltuples, 0)::bigint from pg_class where oid = %s::regclass)
          from (select distinct on (eidr_id) eidr_id, record_hash from eidr_stage order by eidr_id, line_no desc) s
          left join {table} t using (eidr_id)
         where t.record_hash is distinct from s.record_hash
        """,
        (table,),
    )
    row = cur.fetchone()
    to_write, size = (int(row[0]), int(row[1])) if row else (0, 0)
    return to_write >= BULK_MIN_ROWS and to_write > BULK_SHARE * size


def _drop_secondary_indexes(cur: psycopg.Cursor[Any], table: str) -> list[str]:
    """Drop the table's indexes that back no constraint; return their definitions to recreate them.

    Inserting a million titles into trigram GIN and GiST indexes one by one is several times slower than
    building the indexes afresh; reading the definitions from the catalogue keeps the migration the only place
    that declares them. The drop is transactional: a failed load gets its indexes back with its rows.
    """
    schema, name = table.split(".")
    cur.execute(
        """
        select i.indexname, i.indexdef from pg_indexes i
         where i.schemaname = %s and i.tablename = %s
           and not exists (select 1 from pg_constraint c where c.conindid = format('%%I.%%I', i.schemaname,
                                                                                   i.indexname)::regclass)
        """,
        (schema, name),
    )
    indexes = cur.fetchall()
    for index_name, _ in indexes:
        cur.execute(f'drop index "{schema}"."{index_name}"')
    return [definition for _, definition in indexes]


def load_registry(
    engine: Engine,
    path: Path,
    *,
    table: str = DEFAULT_TABLE,
    prune: bool = False,
    on_progress: Progress | None = None,
) -> RegistryLoadReport:
    """Load the extract at ``path`` into ``table``; see the module docstring. ``on_progress(lines_read)``."""
    table = checked_table(table)
    tally = _Tally()
    updates = ", ".join(f"{name} = excluded.{name}" for name in _DATA_COLUMNS[1:])
    with psycopg_connection(engine) as conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"vodflow.eidr.registry.{table}",))
        # A big extract builds trigram index entries for every new title: give that work room.
        cur.execute("select set_config('work_mem', '64MB', true), set_config('maintenance_work_mem', '256MB', true)")
        cur.execute(
            f"create temp table eidr_stage on commit drop as "
            f"select 0 as line_no, {', '.join(_DATA_COLUMNS)} from {table} with no data"
        )
        copy_rows(conn, "eidr_stage", _STAGE_COLUMNS, _stage_rows(path, tally, on_progress))
        cur.execute("create index on eidr_stage (eidr_id, line_no)")
        cur.execute("analyze eidr_stage")
        rebuild = _drop_secondary_indexes(cur, table) if _is_bulk(cur, table) else []
        cur.execute(
            f"""
            with latest as (
                select distinct on (eidr_id) * from eidr_stage order by eidr_id, line_no desc
            ), upserted as (
                insert into {table} as t ({", ".join(_DATA_COLUMNS)})
                select {", ".join(_DATA_COLUMNS)} from latest
                on conflict (eidr_id) do update set {updates}, loaded_at = now()
                 where t.record_hash <> excluded.record_hash
                returning (xmax = 0) as was_inserted
            )
            select count(*) filter (where was_inserted), count(*) filter (where not was_inserted),
                   (select count(distinct eidr_id) from eidr_stage)
              from upserted
            """
        )
        added, changed, distinct = cur.fetchone()  # type: ignore[misc]
        pruned = 0
        if prune:
            cur.execute(
                f"delete from {table} t where not exists (select 1 from eidr_stage s where s.eidr_id = t.eidr_id)"
            )
            pruned = cur.rowcount
        for definition in rebuild:
            cur.execute(definition)
        if added or changed or pruned:
            cur.execute(f"analyze {table}")  # fresh statistics, or the first searches are planned blind
    return RegistryLoadReport(
        lines=tally.lines,
        records=tally.records,
        added=int(added),
        changed=int(changed),
        unchanged=int(distinct) - int(added) - int(changed),
        duplicates=tally.records - int(distinct),
        skipped=tally.skipped,
        pruned=pruned,
        with_dropped_fields=tally.with_dropped_fields,
        issues=tuple(tally.issues),
        notes=tuple(tally.notes),
    )
