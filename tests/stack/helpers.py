"""Helpers for tests that run the real local stack: the CLI in a subprocess, pid files, leftovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psutil

COMPONENTS = ("postgres", "prefect-server", "sandbox", "dbt-docs", "worker", "watcher")
STACK_ENV_KEYS = (
    "VODFLOW_DATA_DIR",
    "VODFLOW_PG_PORT",
    "VODFLOW_PREFECT_PORT",
    "VODFLOW_SANDBOX_PORT",
    "VODFLOW_DOCS_PORT",
)


def vodflow(*args: str, timeout: float = 420) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess with the (monkeypatched) environment of this test."""
    return subprocess.run(
        [sys.executable, "-m", "vodflow", *args],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def recorded_pids(data_dir: Path) -> dict[str, tuple[int, float]]:
    """Pid and create time of every component, from the pid files."""
    found = {}
    for pid_file in (data_dir / "run").glob("*.pid"):
        record = json.loads(pid_file.read_text())
        found[record["name"]] = (record["pid"], record["create_time"])
    return found


def alive(pid: int, create_time: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - create_time) < 0.05 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class Stack:
    data_dir: Path
    ports: dict[str, int]
    first_up: subprocess.CompletedProcess[str]
    first_up_seconds: float
    pids: dict[str, tuple[int, float]]
    tree: list[tuple[int, float, str]] = field(default_factory=list)


def snapshot_tree(pids: dict[str, tuple[int, float]]) -> list[tuple[int, float, str]]:
    """Every process of the stack and its descendants now: none may survive ``down``."""
    seen: list[tuple[int, float, str]] = []
    for pid, _ in pids.values():
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                seen.append((proc.pid, proc.create_time(), " ".join(proc.cmdline())[:120]))
        except psutil.NoSuchProcess:
            continue
    return seen


def kill_leftovers(stack: Stack) -> None:
    """Safety net for a failing test: never leave a server behind."""
    for pid, create_time, _ in stack.tree + [(p, c, "") for p, c in recorded_pids(stack.data_dir).values()]:
        if alive(pid, create_time):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
