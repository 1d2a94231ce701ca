"""Process supervision without the stack: pid files, create-time identity, stopping whole trees."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.waiting import wait_for
from vodflow.stack import procs


def _spawn_python(tmp_path: Path, name: str, code: str) -> tuple[procs.PidRecord, subprocess.Popen[bytes]]:
    return procs.spawn(
        name,
        [sys.executable, "-c", textwrap.dedent(code)],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        run_dir=tmp_path / "run",
        log_dir=tmp_path / "logs",
    )


def test_spawn_records_pid_and_create_time(tmp_path: Path) -> None:
    record, child = _spawn_python(tmp_path, "sleeper", "import time; print('hi', flush=True); time.sleep(60)")
    try:
        stored = procs.read_record(tmp_path / "run", "sleeper")
        assert stored == record
        assert record.pid == child.pid
        assert record.create_time == pytest.approx(psutil.Process(child.pid).create_time())
        assert procs.live_process(record) is not None
        # Own session: the stack survives the terminal, and its group can be signalled as a whole.
        assert os.getsid(child.pid) == child.pid
        wait_for(lambda: "\nhi\n" in (tmp_path / "logs" / "sleeper.log").read_text(), 10, "the child's line", 0.05)
    finally:
        assert procs.terminate_tree(psutil.Process(child.pid), grace=5) == []
        child.wait(5)


def test_reused_pid_is_not_ours(tmp_path: Path) -> None:
    record, child = _spawn_python(tmp_path, "sleeper", "import time; time.sleep(60)")
    try:
        impostor = procs.PidRecord(**{**record.__dict__, "create_time": record.create_time - 1000})
        assert procs.live_process(impostor) is None
    finally:
        procs.terminate_tree(psutil.Process(child.pid), grace=5)
        child.wait(5)
    assert procs.live_process(record) is None


def test_malformed_pid_file_reads_as_none(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x.pid").write_text("12 34")
    assert procs.read_record(tmp_path / "run", "x") is None


def test_child_gets_default_signals_even_if_parent_ignores_them(tmp_path: Path) -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _, child = _spawn_python(
            tmp_path,
            "probe",
            "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, "
            "signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, flush=True)",
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    child.wait(10)
    assert "\nTrue True\n" in (tmp_path / "logs" / "probe.log").read_text()


def test_terminate_tree_kills_stubborn_leader_and_detached_grandchild(tmp_path: Path) -> None:
    # The leader ignores SIGTERM (needs SIGKILL); its child starts a new session (like a flow-run subprocess).
    code = """
        import signal, subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # after the Popen: an ignored signal is inherited
        print("re" + "ady", flush=True)  # not spelled out: the log header repeats the command
        time.sleep(60)
    """
    _, child = _spawn_python(tmp_path, "stubborn", code)
    leader = psutil.Process(child.pid)
    wait_for(lambda: "\nready" in (tmp_path / "logs" / "stubborn.log").read_text(), 10, "the child to be ready", 0.05)
    tree = procs.process_tree(leader)
    assert len(tree) == 2
    started = time.monotonic()
    assert procs.terminate_tree(leader, grace=0.5, second_grace=0.5) == []
    assert time.monotonic() - started < 10
    child.wait(5)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree)
