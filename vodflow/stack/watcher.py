"""Watch the drop folders and tell Prefect when a file is ready: the ``vodflow.drop.received`` event.

A deployment trigger in ``prefect.yaml`` turns that event into a run of ``ingest-<provider>`` with the file's name
(``path``, relative to the drop folder), so a file is loaded seconds after it lands instead of at the next
schedule. How a file counts as ready:

* renamed into the folder (``on_moved``): the producer's write-then-rename, announced at once;
* created in place (``on_created``, which fires before the file is written): announced when the writer closes it
  (``on_closed``, inotify's close-after-write), or, where the platform reports no close, once its size has not
  changed for ``settle`` seconds;
* still waiting ``rescan`` seconds after its last announcement (a periodic scan): the safety net for an event lost
  while the server was down, or a run that crashed. The first scan, at start, announces what arrived meanwhile.
  The scan skips a file while a run that will handle it has not ended (``vodflow.stack.drop_runs``): a file
  waiting for its turn to load is not lost, and announcing it again would only start runs that find it taken.

Only ready names are announced (not dotfiles, ``*.tmp``, ``*.part``, nor other extensions). Announcing a file
twice is harmless: a run claims a file before reading it, and the second finds it taken or gone.

Run it with ``python -m vodflow.stack.watcher`` (the local stack does); it touches a heartbeat file while alive.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from vodflow.ingest.drops import DropFolder, file_providers
from vodflow.stack.drop_runs import RunsInFlight, prefect_runs_in_flight

EVENT = "vodflow.drop.received"
TICK_SECONDS = 0.2
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_MAX_AGE = 15.0
MOVED, CREATED, MODIFIED, CLOSED, RESCAN = "moved", "created", "modified", "closed", "rescan"

Emit = Callable[[str, dict[str, str], dict[str, Any]], object]
logger = logging.getLogger("vodflow.watcher")


def prefect_emit(event: str, resource: dict[str, str], payload: dict[str, Any]) -> object:
    """Send one event to the Prefect server (``PREFECT_API_URL``); buffered and re-sent by Prefect's worker."""
    from prefect.events import emit_event

    return emit_event(event=event, resource=resource, payload=payload)


def _text(path: str | bytes) -> str:
    return path.decode(errors="surrogateescape") if isinstance(path, bytes) else path


class _Handler(FileSystemEventHandler):
    """Queues one folder's file events (never its subfolders') for the watcher's loop; does nothing else."""

    def __init__(self, watcher: DropWatcher, folder: DropFolder) -> None:
        self._watcher = watcher
        self._folder = folder

    def _notice(self, kind: str, path: str | bytes, is_directory: bool) -> None:
        where = Path(_text(path))
        if not is_directory and where.parent == self._folder.root and self._folder.is_ready_name(where.name):
            self._watcher.notice(kind, self._folder, where.name)

    def on_moved(self, event: FileSystemEvent) -> None:
        self._notice(MOVED, event.dest_path, event.is_directory)

    def on_created(self, event: FileSystemEvent) -> None:
        self._notice(CREATED, event.src_path, event.is_directory)

    def on_modified(self, event: FileSystemEvent) -> None:
        self._notice(MODIFIED, event.src_path, event.is_directory)

    def on_closed(self, event: FileSystemEvent) -> None:
        self._notice(CLOSED, event.src_path, event.is_directory)


class DropWatcher:
    """Announces ready files in the given drop folders (see the module docstring).

    The observer's thread only queues what it saw; one loop (:meth:`run`) does the rest, so the state needs no
    lock and every event is sent from one thread.
    """

    def __init__(
        self,
        folders: list[DropFolder],
        emit: Emit = prefect_emit,
        *,
        settle: float = 10.0,
        rescan: float = 120.0,
        heartbeat: Path | None = None,
        runs_in_flight: RunsInFlight = prefect_runs_in_flight,
    ) -> None:
        self.folders = folders
        self._emit = emit
        self._runs_in_flight = runs_in_flight
        self._settle = settle
        self._rescan = rescan
        self._heartbeat = heartbeat
        self._notices: queue.SimpleQueue[tuple[str, DropFolder, str] | None] = queue.SimpleQueue()
        self._pending: dict[tuple[str, str], tuple[int, float]] = {}
        self._announced: dict[tuple[str, str], float] = {}
        self._next_scan = 0.0
        self._next_heartbeat = 0.0
        self._stop = threading.Event()
        self._observer: Any = None

    def notice(self, kind: str, folder: DropFolder, name: str) -> None:
        """Queue a file event (called from the observer's thread)."""
        self._notices.put((kind, folder, name))

    def announce(self, folder: DropFolder, name: str, how: str) -> None:
        """Emit ``vodflow.drop.received`` for a ready file (unless it is gone already)."""
        key = (folder.provider, name)
        self._pending.pop(key, None)
        try:
            size = os.lstat(folder.root / name).st_size
        except FileNotFoundError:
            return
        self._announced[key] = time.monotonic()
        resource = {
            "prefect.resource.id": f"vodflow.provider.{folder.provider}",
            "prefect.resource.name": folder.provider,
        }
        self._emit(EVENT, resource, {"path": name, "bytes": size, "detected_by": how})
        logger.info("%s: %s is ready (%s, %d bytes): %s emitted", folder.provider, name, how, size, EVENT)

    def _handle(self, kind: str, folder: DropFolder, name: str) -> None:
        key = (folder.provider, name)
        if kind == MOVED:
            self.announce(folder, name, MOVED)
        elif kind == CREATED or (kind == MODIFIED and key in self._pending):
            self._pending[key] = (-1, time.monotonic())  # (size, since): the settle time starts (again)
        elif kind == CLOSED and key in self._pending:
            self.announce(folder, name, CREATED)

    def _settled(self) -> list[tuple[DropFolder, str]]:
        now = time.monotonic()
        ready = []
        by_provider = {folder.provider: folder for folder in self.folders}
        for (provider, name), (size, since) in list(self._pending.items()):
            try:
                current = os.lstat(by_provider[provider].root / name).st_size
            except FileNotFoundError:
                del self._pending[(provider, name)]
                continue
            if current != size:
                self._pending[(provider, name)] = (current, now)
            elif now - since >= self._settle:
                ready.append((by_provider[provider], name))
        return ready

    def scan(self) -> None:
        """Announce every waiting file not announced for ``rescan`` seconds, unless a run has it in hand.

        Files that left the folder are forgotten.
        """
        now = time.monotonic()
        for folder in self.folders:
            waiting = folder.waiting()
            for key in [k for k in self._announced if k[0] == folder.provider and k[1] not in waiting]:
                del self._announced[key]
            due = [
                name
                for name in waiting
                if (folder.provider, name) not in self._pending
                and now - self._announced.get((folder.provider, name), -self._rescan) >= self._rescan
            ]
            in_flight = self._runs_in_flight(folder.provider) if due else None
            held = [name for name in due if in_flight is not None and in_flight.covers(name)]
            if held:
                logger.info("%s: %d waiting file(s) in a run's hands; not announced again", folder.provider, len(held))
            for name in due:
                if name not in held:
                    self.announce(folder, name, RESCAN)

    def tick(self) -> None:
        """The periodic part of the loop: settled files, a scan when due, the heartbeat."""
        for folder, name in self._settled():
            self.announce(folder, name, CREATED)
        if time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + self._rescan
            try:
                self.scan()
            except OSError as exc:  # a folder removed under us: say so, keep watching the others
                logger.warning("scan failed: %s", exc)
        if self._heartbeat is not None and time.monotonic() >= self._next_heartbeat:
            self._next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
            self._heartbeat.touch()

    def start(self) -> None:
        """Start the observer (its own thread) on every folder; the first :meth:`tick` scans."""
        observer = Observer()
        for folder in self.folders:
            observer.schedule(_Handler(self, folder), str(folder.root), recursive=False)
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        """Ask :meth:`run` to end (safe from another thread or a signal handler)."""
        self._stop.set()
        self._notices.put(None)

    def shutdown(self) -> None:
        """Stop the observer thread."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
            self._observer = None

    def run(self) -> None:
        """Start, then handle notices as they come and :meth:`tick` between them, until :meth:`stop`."""
        self.start()
        try:
            while not self._stop.is_set():
                self.tick()
                try:
                    notice = self._notices.get(timeout=TICK_SECONDS)
                except queue.Empty:
                    continue
                while notice is not None:
                    self._handle(*notice)
                    try:
                        notice = self._notices.get_nowait()
                    except queue.Empty:
                        break
        finally:
            self.shutdown()


def heartbeat_path(run_dir: Path) -> Path:
    """The file the watcher touches while alive (the stack's health check reads its time)."""
    return run_dir / "watcher.heartbeat"


def heartbeat_is_fresh(path: Path, since: float, max_age: float = HEARTBEAT_MAX_AGE) -> bool:
    """Whether the watcher started at ``since`` (epoch seconds) has touched its heartbeat lately."""
    try:
        touched = path.stat().st_mtime
    except FileNotFoundError:
        return False
    return touched >= since - 1 and time.time() - touched <= max_age


def main() -> None:
    """Watch every file provider's drop folder until SIGINT/SIGTERM; emit to ``PREFECT_API_URL``."""
    from vodflow.settings import get_settings
    from vodflow.stack.layout import layout

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    folders = [DropFolder.for_provider(provider, suffixes) for provider, suffixes in file_providers().items()]
    run_dir = layout(get_settings()).run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    rescan = float(os.environ.get("VODFLOW_DROP_RESCAN_SECONDS", "") or 120)
    watcher = DropWatcher(folders, rescan=rescan, heartbeat=heartbeat_path(run_dir))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        watcher.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for folder in folders:
        logger.info("watching %s for %s (%s)", folder.root, folder.provider, ", ".join(folder.suffixes))
    watcher.run()
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=10)
    logger.info("stopped")


if __name__ == "__main__":
    main()
