"""The load promise against real PostgreSQL: idempotent, atomic, newest wins, counts add up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text

from tests.ingest.batches import ctx, item, load
from vodflow.ingest.load import LoadContext, load_batch, read_cursor, staged_load
from vodflow.ingest.validate import validate_items
from vodflow.providers.lumina import LUMINA


def snapshot(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("select provider_asset_id, title, row_hash, provider_updated_at from raw.assets order by 1")
            )
        )


def test_same_batch_twice_writes_nothing_the_second_time(db: Engine) -> None:
    items = [item(n) for n in range(1, 51)]
    first = load(db, items)
    assert (first.received, first.inserted, first.updated, first.unchanged) == (50, 50, 0, 0)
    before = snapshot(db)
    second = load(db, items)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 50)
    assert snapshot(db) == before
    with db.connect() as conn:
        audits = conn.execute(text("select received, inserted, unchanged from ops.loads order by finished_at")).all()
    assert audits == [(50, 50, 0), (50, 0, 50)]


def test_changed_row_is_updated_and_newer_range_adds_rows(db: Engine) -> None:
    load(db, [item(n) for n in range(1, 11)])
    changed = load(db, [item(1, title="Film One (restored)", updated_at="2026-03-02T00:00:00Z"), item(11)])
    assert (changed.inserted, changed.updated, changed.unchanged) == (1, 1, 0)
    with db.connect() as conn:
        assert conn.execute(text("select count(*) from raw.assets")).scalar() == 11
        title = conn.execute(text("select title from raw.assets where provider_asset_id = 'LUM-000001'")).scalar()
    assert title == "Film One (restored)"


def test_older_version_arriving_late_never_wins(db: Engine) -> None:
    load(db, [item(1, title="New", updated_at="2026-05-01T00:00:00Z")])
    late = load(db, [item(1, title="Old", updated_at="2026-04-01T00:00:00Z")])
    assert (late.updated, late.unchanged, late.stale) == (0, 1, 1)
    with db.connect() as conn:
        assert conn.execute(text("select title from raw.assets")).scalar() == "New"


def test_duplicate_keys_in_one_batch_keep_the_newest(db: Engine) -> None:
    counts = load(
        db,
        [
            item(1, title="v2", updated_at="2026-03-02T00:00:00Z"),
            item(1, title="v1", updated_at="2026-03-01T00:00:00Z"),
            item(2),
        ],
    )
    assert (counts.served, counts.deduplicated, counts.received, counts.inserted) == (3, 1, 2, 2)
    with db.connect() as conn:
        assert conn.execute(text("select title from raw.assets where provider_asset_id='LUM-000001'")).scalar() == "v2"


def test_quarantine_accounting_and_reasons(db: Engine) -> None:
    items = [
        item(1),
        item(2, title="   "),
        item(3, runtime_min=-5),
        item(4, identifiers={"imdb": None, "eidr": "10.5240/DF48-AB73-D4B3-8C9E-9A3F-7"}),
        item(5, type="short-film", year=3020),
        "not an object",
    ]
    counts = load(db, items)
    assert counts.received == counts.inserted + counts.updated + counts.unchanged + counts.quarantined
    assert (counts.inserted, counts.quarantined) == (1, 5)
    with db.connect() as conn:
        rows = dict(
            conn.execute(
                text(
                    "select coalesce(provider_asset_id, '?'), "
                    "(select array_agg(r->>'check' order by r->>'check') from jsonb_array_elements(reasons) r) "
                    "from ops.quarantine"
                )
            ).all()
        )
    assert rows["LUM-000002"] == ["title_not_blank"]
    assert rows["LUM-000003"] == ["runtime_minutes_positive"]
    assert rows["LUM-000004"] == ["eidr_check_character"]
    assert rows["LUM-000005"] == ["asset_type_known", "release_year_plausible"]
    assert rows["?"] == ["mappable"]
    again = load(db, items)
    assert again.quarantined == 5
    with db.connect() as conn:
        assert conn.execute(text("select count(*), min(times_seen) from ops.quarantine")).one() == (5, 2)


def test_crash_after_copy_before_commit_leaves_previous_state(db: Engine) -> None:
    load(db, [item(n) for n in range(1, 6)])
    before_rows, before_cursor = snapshot(db), read_cursor(db, "lumina")

    def kill_own_backend(conn: psycopg.Connection[Any]) -> None:
        pid = conn.info.backend_pid
        with psycopg.connect(db.url.set(drivername="postgresql").render_as_string(hide_password=False)) as killer:
            killer.execute("select pg_terminate_backend(%s)", (pid,))

    newer = [item(n, title=f"changed {n}", updated_at="2026-06-01T00:00:00Z") for n in range(1, 9)]
    with pytest.raises(Exception):  # noqa: B017 - the connection dies; the exact driver error does not matter
        load(db, newer, before_commit=kill_own_backend)
    assert snapshot(db) == before_rows
    assert read_cursor(db, "lumina") == before_cursor
    retry = load(db, newer)
    assert (retry.inserted, retry.updated) == (3, 5)
    assert read_cursor(db, "lumina") == datetime(2026, 6, 1, tzinfo=UTC)


def test_cursor_never_moves_backwards(db: Engine) -> None:
    load(db, [item(1, updated_at="2026-06-01T00:00:00Z")])
    load(db, [item(2, updated_at="2026-01-01T00:00:00Z")])
    assert read_cursor(db, "lumina") == datetime(2026, 6, 1, tzinfo=UTC)


def test_chunks_in_one_transaction_keep_the_newest_version_across_chunks(db: Engine) -> None:
    chunk_a = validate_items(
        "lumina", [item(1, title="old", updated_at="2026-03-01T00:00:00Z"), item(2)], LUMINA.map_item
    )
    chunk_b = validate_items(
        "lumina", [item(1, title="new", updated_at="2026-03-09T00:00:00Z"), item(3, title=" ")], LUMINA.map_item
    )
    with staged_load(db, ctx()) as staged:
        staged.add(chunk_a)
        staged.add(chunk_b)
        counts = staged.finish()
    assert (counts.served, counts.deduplicated, counts.received) == (4, 1, 3)
    assert (counts.inserted, counts.quarantined) == (2, 1)
    assert counts.received == counts.inserted + counts.updated + counts.unchanged + counts.quarantined
    with db.connect() as conn:
        assert conn.execute(text("select title from raw.assets where provider_asset_id='LUM-000001'")).scalar() == "new"
    assert read_cursor(db, "lumina") == datetime(2026, 3, 9, tzinfo=UTC)


def _window_ctx(start: datetime, end: datetime) -> LoadContext:
    now = datetime.now(UTC)
    return LoadContext("lumina", uuid.uuid4(), now, now, None, start, end)


def test_a_window_after_a_gap_loads_its_rows_but_leaves_the_cursor(db: Engine) -> None:
    """A backfill window beyond the cursor must not let the next incremental read skip the gap before it."""
    load(db, [item(1, updated_at="2026-03-01T00:00:00Z")])
    batch = validate_items("lumina", [item(2, updated_at="2026-05-02T00:00:00Z")], LUMINA.map_item)
    counts = load_batch(db, batch, _window_ctx(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 3, tzinfo=UTC)))
    assert counts.inserted == 1
    assert read_cursor(db, "lumina") == datetime(2026, 3, 1, tzinfo=UTC)
    with db.connect() as conn:
        audit = conn.execute(
            text("select cursor_before, cursor_after from ops.loads order by finished_at desc limit 1")
        ).one()
    assert tuple(audit) == (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))


def test_a_window_overlapping_the_cursor_moves_it_forward(db: Engine) -> None:
    load(db, [item(1, updated_at="2026-03-01T00:00:00Z")])
    batch = validate_items("lumina", [item(2, updated_at="2026-03-05T00:00:00Z")], LUMINA.map_item)
    load_batch(db, batch, _window_ctx(datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC)))
    assert read_cursor(db, "lumina") == datetime(2026, 3, 5, tzinfo=UTC)


def test_a_window_before_any_cursor_does_not_create_one(db: Engine) -> None:
    batch = validate_items("lumina", [item(2, updated_at="2026-03-05T00:00:00Z")], LUMINA.map_item)
    load_batch(db, batch, _window_ctx(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)))
    assert read_cursor(db, "lumina") is None
