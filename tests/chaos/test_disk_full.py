"""Disk full in the data folder: a CSV drop's load fails cleanly, loses nothing, and converges once space is back.

The data folder (PostgreSQL's cluster and the drop folder) lives on a small tmpfs of its own, filled with ballast
until a few hundred kilobytes are left. Mounting needs the privilege to mount (root, or CAP_SYS_ADMIN): where it
is missing the test says so and does not run; docs/reliability.md says how else to try it.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.chaos.invariants import Served, assert_promise, check_served, record
from vodflow.db import embedded, migrate
from vodflow.db.engine import get_engine
from vodflow.db.urls import embedded_url
from vodflow.ingest.drop_load import LOADED, DropJob, ingest_stream_file
from vodflow.ingest.drops import DropFolder
from vodflow.net import free_port
from vodflow.providers.harbor import HARBOR
from vodflow.sandbox import harbor as sandbox
from vodflow.sandbox.harbor import drop_rows
from vodflow.settings import Settings

pytestmark = pytest.mark.slow

FILESYSTEM_MB = 192
LEFT_FREE = 256 * 1024
ROWS = 3000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={FILESYSTEM_MB}m,mode=0777", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a {FILESYSTEM_MB} MB tmpfs here ({mounted.stderr.strip()}): needs root")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def full_stack(small_disk: Path, postgres: Settings) -> Iterator[tuple[Settings, Engine]]:
    """A PostgreSQL of its own with its cluster on the small disk, migrated."""
    settings = dataclasses.replace(postgres, data_dir=small_disk / "data", pg_port=free_port(), database_url=None)
    embedded.start(settings)
    url = embedded_url(settings)
    migrate.upgrade(url)
    engine = get_engine(url)
    try:
        yield settings, engine
    finally:
        engine.dispose()
        embedded.stop(settings)


def fill(disk: Path, leave: int) -> Path:
    """Write a ballast file until only ``leave`` bytes are free."""
    ballast = disk / "ballast"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with ballast.open("wb") as handle:
        remaining = free - leave
        block = b"\0" * (1 << 20)
        while remaining > 0:
            remaining -= handle.write(block[: min(len(block), remaining)])
    return ballast


def served() -> list[Served]:
    result = []
    for row in drop_rows(ROWS):
        try:
            stamp = datetime.fromisoformat(str(HARBOR.map_item(row)["provider_updated_at"]).replace("Z", "+00:00"))
        except (TypeError, ValueError):
            stamp = None
        result.append(Served(str(row["provider_asset_id"]), stamp))
    return result


def test_a_load_on_a_full_disk_fails_cleanly_and_converges_once_space_is_back(
    small_disk: Path, full_stack: tuple[Settings, Engine]
) -> None:
    settings, engine = full_stack
    folder_path = small_disk / "drops" / "harbor"
    drop = sandbox.write_drop(folder_path, ROWS, name="full.csv")
    folder = DropFolder(HARBOR.name, folder_path, (".csv",))
    ballast = fill(small_disk, LEFT_FREE)

    with pytest.raises(Exception, match=r"No space left on device|could not extend|could not write") as failure:
        ingest_stream_file(HARBOR, DropJob(engine, folder), drop.path.name)
    assert drop.path.exists(), "the file must stay waiting when its load failed"

    ballast.unlink()
    started = time.monotonic()
    if embedded.running_pid(settings) is None:  # a PANIC on a WAL write stops the server: an operator restarts it
        embedded.start(settings)
    engine.dispose()
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from raw.assets")).scalar_one() == 0  # nothing partial
    outcome_file = ingest_stream_file(HARBOR, DropJob(engine, folder), drop.path.name)
    assert outcome_file.outcome == LOADED, outcome_file
    bad = {flaw.id for flaw in sandbox.deliberately_bad(ROWS)}
    outcome = check_served(engine, "harbor", served(), bad)
    with engine.connect() as conn:
        raw_rows = conn.execute(text("select count(*) from raw.assets where provider = 'harbor'")).scalar_one()
    record(
        "disk full in the data folder",
        f"{FILESYSTEM_MB} MB tmpfs (cluster + drops) filled to {LEFT_FREE // 1024} kB free, then a {ROWS:,}-row drop",
        outcome,
        time.monotonic() - started,
        note=f"load failed: {str(failure.value).splitlines()[0][:90]}; nothing partial; loaded after space freed",
    )
    assert_promise(outcome, raw_rows=int(raw_rows))
