"""Process supervision for the stack's long-running children: start detached, remember by pid file, stop by pid.

Why not ``nohup`` or ignored signals: a Prefect worker started that way does not stop on SIGTERM (measured, see
FACTS.md). Children get their own session (so closing the terminal does not kill the stack, and a whole process
group can be signalled) and DEFAULT signal handling, reset explicitly because a shell's background job inherits
SIGINT ignored. A pid file also records the process create time, so a pid the kernel has since handed to
another program is never mistaken for ours.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

# psutil derives create times from boot time + clock ticks; allow for rounding between two readings.
_CREATE_TIME_TOLERANCE = 0.05
_RESET_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


@dataclass(frozen=True)
class PidRecord:
    """What a pid file says about one child: enough to find it again and to prove it is still the same process."""

    name: str
    pid: int
    create_time: float
    cmd: list[str]
    started_at: float
    port: int | None = None

    def to_json(self) -> str:
        """Serialise for the pid file."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> PidRecord:
        """Parse a pid file; raises ``ValueError`` on anything malformed."""
        data = json.loads(text)
        try:
            return cls(
                name=str(data["name"]),
                pid=int(data["pid"]),
                create_time=float(data["create_time"]),
                cmd=[str(part) for part in data.get("cmd", [])],
                started_at=float(data.get("started_at", 0.0)),
                port=int(data["port"]) if data.get("port") is not None else None,
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed pid file: {exc}") from exc


def pid_file(run_dir: Path, name: str) -> Path:
    """Where the pid file of component ``name`` lives."""
    return run_dir / f"{name}.pid"


def log_file(log_dir: Path, name: str) -> Path:
    """Where component ``name`` writes its stdout and stderr."""
    return log_dir / f"{name}.log"


def write_record(run_dir: Path, record: PidRecord) -> Path:
    """Write a pid file atomically (temp file + rename), so a reader never sees half a record."""
    run_dir.mkdir(parents=True, exist_ok=True)
    target = pid_file(run_dir, record.name)
    tmp = target.with_suffix(".pid.tmp")
    tmp.write_text(record.to_json())
    tmp.replace(target)
    return target


def read_record(run_dir: Path, name: str) -> PidRecord | None:
    """The recorded process of ``name``, or None when there is no readable pid file."""
    try:
        return PidRecord.from_json(pid_file(run_dir, name).read_text())
    except (OSError, ValueError):
        return None


def remove_record(run_dir: Path, name: str) -> None:
    """Forget component ``name`` (its pid file)."""
    pid_file(run_dir, name).unlink(missing_ok=True)


def record_for(name: str, pid: int, port: int | None = None) -> PidRecord:
    """A record for a process started by someone else (PostgreSQL's ``pg_ctl``), read from the live process."""
    proc = psutil.Process(pid)
    return PidRecord(
        name=name, pid=pid, create_time=proc.create_time(), cmd=proc.cmdline(), started_at=time.time(), port=port
    )


def _is_gone(proc: psutil.Process) -> bool:
    """Whether a process has exited; a zombie counts as exited (nobody may have reaped it yet)."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False


def live_process(record: PidRecord) -> psutil.Process | None:
    """The process behind ``record`` if it is alive AND is the one we started (same create time)."""
    try:
        proc = psutil.Process(record.pid)
        same = abs(proc.create_time() - record.create_time) <= _CREATE_TIME_TOLERANCE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    if not same or _is_gone(proc):
        return None
    return proc


def _default_signals() -> None:
    """Runs in the child before exec: undo any inherited SIG_IGN so the child stops when signalled."""
    for signum in _RESET_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def spawn(
    name: str,
    cmd: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    run_dir: Path,
    log_dir: Path,
    port: int | None = None,
) -> tuple[PidRecord, subprocess.Popen[bytes]]:
    """Start ``cmd`` detached (own session), logging to ``log_dir/<name>.log``; write its pid file.

    Returns the record and the ``Popen`` handle; the caller polls the handle while waiting for health (a child
    that dies early is reported at once) and then calls :func:`release`.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_file(log_dir, name)
    with log_path.open("ab") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(  # a fixed argv built by the stack, never a shell
            list(cmd),
            env=dict(env),
            cwd=str(cwd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,  # only resets signal dispositions: safe
        )
    try:
        create_time = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        create_time = 0.0
    record = PidRecord(
        name=name, pid=proc.pid, create_time=create_time, cmd=list(cmd), started_at=time.time(), port=port
    )
    write_record(run_dir, record)
    return record, proc


# Handles of children that outlive the command that started them. Kept (not dropped) because a garbage-collected
# ``Popen`` whose process still runs emits a ResourceWarning; the CLI process exits soon after anyway.
_DETACHED: list[subprocess.Popen[bytes]] = []


def release(proc: subprocess.Popen[bytes]) -> None:
    """Let a healthy child run on after we are done with it (it is stopped later by pid, not through ``proc``)."""
    _DETACHED.append(proc)


def process_tree(proc: psutil.Process) -> list[psutil.Process]:
    """``proc`` and all its descendants right now (flow runs may sit in process groups of their own)."""
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return [proc]


def _signal(proc: psutil.Process, signum: int, group: bool) -> None:
    with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError, PermissionError):
        if group and os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)


def _wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited; returns those still alive after ``timeout`` seconds."""
    pending = list(procs)
    deadline = time.monotonic() + timeout
    while True:
        pending = [proc for proc in pending if not _is_gone(proc)]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(0.1)


def _merge(known: list[psutil.Process], more: Iterable[psutil.Process]) -> list[psutil.Process]:
    seen = {proc.pid for proc in known}
    return known + [proc for proc in more if proc.pid not in seen]


def terminate_tree(leader: psutil.Process, *, grace: float = 10.0, second_grace: float = 5.0) -> list[psutil.Process]:
    """Stop ``leader`` and everything under it: SIGTERM, wait, SIGTERM again, then SIGKILL.

    The second SIGTERM is for the Prefect worker, which only begins shutting down on the first (measured). Each
    signal goes to the leader's whole process group; descendants that left the group (flow-run subprocesses)
    get their own signals. Returns the processes still alive at the end (empty when all went away).
    """
    tree = process_tree(leader)
    for attempt, wait in enumerate((grace, second_grace)):
        _signal(leader, signal.SIGTERM, group=True)
        if attempt:
            for proc in tree[1:]:
                _signal(proc, signal.SIGTERM, group=False)
        if not _wait_gone([leader], wait):
            break
        tree = _merge(tree, process_tree(leader))
    else:
        _signal(leader, signal.SIGKILL, group=True)
    return kill_all(tree, grace=3.0)


def kill_all(procs: Iterable[psutil.Process], *, grace: float = 3.0) -> list[psutil.Process]:
    """Make sure none of ``procs`` survives: SIGTERM whatever is left, then SIGKILL. Returns the survivors."""
    alive = [proc for proc in procs if not _is_gone(proc)]
    if not alive:
        return []
    for proc in alive:
        _signal(proc, signal.SIGTERM, group=False)
    alive = _wait_gone(alive, grace)
    for proc in alive:
        _signal(proc, signal.SIGKILL, group=False)
    return _wait_gone(alive, 2.0)
