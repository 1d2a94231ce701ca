"""End to end: the real ``vodflow`` CLI brings up a stack in its own data folder and ports, then takes it down.

One up/down cycle for the module (a cold Prefect server takes ~25 s); the tests run in file order and the last one
is ``down``. The session fixtures in tests/conftest.py are not used: they run a PostgreSQL of their own.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from prefect.workers.process import ProcessWorker

from tests.stack.helpers import (
    COMPONENTS,
    STACK_ENV_KEYS,
    Stack,
    alive,
    kill_leftovers,
    recorded_pids,
    snapshot_tree,
    vodflow,
)
from vodflow.net import free_port
from vodflow.stack.prefect_objects import flow_run_command

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(server_dirs: Callable[[str], Path]) -> Iterator[Stack]:
    data_dir = server_dirs("stack-data")
    ports = {key: free_port() for key in STACK_ENV_KEYS[1:]}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VODFLOW_DATA_DIR", str(data_dir))
        for key, port in ports.items():
            mp.setenv(key, str(port))
        for key in ("DATABASE_URL", "PREFECT_API_URL", "PREFECT_HOME", "PREFECT_PROFILES_PATH"):
            mp.delenv(key, raising=False)
        started = time.monotonic()
        first = vodflow("up", "--no-deploy")
        stack = Stack(data_dir, ports, first, time.monotonic() - started, recorded_pids(data_dir))
        stack.tree = snapshot_tree(stack.pids)
        try:
            yield stack
        finally:
            vodflow("down", timeout=120)
            kill_leftovers(stack)


def test_up_starts_every_component(stack: Stack) -> None:
    assert stack.first_up.returncode == 0, stack.first_up.stdout + stack.first_up.stderr
    assert set(stack.pids) == set(COMPONENTS)
    for name in COMPONENTS:
        assert f"{name}" in stack.first_up.stdout
        assert alive(*stack.pids[name]), name
    assert "Prefect UI" in stack.first_up.stdout
    print(f"cold up: {stack.first_up_seconds:.1f} s")


def test_the_work_pool_starts_the_engine_directly_and_up_repairs_it(stack: Stack) -> None:
    """The pool's runs start as ``<this python> -m prefect.engine``, not through Prefect's workspace supervisor (a
    second interpreter per run); a pool whose template lost that (an older vodflow's) is brought back by ``up``."""
    api = f"http://127.0.0.1:{stack.ports['VODFLOW_PREFECT_PORT']}/api/work_pools/vodflow-process"

    def default_command() -> object:
        response = httpx.get(api, timeout=10, trust_env=False)
        response.raise_for_status()
        return response.json()["base_job_template"]["variables"]["properties"]["command"].get("default")

    assert stack.first_up.returncode == 0
    assert "vodflow-process: created" in stack.first_up.stdout
    assert default_command() == flow_run_command() == shlex.join([sys.executable, "-m", "prefect.engine"])
    httpx.patch(
        api, json={"base_job_template": ProcessWorker.get_default_base_job_template()}, timeout=10, trust_env=False
    ).raise_for_status()
    assert default_command() is None
    again = vodflow("up", "--no-deploy")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "vodflow-process: updated" in again.stdout
    assert default_command() == flow_run_command()


def test_second_up_keeps_the_same_processes(stack: Stack) -> None:
    started = time.monotonic()
    second = vodflow("up", "--no-deploy")
    seconds = time.monotonic() - started
    assert second.returncode == 0, second.stdout + second.stderr
    assert recorded_pids(stack.data_dir) == stack.pids
    assert second.stdout.count("already running") == len(COMPONENTS)
    # One stack: exactly one Prefect server and one worker for this data folder.
    for marker in (f"--port {stack.ports['VODFLOW_PREFECT_PORT']}", "worker start"):
        matching = [
            p
            for p in psutil.process_iter(["cmdline", "environ"])
            if marker in " ".join(p.info["cmdline"] or [])
            and (p.info["environ"] or {}).get("VODFLOW_DATA_DIR") == str(stack.data_dir)
        ]
        assert len(matching) == 1, marker
    assert seconds < 30
    print(f"warm up: {seconds:.1f} s")


def test_up_restarts_only_what_is_missing(stack: Stack) -> None:
    pid, create_time = stack.pids["sandbox"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(pid, create_time):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    result = vodflow("up", "--no-deploy")
    assert result.returncode == 0, result.stdout + result.stderr
    now = recorded_pids(stack.data_dir)
    assert now["sandbox"] != stack.pids["sandbox"]
    assert {k: v for k, v in now.items() if k != "sandbox"} == {k: v for k, v in stack.pids.items() if k != "sandbox"}
    assert result.stdout.count("already running") == len(COMPONENTS) - 1
    stack.pids = now
    stack.tree = snapshot_tree(now)


def test_status_json_says_running(stack: Stack) -> None:
    result = vodflow("status", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["all_running"] is True
    by_name = {c["name"]: c for c in status["components"]}
    assert set(by_name) == set(COMPONENTS)
    for name in COMPONENTS:
        assert by_name[name]["state"] == "running"
        assert by_name[name]["pid"] == stack.pids[name][0]
    assert by_name["prefect-server"]["port"] == stack.ports["VODFLOW_PREFECT_PORT"]
    assert by_name["sandbox"]["url"] == f"http://127.0.0.1:{stack.ports['VODFLOW_SANDBOX_PORT']}"
    assert by_name["dbt-docs"]["url"] == f"http://127.0.0.1:{stack.ports['VODFLOW_DOCS_PORT']}/"
    assert status["flow_runs"] == []
    assert status["flow_runs_error"] is None


def test_docs_server_shows_how_to_generate_the_docs(stack: Stack) -> None:
    # `up` does not generate the docs (seconds of dbt, off its critical path): the page says how to.
    page = httpx.get(f"http://127.0.0.1:{stack.ports['VODFLOW_DOCS_PORT']}/", timeout=10, trust_env=False)
    assert page.status_code == 200
    assert "vodflow docs --no-serve" in page.text


def test_status_table(stack: Stack) -> None:
    result = vodflow("status", timeout=60)
    assert result.returncode == 0, result.stderr
    for name in COMPONENTS:
        assert name in result.stdout
    assert "running" in result.stdout


def test_db_url_connects_with_psycopg(stack: Stack) -> None:
    result = vodflow("db", "url", timeout=60)
    assert result.returncode == 0, result.stderr
    uri = result.stdout.strip()
    assert uri.startswith("postgresql://")
    with psycopg.connect(uri, connect_timeout=10) as conn:
        assert conn.execute("select current_database()").fetchone() == ("vodflow",)
        # `up` applied the migrations.
        assert conn.execute("select to_regclass('ops.alembic_version') is not null").fetchone() == (True,)


def test_the_prefect_server_keeps_its_state_in_its_own_postgresql_database(stack: Stack) -> None:
    uri = vodflow("db", "url", timeout=60).stdout.strip()
    with psycopg.connect(uri.rsplit("/", 1)[0] + "/prefect", connect_timeout=10) as conn:
        owner = conn.execute(
            "select pg_get_userbyid(datdba) from pg_database where datname = current_database()"
        ).fetchone()
        pools = conn.execute("select name from work_pool").fetchall()  # Prefect's own table, written by `up`
    assert owner == ("prefect",)
    assert pools, "the server wrote no work pool to its PostgreSQL database"
    assert not (stack.data_dir / "prefect" / "prefect.db").exists()
    password_file = stack.data_dir / "pg" / "prefect-password"
    assert password_file.stat().st_mode & 0o077 == 0
    # A role of its own, which cannot read the pipeline's data.
    password = password_file.read_text().strip()
    host, port = uri.rsplit("@", 1)[1].split("/")[0].split(":")
    with psycopg.connect(host=host, port=int(port), user="prefect", password=password, dbname="vodflow") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from raw.assets")


def test_db_upgrade_is_idempotent(stack: Stack) -> None:
    result = vodflow("db", "upgrade", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "revision" in result.stdout
    assert "***" in result.stdout  # the password never shows


def test_port_taken_by_another_program_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        monkeypatch.setenv("VODFLOW_DATA_DIR", str(tmp_path / "other"))
        monkeypatch.setenv("VODFLOW_PG_PORT", str(free_port()))
        monkeypatch.setenv("VODFLOW_SANDBOX_PORT", str(free_port()))
        monkeypatch.setenv("VODFLOW_PREFECT_PORT", str(taken))
        result = vodflow("up", "--no-deploy", timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(taken) in lines[0] and "VODFLOW_PREFECT_PORT" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    # Checked before anything started: no database, no pid files in that folder.
    assert not list((tmp_path / "other" / "run").glob("*.pid"))
    assert not (tmp_path / "other" / "pg" / "data" / "postmaster.pid").exists()


def test_down_leaves_nothing_running(stack: Stack) -> None:
    started = time.monotonic()
    result = vodflow("down", timeout=180)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing left running" in result.stdout
    for name, (pid, create_time) in stack.pids.items():
        assert not alive(pid, create_time), f"{name} (pid {pid}) survived"
    survivors = [(pid, cmd) for pid, create_time, cmd in stack.tree if alive(pid, create_time)]
    assert survivors == []
    assert not list((stack.data_dir / "run").glob("*.pid"))
    status = json.loads(vodflow("status", "--json", timeout=60).stdout)
    assert {c["state"] for c in status["components"]} == {"stopped"}
    print(f"down: {seconds:.1f} s")
