"""harbor: deterministic CSV drops (exact header, imperfections, bad rows, revisions), faults and big files."""

from __future__ import annotations

import csv
import io
import os
import re
import tracemalloc
from collections import Counter
from datetime import datetime

import pytest

from vodflow.eidr.ids import check
from vodflow.sandbox import atomic
from vodflow.sandbox.catalogue import lumina_split
from vodflow.sandbox.harbor import HEADER, HarborBadKind, deliberately_bad, write_drop, write_large_drop

pytestmark = pytest.mark.timeout(60)

CONTRACT = "provider_asset_id,asset_type,title,release_year,runtime_minutes,language,genres,imdb_id,eidr_id,updated_at"


def read(path, encoding="utf-8-sig", delimiter=","):
    with open(path, newline="", encoding=encoding) as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def row_breaks(row):
    """Which rules a row breaks, computed from its values (independently of the listing)."""
    found = set()
    if row["title"] == "":
        found.add(HarborBadKind.EMPTY_TITLE)
    if row["runtime_minutes"] and not row["runtime_minutes"].isdigit():
        found.add(HarborBadKind.RUNTIME_NOT_A_NUMBER)
    if row["release_year"] and int(row["release_year"]) > 2026:
        found.add(HarborBadKind.YEAR_3020)
    if row["eidr_id"] and not check(row["eidr_id"]).is_valid:
        found.add(HarborBadKind.EIDR_CHECK_CHARACTER)
    if row["asset_type"] != "movie":
        found.add(HarborBadKind.UNKNOWN_TYPE)
    return found


@pytest.fixture(scope="module")
def default_drop(tmp_path_factory):
    return write_drop(tmp_path_factory.mktemp("harbor"))


def test_the_header_is_the_contract_and_rows_parse(default_drop):
    raw = default_drop.path.read_bytes()
    assert raw.startswith(CONTRACT.encode() + b"\r\n")  # no BOM by default, RFC 4180 line ends
    rows = read(default_drop.path)
    assert default_drop.rows == len(rows) == 1000 and default_drop.bytes == len(raw)
    assert tuple(rows[0]) == HEADER
    assert len({r["provider_asset_id"] for r in rows}) == 1000
    for row in rows:
        assert re.fullmatch(r"HBR\d{7,}", row["provider_asset_id"])
        assert row["imdb_id"] == "" or re.fullmatch(r"tt\d+", row["imdb_id"])
        stamp = datetime.fromisoformat(row["updated_at"].replace("Z", "+00:00"))
        assert stamp.tzinfo is not None and stamp.year == 2026
        assert row["genres"] == "" or all(g.strip() == g and g for g in row["genres"].split(", "))
    multi = next(r for r in rows if "," in r["genres"])
    assert f'"{multi["genres"]}"' in raw.decode()  # quoted because it holds commas


def test_imperfections_are_all_present(default_drop):
    rows = read(default_drop.path)
    titles = [r["title"] for r in rows]
    assert any(t.isupper() for t in titles) and any(t.islower() for t in titles)
    assert any(re.search(r", (The|A|An)$", t) for t in titles)
    assert any(t.endswith(" (HD)") for t in titles) and any(t.endswith(" [Remastered]") for t in titles)
    assert 20 < sum(r["release_year"] == "" for r in rows) < 100
    languages = Counter(r["language"] for r in rows)
    assert languages["English"] > 100 and languages["en"] > 50 and languages["eng"] > 50
    assert any(r["updated_at"].endswith("+02:00") for r in rows) and any(r["updated_at"].endswith("Z") for r in rows)
    assert any(r["eidr_id"] and not r["eidr_id"].startswith("10.5240/") for r in rows)
    assert 0.35 < sum(r["eidr_id"] == "" for r in rows) / len(rows) < 0.55


def test_the_shared_slice_matches_lumina(default_drop):
    rows = read(default_drop.path)
    lumina = {film.imdb_id for film in lumina_split(250).catalogue}
    assert len({r["imdb_id"] for r in rows[:150]} & lumina) > 120


def test_bad_rows_are_listed_and_really_bad(default_drop, sandbox, admin):
    rows = read(default_drop.path)
    observed = {r["provider_asset_id"]: {k.value for k in row_breaks(r)} for r in rows if row_breaks(r)}
    listed = deliberately_bad(1000)
    assert observed == {b.id: {b.kind} for b in listed}
    assert len(listed) == 10 and {b.kind for b in listed} == {k.value for k in HarborBadKind}
    assert admin.bad_items("harbor") == [b.to_json() for b in deliberately_bad(100)]  # the server's harbor_rows
    assert admin.bad_items("harbor", rows=1000) == [b.to_json() for b in listed]


def test_drops_are_deterministic_and_clean_drops_are_clean(tmp_path, default_drop):
    again = write_drop(tmp_path / "again")
    assert again.path.read_bytes() == default_drop.path.read_bytes()
    clean = read(write_drop(tmp_path / "clean", 300, imperfections=[], bad_rows=False).path)
    assert not any(row_breaks(r) for r in clean)
    assert not any(r["title"].endswith(("(HD)", "[Remastered]")) for r in clean)
    assert all(r["release_year"] for r in clean)


def test_offset_and_revision(tmp_path, default_drop):
    first = read(default_drop.path)
    shifted = read(write_drop(tmp_path, 10, offset=995).path)
    assert [r["provider_asset_id"] for r in shifted[:5]] == [r["provider_asset_id"] for r in first[995:]]
    revised = read(write_drop(tmp_path, 1000, revision=2).path)
    assert [r["provider_asset_id"] for r in revised] == [r["provider_asset_id"] for r in first]
    changed = [(a, b) for a, b in zip(first, revised, strict=True) if a != b]
    assert 150 < len(changed) < 250  # ~10% per round, two rounds
    bad = {b.id for b in deliberately_bad(1000)}
    for before, after in changed:
        assert after["provider_asset_id"] not in bad
        assert after["updated_at"][:10] in {"2026-11-01", "2026-11-02"}
        assert {k for k in HEADER if before[k] != after[k]} - {"updated_at"} <= {"runtime_minutes", "title"}


def test_bom(tmp_path):
    drop = write_drop(tmp_path, 5, bom=True)
    raw = drop.path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + CONTRACT.encode())
    assert len(read(drop.path)) == 5


def test_wrong_header_and_missing_column(tmp_path):
    wrong = write_drop(tmp_path, 20, fault="wrong_header")
    header = wrong.path.read_text().splitlines()[0].split(",")
    assert header != list(HEADER) and {"asset_id", "year"} <= set(header) and len(header) == 10
    missing = write_drop(tmp_path, 20, fault="missing_column")
    rows = list(csv.reader(io.StringIO(missing.path.read_text(), newline="")))
    assert rows[0] == [c for c in HEADER if c != "eidr_id"] and all(len(r) == 9 for r in rows)


def test_semicolon_delimiter(tmp_path):
    drop = write_drop(tmp_path, 20, fault="semicolon")
    text = drop.path.read_text()
    assert text.splitlines()[0] == CONTRACT.replace(",", ";")
    assert len(read(drop.path)[0]) == 1  # read with the contract's comma: one column
    assert len(read(drop.path, delimiter=";")) == 20


@pytest.mark.parametrize("rows", [1, 20])
def test_latin1_is_not_utf8(tmp_path, rows):
    drop = write_drop(tmp_path, rows, fault="latin1", bom=True)
    raw = drop.path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    decoded = read(drop.path, encoding="latin-1")
    assert len(decoded) == rows and any(not r["title"].isascii() for r in decoded)


def test_empty_file(tmp_path):
    drop = write_drop(tmp_path, 20, fault="empty")
    assert drop.path.stat().st_size == 0 and drop.rows == 0


def test_duplicate_id_puts_the_older_version_last(tmp_path):
    drop = write_drop(tmp_path, 20, fault="duplicate_id")
    rows = read(drop.path)
    assert len(rows) == drop.rows == 21
    key = drop.details["provider_asset_id"]
    copies = [r for r in rows if r["provider_asset_id"] == key]
    assert len(copies) == 2 and copies[1] == rows[-1]
    newer, older = copies
    assert datetime.fromisoformat(older["updated_at"].replace("Z", "+00:00")) < datetime.fromisoformat(
        newer["updated_at"].replace("Z", "+00:00")
    )
    assert older["runtime_minutes"] != newer["runtime_minutes"]
    assert Counter(r["provider_asset_id"] for r in rows).most_common(2)[1][1] == 1


def test_bad_value(tmp_path):
    drop = write_drop(tmp_path, 20, fault="bad_value")
    rows = read(drop.path)
    hit = [r for r in rows if r["release_year"] == "MMXI"]
    assert [r["provider_asset_id"] for r in hit] == [drop.details["provider_asset_id"]]


def test_write_then_rename(tmp_path, monkeypatch):
    renames = []
    real_replace = os.replace

    def spy(source, target):
        renames.append((os.path.basename(source), os.path.basename(target), os.path.getsize(source)))
        assert not os.path.exists(target)  # the target appears only when complete
        real_replace(source, target)

    monkeypatch.setattr(atomic.os, "replace", spy)
    drop = write_drop(tmp_path, 50)
    [(source, target, size)] = renames
    assert source.startswith(f".{target}.") and target == drop.path.name and size == drop.bytes
    assert [p.name for p in tmp_path.iterdir()] == [drop.path.name]


def test_bad_arguments(tmp_path):
    for kwargs in ({"rows": 0}, {"rows": 10, "offset": 3150}, {"rows": 4000}, {"rows": 5, "revision": -1}):
        with pytest.raises(ValueError):
            write_drop(tmp_path, **kwargs)
    with pytest.raises(ValueError):
        write_drop(tmp_path, 5, fault="zip")
    with pytest.raises(ValueError):
        write_large_drop(tmp_path)


def test_large_drop_streams_in_bounded_memory(tmp_path):
    write_large_drop(tmp_path, rows=10)  # warm the cached base rows outside the measurement
    tracemalloc.start()
    try:
        drop = write_large_drop(tmp_path, target_bytes=3_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 3_000_000 <= drop.bytes < 3_300_000
    assert peak < 1_000_000, peak  # a chunk of rows at a time, whatever the size
    with open(drop.path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        assert tuple(next(reader)) == HEADER
        ids = Counter(row[0] for row in reader)
    assert sum(ids.values()) == drop.rows > 3150 * 5 and ids.most_common(1)[0][1] == 1
    assert any(key.endswith("-c1") for key in ids)
    exact = write_large_drop(tmp_path, rows=5000, bom=True, name="exact.csv")
    assert exact.rows == 5000 and len(read(exact.path)) == 5000
