"""harbor (CSV drops) through ``ingest-harbor``: every file loaded (counts add up) or rejected whole, never lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from flows.drops import ingest_harbor
from tests.providers.conftest import Drops
from tests.providers.helpers import adds_up, ledger, listing, loads, quarantine_checks, quarantined_ids, rows, run
from vodflow.ingest.drop_ledger import claim_files, file_outcomes
from vodflow.ingest.drops import DropPathError
from vodflow.providers.harbor import HEADER
from vodflow.sandbox import harbor as sandbox

ROWS = 200


def _reason(folder: Path, name: str) -> str:
    return (folder / "rejected" / f"{name}.reason").read_text()


def test_a_drop_loads_quarantines_its_bad_rows_and_is_archived(stack: Engine, drops: Drops) -> None:
    drop = sandbox.write_drop(drops.harbor, ROWS)
    bad = {flaw.id for flaw in sandbox.deliberately_bad(ROWS)}
    result, error = run(ingest_harbor, path=drop.path.name, transform=False)
    assert error is None and result is not None
    assert adds_up(result)
    assert result["received"] == ROWS and result["quarantined"] == len(bad) >= 5
    assert result["inserted"] == ROWS - len(bad) == rows(stack, "harbor")
    assert "eidr" in result  # new rows are matched to EIDR, as after an API load
    assert quarantined_ids(stack, "harbor") == bad
    assert listing(drops.harbor) == {"top": [], "archive": [drop.path.name], "rejected": []}
    [entry] = ledger(stack, "harbor")
    assert entry["outcome"] == "loaded" and entry["stored_as"] == f"archive/{drop.path.name}"
    assert entry["bytes"] == drop.bytes and len(entry["sha256"]) == 64
    assert entry["load_id"] == loads(stack, "harbor")[0]["load_id"]
    with stack.connect() as conn:  # a file has no place in a timeline: the cursor is untouched
        assert conn.execute(text("select count(*) from ops.ingest_cursors where provider = 'harbor'")).scalar() == 0
        language, genres = conn.execute(
            text("select language, genres from raw.assets where provider = 'harbor' and genres is not null limit 1")
        ).one()
    assert language is None or len(language) in (2, 3)
    assert all(genre == genre.strip() and genre for genre in genres)


def test_bom_and_no_bom_load_the_same_rows(stack: Engine, drops: Drops) -> None:
    sandbox.write_drop(drops.harbor, 50, bom=True, name="with_bom.csv")
    first, _ = run(ingest_harbor, path="with_bom.csv", transform=False)
    sandbox.write_drop(drops.harbor, 50, name="without_bom.csv")
    second, _ = run(ingest_harbor, path="without_bom.csv", transform=False)
    assert first is not None and second is not None
    assert first["inserted"] == 50 - first["quarantined"]
    assert second["inserted"] == second["updated"] == 0 and second["unchanged"] == first["inserted"]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("wrong_header", ["missing columns provider_asset_id, release_year", "unexpected columns 'asset_id', 'year'"]),
        ("missing_column", ["missing column eidr_id"]),
        ("semicolon", ["wrong delimiter", "semicolons"]),
        ("latin1", ["wrong encoding", "not valid UTF-8"]),
        ("empty", ["empty file"]),
    ],
)
def test_a_broken_file_is_rejected_whole_with_its_reason(
    stack: Engine, drops: Drops, fault: str, expected: list[str]
) -> None:
    drop = sandbox.write_drop(drops.harbor, 40, fault=fault)
    result, error = run(ingest_harbor, path=drop.path.name, transform=False)
    assert result is None and error is not None and drop.path.name in error
    reason = _reason(drops.harbor, drop.path.name)
    for phrase in expected:
        assert phrase in reason and phrase in error
    assert rows(stack, "harbor") == 0
    assert listing(drops.harbor) == {
        "top": [],
        "archive": [],
        "rejected": sorted([drop.path.name, f"{drop.path.name}.reason"]),
    }
    [entry] = ledger(stack, "harbor")
    assert entry["outcome"] == "rejected" and entry["reason"] in reason and entry["bytes"] == drop.bytes
    [audit] = loads(stack, "harbor")
    assert audit["status"] == "failed" and "rejected" in audit["error"]


def test_a_bad_value_is_quarantined_and_the_rest_loads(stack: Engine, drops: Drops) -> None:
    drop = sandbox.write_drop(drops.harbor, 60, fault="bad_value", bad_rows=False)
    result, _ = run(ingest_harbor, path=drop.path.name, transform=False)
    assert result is not None and adds_up(result)
    assert result["quarantined"] == 1 and result["inserted"] == 59
    assert quarantine_checks(stack, "harbor", drop.details["provider_asset_id"]) == {"release_year_not_integer"}


def test_header_only_loads_zero_rows(stack: Engine, drops: Drops) -> None:
    (drops.harbor / "header_only.csv").write_text(",".join(HEADER) + "\r\n")
    result, _ = run(ingest_harbor, path="header_only.csv", transform=False)
    assert result is not None and result["received"] == 0 and adds_up(result)
    assert listing(drops.harbor)["archive"] == ["header_only.csv"]


def test_duplicate_id_keeps_the_newest_updated_at_not_the_last_row(stack: Engine, drops: Drops) -> None:
    drop = sandbox.write_drop(drops.harbor, 30, fault="duplicate_id", bad_rows=False)
    result, _ = run(ingest_harbor, path=drop.path.name, transform=False)
    assert result is not None and adds_up(result)
    assert result["served"] == 31 and result["deduplicated"] == 1 and result["received"] == 30
    newer = drop.details["newer"]
    with stack.connect() as conn:
        runtime = conn.execute(
            text("select runtime_minutes from raw.assets where provider_asset_id = :id"),
            {"id": newer["provider_asset_id"]},
        ).scalar()
    assert str(runtime) == newer["runtime_minutes"]


def test_the_newest_version_wins_across_chunks(stack: Engine, drops: Drops, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VODFLOW_DROP_CHUNK_ROWS", "7")
    drop = sandbox.write_drop(drops.harbor, 30, fault="duplicate_id", bad_rows=False)
    result, _ = run(ingest_harbor, path=drop.path.name, transform=False)
    assert result is not None and adds_up(result) and result["deduplicated"] == 1
    with stack.connect() as conn:
        runtime = conn.execute(
            text("select runtime_minutes from raw.assets where provider_asset_id = :id"),
            {"id": drop.details["provider_asset_id"]},
        ).scalar()
    assert str(runtime) == drop.details["newer"]["runtime_minutes"]


def test_the_same_file_dropped_twice_loads_nothing_new(stack: Engine, drops: Drops) -> None:
    drop = sandbox.write_drop(drops.harbor, 80)
    content = drop.path.read_bytes()
    first, _ = run(ingest_harbor, path=drop.path.name, transform=False)
    with stack.connect() as conn:
        before = conn.execute(
            text("select md5(string_agg(row_hash || loaded_at::text, ',' order by 1)) from raw.assets")
        ).scalar()
    (drops.harbor / ".again.part").write_bytes(content)
    os.replace(drops.harbor / ".again.part", drop.path)
    second, _ = run(ingest_harbor, transform=False)
    assert first is not None and second is not None and adds_up(second)
    assert second["inserted"] == second["updated"] == 0
    assert second["unchanged"] == first["inserted"] and second["quarantined"] == first["quarantined"]
    with stack.connect() as conn:
        after = conn.execute(
            text("select md5(string_agg(row_hash || loaded_at::text, ',' order by 1)) from raw.assets")
        ).scalar()
        seen = conn.execute(text("select max(times_seen) from ops.quarantine")).scalar()
    assert after == before and seen == 2
    entries = ledger(stack, "harbor")
    assert [e["sha256"] for e in entries] == [entries[0]["sha256"]] * 2
    assert len(listing(drops.harbor)["archive"]) == 2  # the earlier copy is kept, the newcomer time-stamped
    [latest] = file_outcomes(stack, "harbor", [drop.path.name])  # what `vodflow ingest --path --wait` prints
    assert latest["outcome"] == "loaded" and latest["inserted"] == 0 and latest["unchanged"] == second["unchanged"]


def test_a_newer_revision_updates_changed_rows(stack: Engine, drops: Drops) -> None:
    sandbox.write_drop(drops.harbor, 300, revision=0, name="r0.csv")
    sandbox.write_drop(drops.harbor, 300, revision=1, name="r1.csv")
    result, _ = run(ingest_harbor, path=["r0.csv", "r1.csv"], transform=False)
    assert result is not None and result["loaded"] == ["r0.csv", "r1.csv"]
    second = result["files"][1]
    assert adds_up(second) and second["updated"] > 10 and second["inserted"] == 0


def test_rows_with_the_wrong_number_of_fields_are_quarantined(stack: Engine, drops: Drops) -> None:
    lines = [",".join(HEADER)]
    lines += [f"HBR{n:07d},movie,Film {n},2001,90,en,Drama,,,2026-01-0{1 + n % 9}T00:00:00Z" for n in range(10)]
    lines.append("HBR9999999,movie,Short row,2001,90")
    (drops.harbor / "ragged.csv").write_text("\r\n".join(lines) + "\r\n\r\n")
    result, _ = run(ingest_harbor, path="ragged.csv", transform=False)
    assert result is not None and adds_up(result) and result["inserted"] == 10 and result["quarantined"] == 1
    assert quarantine_checks(stack, "harbor", "HBR9999999") == {"mappable"}


def test_an_encoding_error_after_the_first_chunks_rolls_everything_back(
    stack: Engine, drops: Drops, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VODFLOW_DROP_CHUNK_ROWS", "10")
    body = [",".join(HEADER)] + [f"HBR{n:07d},movie,Film {n},2001,90,en,,,,2026-01-01T00:00:00Z" for n in range(500)]
    data = (
        "\r\n".join(body) + "\r\n"
    ).encode() + "HBR0000999,movie,Caf\xe9,2001,90,fr,,,,2026-01-01T00:00:00Z\r\n".encode("latin-1")
    (drops.harbor / "late_latin1.csv").write_bytes(data)
    result, error = run(ingest_harbor, path="late_latin1.csv", transform=False)
    assert result is None and error is not None and "not valid UTF-8 (byte 0xe9 near line" in error
    assert rows(stack, "harbor") == 0
    with stack.connect() as conn:
        assert conn.execute(text("select count(*) from ops.quarantine")).scalar() == 0


def test_too_many_bad_rows_reject_the_file(stack: Engine, drops: Drops) -> None:
    body = [",".join(HEADER)] + [f"HBR{n:07d},movie,Film {n},MMXI,90,en,,,,2026-01-01T00:00:00Z" for n in range(30)]
    (drops.harbor / "mostly_bad.csv").write_text("\r\n".join(body) + "\r\n")
    result, error = run(ingest_harbor, path="mostly_bad.csv", transform=False)
    assert result is None and error is not None and "too many bad rows: 30 of 30" in error
    assert rows(stack, "harbor") == 0 and listing(drops.harbor)["rejected"] == [
        "mostly_bad.csv",
        "mostly_bad.csv.reason",
    ]


@pytest.mark.parametrize(
    "path",
    [
        "../outside.csv",
        "/etc/passwd",
        "archive/old.csv",
        "sub/../../outside.csv",
        ".hidden.csv",
        "x.csv.part",
        "notes.txt",
    ],
)
def test_paths_outside_the_folder_or_not_ready_fail_before_reading(stack: Engine, drops: Drops, path: str) -> None:
    outside = drops.harbor.parent / "outside.csv"
    sandbox.write_drop(drops.harbor.parent, 10, name="outside.csv")
    with pytest.raises(DropPathError):
        ingest_harbor(path=path, transform=False)
    assert outside.exists() and rows(stack, "harbor") == 0 and ledger(stack, "harbor") == []


def test_a_symlink_is_rejected_without_touching_its_target(stack: Engine, drops: Drops) -> None:
    target = sandbox.write_drop(drops.harbor.parent, 10, name="secret.csv").path
    (drops.harbor / "link.csv").symlink_to(target)
    result, error = run(ingest_harbor, path="link.csv", transform=False)
    assert result is None and error is not None and "symbolic link" in error
    assert target.exists() and rows(stack, "harbor") == 0
    assert (drops.harbor / "rejected" / "link.csv").is_symlink()
    [entry] = ledger(stack, "harbor")
    assert entry["sha256"] is None and entry["outcome"] == "rejected"


def test_no_path_ingests_every_waiting_file_and_ignores_temporary_names(stack: Engine, drops: Drops) -> None:
    sandbox.write_drop(drops.harbor, 20, name="a.csv", bad_rows=False)
    sandbox.write_drop(drops.harbor, 20, offset=20, name="b.CSV", bad_rows=False)
    for ignored in (".a.csv.x1.part", "c.csv.tmp", "d.csv.part", "notes.txt"):
        (drops.harbor / ignored).write_text("not for us")
    result, _ = run(ingest_harbor, transform=False)
    assert result is not None and sorted(result["loaded"]) == ["a.csv", "b.CSV"]
    assert result["received"] == 40 and adds_up(result)
    assert listing(drops.harbor)["top"] == sorted([".a.csv.x1.part", "c.csv.tmp", "d.csv.part", "notes.txt"])


def test_a_file_another_run_holds_is_skipped(stack: Engine, drops: Drops) -> None:
    sandbox.write_drop(drops.harbor, 20, name="busy.csv")
    with claim_files(stack, "harbor", ["busy.csv"]) as claimed:
        assert claimed == ["busy.csv"]
        result, _ = run(ingest_harbor, path="busy.csv", transform=False)
    assert result is not None and result["skipped"] == ["busy.csv"] and rows(stack, "harbor") == 0
    assert (drops.harbor / "busy.csv").exists()
    gone, _ = run(ingest_harbor, path="gone.csv", transform=False)
    assert gone is not None and gone["skipped"] == ["gone.csv"]


def test_the_flow_builds_the_marts(stack: Engine, drops: Drops) -> None:
    sandbox.write_drop(drops.harbor, 30, name="marts.csv")
    result, _ = run(ingest_harbor, path="marts.csv")
    assert result is not None and "dbt" in result
    with stack.connect() as conn:
        dim = conn.execute(text("select count(*) from marts.dim_assets where provider = 'harbor'")).scalar()
    assert dim == result["inserted"]
