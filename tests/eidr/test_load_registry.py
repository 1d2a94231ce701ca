"""Loading the registry extract: idempotent, counted, bad lines reported by number and skipped."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from sqlalchemy import text

from tests.eidr.helpers import eidr, record, write_jsonl
from vodflow.eidr import load as load_module
from vodflow.eidr.load import load_registry

pytestmark = pytest.mark.timeout(60)

RECORDS = [
    record("matrix", "The Matrix", release_year=1999, runtime_minutes=136.0, imdb_id="tt0133093"),
    record("heat95", "Heat", release_year=1995, runtime_minutes=170),
    record("heat86", "Heat", release_year=1986),
]


def _rows(db):
    with db.connect() as conn:
        return {r.eidr_id: r for r in conn.execute(text("select * from raw.eidr_registry")).all()}


def test_load_twice_then_change(db, tmp_path):
    path = write_jsonl(tmp_path / "registry.jsonl", RECORDS)
    first = load_registry(db, path)
    assert (first.added, first.changed, first.unchanged, first.skipped) == (3, 0, 0, 0)
    again = load_registry(db, path)
    assert (again.added, again.changed, again.unchanged) == (0, 0, 3)
    loaded_at = {k: r.loaded_at for k, r in _rows(db).items()}

    changed = [{**RECORDS[0], "runtime_minutes": 138}, *RECORDS[1:], record("alien", "Alien", release_year=1979)]
    third = load_registry(db, write_jsonl(tmp_path / "registry2.jsonl", changed))
    assert (third.added, third.changed, third.unchanged) == (1, 1, 2)
    rows = _rows(db)
    assert rows[eidr("matrix")].runtime_minutes == 138
    assert rows[eidr("heat86")].loaded_at == loaded_at[eidr("heat86")]  # untouched rows are not rewritten
    assert rows[eidr("matrix")].title_norm == "matrix"


def test_bad_lines_are_reported_with_their_numbers_and_skipped(db, tmp_path):
    lines = [
        RECORDS[0],
        "{not json",
        {"title": "No ID"},
        {"eidr_id": eidr("x")},
        "",
        {"eidr_id": "10.5240/0000-0000-0000-0000-0000-0", "title": "Bad check character"},
        {**RECORDS[1], "release_year": "soon"},
        RECORDS[2],
    ]
    report = load_registry(db, write_jsonl(tmp_path / "registry.jsonl", lines))
    assert report.skipped == 4 and report.added == 3 and report.lines == 7
    assert [(i.line_no, i.message.split(" ")[0]) for i in report.issues] == [
        (2, "not"),
        (3, "missing"),
        (4, "missing"),
        (6, "invalid"),
    ]
    assert report.with_dropped_fields == 1 and report.notes[0].line_no == 7
    assert "eidr_check_character" in report.issues[3].message


def test_a_repeated_id_keeps_its_last_line(db, tmp_path):
    lines = [RECORDS[0], {**RECORDS[0], "title": "The Matrix Reloaded"}]
    report = load_registry(db, write_jsonl(tmp_path / "registry.jsonl", lines))
    assert (report.records, report.added, report.duplicates) == (2, 1, 1)
    assert _rows(db)[eidr("matrix")].title == "The Matrix Reloaded"


def test_prune_deletes_what_a_full_extract_no_longer_has(db, tmp_path):
    load_registry(db, write_jsonl(tmp_path / "all.jsonl", RECORDS))
    report = load_registry(db, write_jsonl(tmp_path / "fewer.jsonl", RECORDS[:2]), prune=True)
    assert report.pruned == 1 and set(_rows(db)) == {eidr("matrix"), eidr("heat95")}


def test_a_bulk_load_rebuilds_the_same_indexes(db, tmp_path, monkeypatch):
    def indexes():
        with db.connect() as conn:
            return sorted(
                conn.execute(
                    text("select indexdef from pg_indexes where schemaname = 'raw' and tablename = 'eidr_registry'")
                ).scalars()
            )

    before = indexes()
    monkeypatch.setattr(load_module, "BULK_MIN_ROWS", 1)
    report = load_registry(db, write_jsonl(tmp_path / "registry.jsonl", RECORDS))
    assert report.added == 3
    assert indexes() == before and len(before) >= 5


def _peak_memory_of_a_load(db, path, lines):
    with path.open("w") as handle:
        for i in range(lines):
            handle.write(json.dumps(record(f"r{i}", f"Title number {i}", release_year=1950 + i % 70)) + "\n")
    tracemalloc.start()
    try:
        assert load_registry(db, path).records == lines
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_however_long_the_file(db, tmp_path):
    small = _peak_memory_of_a_load(db, tmp_path / "small.jsonl", 6_000)
    large = _peak_memory_of_a_load(db, tmp_path / "large.jsonl", 18_000)
    assert large < small * 1.25 + 2**20, f"peak {small / 2**20:.1f} MiB for 6k lines, {large / 2**20:.1f} for 18k"
