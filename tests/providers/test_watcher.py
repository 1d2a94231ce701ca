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
from vodflow.stack.drop_runs import InFlight, in_flight_from_parameters, prefect_runs_in_flight
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


def no_run_in_flight(provider: str) -> InFlight:
    return InFlight()


@pytest.fixture
def emitted() -> Emitted:
    return []


@pytest.fixture
def in_flight() -> dict[str, InFlight]:
    """What the watcher's scan is told runs have in hand, per provider (a test changes it as runs start and end)."""
    return {}


@pytest.fixture
def watcher(folder: DropFolder, emitted: Emitted, in_flight: dict[str, InFlight]) -> Iterator[DropWatcher]:
    def emit(event: str, resource: dict[str, str], payload: dict[str, Any]) -> None:
        emitted.append((event, resource, payload))

    def runs_in_flight(provider: str) -> InFlight:
        return in_flight.get(provider, InFlight())

    yield from _running(DropWatcher([folder], emit, settle=3.0, rescan=1.5, runs_in_flight=runs_in_flight))


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
    for _ in _running(
        DropWatcher([folder], lambda e, r, p: seen.append((e, r, p)), rescan=60, runs_in_flight=no_run_in_flight)
    ):
        assert _wait(lambda: len(seen) == 1)
    assert seen[0][2]["path"] == "early.csv" and seen[0][2]["detected_by"] == "rescan"


def test_a_file_in_a_runs_hands_is_not_announced_again_until_the_run_ends(
    watcher: DropWatcher, emitted: Emitted, drops: Drops, in_flight: dict[str, InFlight]
) -> None:
    in_flight["harbor"] = InFlight(frozenset({"busy.csv"}))  # its run waits for the provider's lock
    sandbox.write_drop(drops.harbor, 5, name="busy.csv")
    sandbox.write_drop(drops.harbor, 5, name="lost.csv")  # its event produced no run
    assert _wait(lambda: sum(p["detected_by"] == "rescan" for _, _, p in emitted) >= 2, timeout=6)
    announced = [(p["path"], p["detected_by"]) for _, _, p in emitted]
    assert announced.count(("busy.csv", "moved")) == 1 and ("busy.csv", "rescan") not in announced
    assert announced.count(("lost.csv", "rescan")) >= 2
    in_flight["harbor"] = InFlight()  # the run crashed and left the file
    assert _wait(lambda: ("busy.csv", "rescan") in [(p["path"], p["detected_by"]) for _, _, p in emitted], timeout=4)


def test_a_sweep_in_flight_holds_every_waiting_file(
    watcher: DropWatcher, emitted: Emitted, drops: Drops, in_flight: dict[str, InFlight]
) -> None:
    in_flight["harbor"] = InFlight(sweep=True)
    sandbox.write_drop(drops.harbor, 5, name="one.csv")
    sandbox.write_drop(drops.harbor, 5, name="two.csv")
    time.sleep(3.5)  # two scans
    assert sorted((p["path"], p["detected_by"]) for _, _, p in emitted) == [("one.csv", "moved"), ("two.csv", "moved")]


def test_what_runs_in_flight_cover_is_read_from_their_path_parameter() -> None:
    runs: list[dict[str, object]] = [{"path": "a.csv"}, {"path": ["b.csv", "c.csv"], "transform": False}]
    assert in_flight_from_parameters(runs) == InFlight(frozenset({"a.csv", "b.csv", "c.csv"}))
    assert not in_flight_from_parameters(runs).covers("d.csv")
    sweeps: list[dict[str, object]] = [{}, {"path": None}, {"path": "."}, {"path": " "}, {"path": []}]
    for sweep in sweeps:
        assert in_flight_from_parameters([*runs, sweep]).covers("d.csv"), sweep
    assert in_flight_from_parameters(runs, limit=2).covers("d.csv")  # saturated: announcing would only queue more


def test_a_watcher_that_cannot_ask_still_announces(folder: DropFolder, drops: Drops) -> None:
    seen: Emitted = []
    sandbox.write_drop(drops.harbor, 5, name="asked.csv")
    for _ in _running(
        DropWatcher([folder], lambda e, r, p: seen.append((e, r, p)), rescan=60, runs_in_flight=lambda _: None)
    ):
        assert _wait(lambda: len(seen) == 1)
    assert seen[0][2]["path"] == "asked.csv"


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


def test_a_server_that_does_not_answer_costs_the_scan_seconds_not_a_minute() -> None:
    """The watcher's loop touches its heartbeat: the question must not hang or retry while the server restarts."""
    import socket

    from prefect.settings import PREFECT_API_URL, temporary_settings

    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{silent.getsockname()[1]}/api"}):
            started = time.monotonic()
            assert prefect_runs_in_flight("harbor") is None
            took = time.monotonic() - started
    assert 4 < took < 10, took  # one read timeout (5 s), no retries


@pytest.mark.slow
def test_the_runs_in_flight_are_read_from_the_prefect_server(prefect_server: None) -> None:
    from datetime import UTC, datetime, timedelta

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import State
    from prefect.states import Completed, Running, Scheduled

    @flow(name="ingest-harbor")
    def ingest_harbor(path: str | None = None) -> None:
        """Stands in for the real flow: only its name and parameters matter here."""

    tag = f"{os.getpid()}-{time.time_ns()}"
    with get_client(sync_client=True) as client:
        running = client.create_flow_run(ingest_harbor, parameters={"path": f"running-{tag}.csv"}, state=Running())
        client.create_flow_run(ingest_harbor, parameters={"path": f"queued-{tag}.csv"}, state=Scheduled())
        client.create_flow_run(ingest_harbor, parameters={"path": f"done-{tag}.csv"}, state=Completed())
        later: State[None] = Scheduled(scheduled_time=datetime.now(UTC) + timedelta(hours=1))
        client.create_flow_run(ingest_harbor, parameters={}, state=later)  # the schedule's next sweep: not due
        seen = prefect_runs_in_flight("harbor")
        assert seen is not None and not seen.sweep
        assert {f"running-{tag}.csv", f"queued-{tag}.csv"} <= seen.names
        assert f"done-{tag}.csv" not in seen.names
        client.set_flow_run_state(running.id, Completed(), force=True)
    after = prefect_runs_in_flight("harbor")
    assert after is not None and f"running-{tag}.csv" not in after.names
    assert prefect_runs_in_flight("meridian") == InFlight()


def test_watcher_ignores_subfolders(watcher: DropWatcher, emitted: Emitted, drops: Drops, tmp_path: Path) -> None:
    (drops.harbor / "archive").mkdir()
    sandbox.write_drop(drops.harbor / "archive", 5, name="old.csv")
    time.sleep(1.0)
    assert emitted == []
