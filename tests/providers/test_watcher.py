"""The drop watcher: a file renamed into a drop folder becomes a ``vodflow.drop.received`` event."""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.providers.conftest import Drops
from vodflow.ingest.drops import DropFolder
from vodflow.sandbox import harbor as sandbox
from vodflow.stack.watcher import EVENT, DropWatcher

Emitted = list[tuple[str, dict[str, str], dict[str, Any]]]


@pytest.fixture
def folder(drops: Drops) -> DropFolder:
    return DropFolder.for_provider("harbor", (".csv",))


def _running(watcher: DropWatcher) -> Iterator[DropWatcher]:
    # Prefect's test settings live in context variables, which a new thread does not inherit: pass them on.
    thread = threading.Thread(target=contextvars.copy_context().run, args=(watcher.run,), daemon=True)
    thread.start()
    time.sleep(0.5)  # the observer is scheduled and the first scan done
    try:
        yield watcher
    finally:
        watcher.stop()
        thread.join(timeout=15)
        assert not thread.is_alive()


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def emitted() -> Emitted:
    return []


@pytest.fixture
def watcher(folder: DropFolder, emitted: Emitted) -> Iterator[DropWatcher]:
    def emit(event: str, resource: dict[str, str], payload: dict[str, Any]) -> None:
        emitted.append((event, resource, payload))

    yield from _running(DropWatcher([folder], emit, settle=3.0, rescan=1.5))


def test_a_rename_is_announced_at_once_and_temporary_names_never(
    watcher: DropWatcher, emitted: Emitted, drops: Drops
) -> None:
    started = time.monotonic()
    drop = sandbox.write_drop(drops.harbor, 20, name="landed.csv")  # written as .landed.csv.XXXX.part, then renamed
    (drops.harbor / "upload.csv.tmp").write_text("half")
    (drops.harbor / "notes.txt").write_text("not a drop")
    assert _wait(lambda: any(p["path"] == "landed.csv" for _, _, p in emitted))
    assert time.monotonic() - started < 1.0
    event, resource, payload = emitted[0]
    assert event == EVENT and resource["prefect.resource.id"] == "vodflow.provider.harbor"
    assert payload == {"path": "landed.csv", "bytes": drop.bytes, "detected_by": "moved"}
    assert {p["path"] for _, _, p in emitted} == {"landed.csv"}


def test_a_file_written_in_place_is_announced_once_complete(
    watcher: DropWatcher, emitted: Emitted, drops: Drops
) -> None:
    with (drops.harbor / "in_place.csv").open("w") as handle:
        handle.write("provider_asset_id")
        handle.flush()
        time.sleep(0.6)
        assert emitted == []  # still open for writing: not yet
        handle.write(",asset_type\n")
    started = time.monotonic()
    assert _wait(lambda: len(emitted) == 1)
    assert time.monotonic() - started < 1.0  # announced on close, not after the settle time
    assert emitted[0][2]["path"] == "in_place.csv" and emitted[0][2]["bytes"] == len("provider_asset_id,asset_type\n")


def test_a_file_still_waiting_is_announced_again(watcher: DropWatcher, emitted: Emitted, drops: Drops) -> None:
    sandbox.write_drop(drops.harbor, 5, name="stuck.csv")
    assert _wait(lambda: [p["detected_by"] for _, _, p in emitted] == ["moved", "rescan"], timeout=6)
    os.unlink(drops.harbor / "stuck.csv")
    count = len(emitted)
    time.sleep(2)
    assert len(emitted) == count


def test_files_waiting_at_start_are_announced(folder: DropFolder, drops: Drops) -> None:
    sandbox.write_drop(drops.harbor, 5, name="early.csv")
    seen: Emitted = []
    for _ in _running(DropWatcher([folder], lambda e, r, p: seen.append((e, r, p)), rescan=60)):
        assert _wait(lambda: len(seen) == 1)
    assert seen[0][2]["path"] == "early.csv" and seen[0][2]["detected_by"] == "rescan"


@pytest.mark.slow
def test_the_event_reaches_the_prefect_server(prefect_server: None, folder: DropFolder, drops: Drops) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    name = f"e2e-{os.getpid()}-{time.time_ns()}.csv"
    for _ in _running(DropWatcher([folder], settle=0.3, rescan=60)):
        sandbox.write_drop(drops.harbor, 10, name=name)

        def arrived() -> bool:
            # A filter's time window ends when the filter is made: make it anew on every look.
            wanted = EventFilter(
                event=EventNameFilter(name=[EVENT]),
                resource=EventResourceFilter(id=["vodflow.provider.harbor"]),
            )
            with get_client(sync_client=True) as client:
                page = client.read_events(wanted, limit=50)
            return any(event.payload.get("path") == name for event in page.events)

        assert _wait(arrived, timeout=30)


def test_watcher_ignores_subfolders(watcher: DropWatcher, emitted: Emitted, drops: Drops, tmp_path: Path) -> None:
    (drops.harbor / "archive").mkdir()
    sandbox.write_drop(drops.harbor / "archive", 5, name="old.csv")
    time.sleep(1.0)
    assert emitted == []
