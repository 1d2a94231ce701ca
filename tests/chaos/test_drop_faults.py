"""CSV drops under a racing producer: a file replaced while it is read, the same file dropped 5 times at once.

The real ``ingest-harbor`` flow on the session's Prefect server and PostgreSQL, files written by the provider
sandbox's harbor generator. What the producer served is the ground truth the promise is checked against.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from sqlalchemy import Engine, text

from flows.drops import ingest_harbor
from tests.chaos.invariants import Outcome, Served, assert_promise, check_served, record
from tests.providers.conftest import Drops
from tests.providers.helpers import adds_up, ledger, rows
from vodflow.providers.harbor import HARBOR, Harbor
from vodflow.sandbox import harbor as sandbox
from vodflow.sandbox.harbor import drop_rows as harbor_rows

ROWS = 600


def served(drop_rows: int, revision: int) -> list[Served]:
    """What a drop of ``drop_rows`` rows at ``revision`` serves: each row's id and ``updated_at`` as harbor maps it.

    A deliberately bad row may not map at all: its id is enough, it must end in quarantine.
    """
    result = []
    for row in harbor_rows(drop_rows, 0, revision):
        try:
            mapped = HARBOR.map_item(row)
        except (TypeError, ValueError):
            result.append(Served(str(row["provider_asset_id"]), None))
            continue
        stamp = datetime.fromisoformat(str(mapped["provider_updated_at"]).replace("Z", "+00:00"))
        result.append(Served(str(mapped["provider_asset_id"]), stamp))
    return result


def check(engine: Engine, drop_rows: int, revision: int) -> Outcome:
    bad = {flaw.id for flaw in sandbox.deliberately_bad(drop_rows)}
    return check_served(engine, "harbor", served(drop_rows, revision), bad)


@pytest.fixture
def harbor_stack(stack: Engine, drops: Drops, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, Path]]:
    monkeypatch.setenv("VODFLOW_DROP_CHUNK_ROWS", "100")  # six chunks: a read long enough to be raced
    yield stack, drops.harbor


def test_a_drop_replaced_while_it_is_read_loads_both_versions_and_the_newest_wins(
    harbor_stack: tuple[Engine, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine, folder = harbor_stack
    first = sandbox.write_drop(folder, ROWS, revision=0, name="catalogue.csv")
    newer = sandbox.write_drop(tmp_path, ROWS, revision=1, name="catalogue.csv")
    original = Harbor.read_chunks
    replaced: list[str] = []

    def read_and_race(self: Harbor, handle: BinaryIO, chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
        for number, chunk in enumerate(original(self, handle, chunk_rows)):
            yield chunk
            if number == 1 and not replaced:  # the producer writes the next delivery over the same name
                os.replace(newer.path, first.path)
                replaced.append(first.path.name)

    monkeypatch.setattr(Harbor, "read_chunks", read_and_race)
    started = time.monotonic()
    result = ingest_harbor(path="catalogue.csv", transform=False)
    took = time.monotonic() - started
    assert isinstance(result, dict) and replaced
    files = result["files"]
    assert [f["file"] for f in files] == ["catalogue.csv", "catalogue.csv"], files
    assert files[0]["replaced_by"] == "catalogue.csv" and all(adds_up(f) for f in files)
    assert files[0]["sha256"] != files[1]["sha256"]
    assert files[1]["updated"] > 0  # the newcomer's changed rows replaced the first delivery's
    archived = sorted(p.name for p in (folder / "archive").iterdir())
    assert len(archived) == 2 and not [p for p in folder.iterdir() if p.is_file()]
    # What the first run read is archived as it was read, under the name its ledger entry gives.
    entries = ledger(engine, "harbor")
    assert [e["sha256"] for e in entries] == [files[0]["sha256"], files[1]["sha256"]]
    for entry in entries:
        assert sandbox_sha(folder / entry["stored_as"]) == entry["sha256"]
    outcome = check(engine, ROWS, revision=1)
    record("CSV drop replaced while read", "file rewritten (rename over it) after 2 of 6 chunks", outcome, took)
    assert_promise(outcome, raw_rows=rows(engine, "harbor"))


def sandbox_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_same_file_dropped_five_times_at_once_is_one_effect(harbor_stack: tuple[Engine, Path]) -> None:
    engine, folder = harbor_stack
    drop = sandbox.write_drop(folder, ROWS, name="copy-0.csv")
    for number in range(1, 5):
        (folder / f".copy-{number}.part").write_bytes(drop.path.read_bytes())
        os.replace(folder / f".copy-{number}.part", folder / f"copy-{number}.csv")
    started = time.monotonic()
    with ThreadPoolExecutor(5) as pool:  # five runs at once, each asked for every waiting file
        results = list(pool.map(lambda _: ingest_harbor(transform=False), range(5)))
    took = time.monotonic() - started
    loaded = [f for r in results for f in r["files"] if f["outcome"] == "loaded"]
    assert sorted(f["file"] for f in loaded) == [f"copy-{n}.csv" for n in range(5)]  # each file read exactly once
    assert sum(f["inserted"] for f in loaded) == rows(engine, "harbor")
    assert sorted(f["inserted"] > 0 for f in loaded) == [False] * 4 + [True]
    with engine.connect() as conn:
        seen = conn.execute(text("select max(times_seen) from ops.quarantine where provider = 'harbor'")).scalar()
    assert seen == 5
    outcome = check(engine, ROWS, revision=0)
    record("same CSV dropped 5× at once", "5 copies, 5 runs started together", outcome, took)
    assert_promise(outcome, raw_rows=rows(engine, "harbor"))
