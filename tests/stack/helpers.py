"""Helpers for tests that run the real local stack: the CLI in a subprocess, pid files, leftovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

COMPONENTS = ("postgres", "prefect-server", "sandbox", "dbt-docs", "worker", "watcher")
STACK_ENV_KEYS = (
    "VODFLOW_DATA_DIR",
    "VODFLOW_PG_PORT",
    "VODFLOW_PREFECT_PORT",
    "VODFLOW_SANDBOX_PORT",
    "VODFLOW_DOCS_PORT",
)

TEST_STACK_ENV = {
    "VODFLOW_LUMINA_PAGE_SIZE": "100",  # a lumina read spans many requests: long enough to kill or cut
    "VODFLOW_DROP_CHUNK_ROWS": "2000",  # a CSV load's transaction spans many chunks: long enough to be cut
    "VODFLOW_ALERT_LOST_RUN_SECONDS": "60",  # a run two heartbeats (every 30 s) late is crashed
    "VODFLOW_DROP_RESCAN_SECONDS": "15",  # the watcher's safety net re-announces a file still waiting
}
"""Settings of the test suite's full stacks (the shared one and the chaos suite's): everything else is vodflow's
default."""


def vodflow(*args: str, timeout: float = 420, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, with ``env`` (a stack's) or the (monkeypatched) environment of this test."""
    return subprocess.run(
        [sys.executable, "-m", "vodflow", *args],
        env={**(os.environ if env is None else env), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def flow_runs(stack: Stack, body: dict[str, Any] | None = None, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The stack's flow runs that match a REST filter ``body`` (at most 200, unless it sets its own ``limit``)."""
    response = httpx.post(
        f"{stack.api_url}/flow_runs/filter", json={"limit": 200, **(body or {})}, trust_env=False, timeout=timeout
    )
    response.raise_for_status()
    return list(response.json())


def pause_schedules(stack: Stack) -> int:
    """Turn off every deployment's schedules and drop the runs they already created; return how many were turned
    off. For a stack whose tests compare states at two moments: a scheduled run between them (atlas's first full
    read, the events feed every 10 minutes, the hourly build) would change what they compare. The triggers (a drop
    event, a build's anomaly check) stay on: they answer the tests' own runs. Pausing a schedule deletes its future
    runs (the server does); the runs already due are deleted here, and any the worker took will end by themselves."""
    paused = 0
    with httpx.Client(base_url=stack.api_url, trust_env=False, timeout=10) as client:
        deployments = client.post("/deployments/filter", json={"limit": 200})
        deployments.raise_for_status()
        for deployment in deployments.json():
            for schedule in deployment.get("schedules") or []:
                if schedule.get("active"):
                    client.patch(
                        f"/deployments/{deployment['id']}/schedules/{schedule['id']}", json={"active": False}
                    ).raise_for_status()
                    paused += 1
        scheduled = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}
        for run in (run for run in flow_runs(stack, scheduled, timeout=10) if run.get("auto_scheduled")):
            response = client.delete(f"/flow_runs/{run['id']}")
            if response.status_code != 404:  # the worker may have taken it meanwhile: it runs to its end
                response.raise_for_status()
    return paused


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
    env: dict[str, str] = field(default_factory=dict)
    """The environment that talks to this stack (for subprocesses; the test process's own is left alone)."""

    @property
    def api_url(self) -> str:
        """The stack's Prefect API."""
        return f"http://127.0.0.1:{self.ports['VODFLOW_PREFECT_PORT']}/api"

    def url(self, key: str, path: str = "") -> str:
        """``http://127.0.0.1:<port><path>`` for a port key such as ``VODFLOW_SANDBOX_PORT``."""
        return f"http://127.0.0.1:{self.ports[key]}{path}"


def stack_env(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """The environment of a stack in ``data_dir`` on ``ports``: nothing inherited may point elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VODFLOW_")) and k != "DATABASE_URL"}
    env["VODFLOW_DATA_DIR"] = str(data_dir)
    env.update({key: str(port) for key, port in ports.items()})
    return env


def start_stack(
    data_dir: Path, *, deploy: bool = True, timeout: float = 600, extra_env: dict[str, str] | None = None
) -> Stack:
    """``vodflow up`` (with the deployments unless ``deploy`` is false) in ``data_dir`` on free ports.

    ``extra_env`` (``VODFLOW_*`` settings, say) is the environment of every process of the stack.
    """
    import time

    from vodflow.net import free_port

    ports = {key: free_port() for key in STACK_ENV_KEYS[1:]}
    env = {**stack_env(data_dir, ports), **(extra_env or {})}
    started = time.monotonic()
    first = vodflow("up", *([] if deploy else ["--no-deploy"]), timeout=timeout, env=env)
    stack = Stack(data_dir, ports, first, time.monotonic() - started, recorded_pids(data_dir), env=env)
    stack.tree = snapshot_tree(stack.pids)
    return stack


@contextmanager
def running_stack(data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """A started stack (``start_stack`` with the deployments) that must have come up, always stopped at the end."""
    stack = start_stack(data_dir, extra_env=extra_env)
    try:
        assert stack.first_up.returncode == 0, stack.first_up.stdout + stack.first_up.stderr
        yield stack
    finally:
        stop_stack(stack)


def stop_stack(stack: Stack) -> None:
    """``vodflow down``, then kill anything that survived it."""
    vodflow("down", timeout=120, env=stack.env)
    kill_leftovers(stack)


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
