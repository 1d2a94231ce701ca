"""Faults injected into the real local stack: the worker killed, PostgreSQL and the Prefect server restarted while
runs are in flight, a 30-window backfill beside live runs, and 20 concurrent runs (``bench/chaos_load.py``: the
same with 1,000,000 assets).

After each fault the pipeline converges (a re-run, as the schedule or a person would start) and the promise is
checked against what the provider sandbox serves (tests/chaos/invariants.py). The stack is the package's own
(``chaos_stack``): these tests stop and restart its parts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text

from tests.chaos.invariants import Outcome, assert_lumina_promise, record
from tests.stack.helpers import Stack, flow_runs, recorded_pids, vodflow
from tests.waiting import wait_for
from vodflow.ingest.load import provider_lock_key
from vodflow.sandbox import SandboxAdmin
from vodflow.sandbox.catalogue import WINDOW_END
from vodflow.sandbox.harbor import iter_large_rows, write_large_drop

pytestmark = pytest.mark.slow


# -- the stack from outside ----------------------------------------------------------------------------------------


def python_api(stack: Stack, code: str, timeout: float = 900) -> Any:
    """Run ``code`` (which prints one JSON line last) in a fresh interpreter against the stack."""
    env = {**stack.env, "PREFECT_API_URL": stack.api_url}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def start_run(stack: Stack, deployment: str, parameters: dict[str, Any] | None = None) -> str:
    """Create a run of ``deployment`` (as the UI's Run button does) and return its id; the worker picks it up."""
    code = (
        "import json; from prefect.deployments import run_deployment; "
        f"r = run_deployment({deployment!r}, parameters={parameters or {}!r}, timeout=0, as_subflow=False); "
        "print(json.dumps(str(r.id)))"
    )
    return str(python_api(stack, code, timeout=120))


def run_state(stack: Stack, run_id: str) -> str:
    response = httpx.get(f"{stack.api_url}/flow_runs/{run_id}", trust_env=False, timeout=10)
    response.raise_for_status()
    return str((response.json().get("state") or {}).get("name"))


ENDED = {"Completed", "Failed", "Crashed"}


def run_end(stack: Stack, run_id: str, timeout: float, what: str, every: float = 1) -> str:
    """Wait until the run ends, and return the name of the state it ended in."""

    def ended() -> str | None:
        state = run_state(stack, run_id)
        return state if state in ENDED else None

    return wait_for(ended, timeout, what, every)


_URLS: dict[Path, str] = {}


def database_url(stack: Stack) -> str:
    """The stack's database URL (asked once: the probes below poll several times a second)."""
    if stack.data_dir not in _URLS:
        _URLS[stack.data_dir] = vodflow("db", "url", env=stack.env).stdout.strip()
    return _URLS[stack.data_dir]


@pytest.fixture(scope="module")
def engine(chaos_stack: Stack) -> Iterator[Engine]:
    url = database_url(chaos_stack).replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url, pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture
def admin(chaos_stack: Stack) -> Iterator[SandboxAdmin]:
    with SandboxAdmin(chaos_stack.url("VODFLOW_SANDBOX_PORT")) as client:
        client.clear_faults()
        yield client
        client.clear_faults()


def runs_in_flight(stack: Stack) -> int:
    """Runs of the stack that are pending or running (the tests before this one may have left some going)."""
    body = {"flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING", "CANCELLING"]}}}}
    return len(flow_runs(stack, body, timeout=10))


@pytest.fixture
def idle_stack(chaos_stack: Stack) -> None:
    """A fault that needs a deployment's slot starts on a stack with no run in flight: the earlier tests' runs (the
    anomaly check a build triggered, a scheduled run) must not hold the slots its run needs. The load test does
    without: harbor's deployment has no limit, and the clock stops at the last file's commit, before any dbt."""
    wait_for(lambda: runs_in_flight(chaos_stack) == 0, 600, "the stack's runs in flight to end", every=1)


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> list[int]:
    """Signal a process and every descendant (a worker and the flow run processes it started)."""
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return []
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(procs, timeout=30)
    return [p.pid for p in procs]


def bring_back(stack: Stack) -> None:
    """``vodflow up --no-deploy``: start only what is missing, as an operator (or a supervisor) would."""
    result = vodflow("up", "--no-deploy", timeout=300, env=stack.env)
    assert result.returncode == 0, result.stdout + result.stderr


def ingest(stack: Stack, provider: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return vodflow("ingest", provider, "--wait", "--timeout", "600", *extra, timeout=700, env=stack.env)


def lumina_promise(stack: Stack, engine: Engine, admin: SandboxAdmin) -> Outcome:
    bad = {item["id"] for item in admin.bad_items()}
    return assert_lumina_promise(engine, stack.url("VODFLOW_SANDBOX_PORT"), bad)


def active_statement(stack: Stack, pattern: str) -> bool:
    """Whether a backend other than this probe runs a statement matching ``pattern`` (SQL ``ilike``)."""
    try:
        with psycopg.connect(database_url(stack), autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "select count(*) from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() "
                "and query ilike %s",
                (pattern,),
            ).fetchone()
    except psycopg.OperationalError:
        return False
    return bool(row and row[0])


def in_load_transaction(stack: Stack, provider: str) -> bool:
    """Whether a load of ``provider`` is mid-transaction: it holds the provider's lock and has copied a chunk."""
    key = provider_lock_key(provider) & 0xFFFFFFFFFFFFFFFF  # pg_locks shows the bigint key as two unsigned halves
    try:
        with psycopg.connect(database_url(stack), autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "select count(*) from pg_locks l join pg_stat_activity a on a.pid = l.pid "
                "where l.locktype = 'advisory' and l.granted and l.objsubid = 1 "
                "and l.classid::bigint = %s and l.objid::bigint = %s and a.query ilike 'copy %%'",
                (key >> 32, key & 0xFFFFFFFF),
            ).fetchone()
    except psycopg.OperationalError:
        return False
    return bool(row and row[0])


def restart_postgres(stack: Stack) -> None:
    """Fast shutdown (open transactions are aborted, clients cut off), then start it again."""
    pid, _ = recorded_pids(stack.data_dir)["postgres"]
    os.kill(pid, signal.SIGINT)
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 60, "pg")
    bring_back(stack)


# -- the faults ----------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("idle_stack")
def test_the_worker_killed_mid_load_converges_on_the_next_run(
    chaos_stack: Stack, engine: Engine, admin: SandboxAdmin
) -> None:
    admin.publish(changed=500)  # five pages of news: the read spans several pages whatever was read before
    admin.inject_fault("slow", times=4, skip=1, delay_s=2.0)  # a read of several seconds to kill it in
    served_before = len(admin.requests(provider="lumina"))
    run_id = start_run(chaos_stack, "ingest-lumina/ingest-lumina")
    wait_for(lambda: len(admin.requests(provider="lumina")) >= served_before + 2, 120, "the run to be paging")
    assert run_state(chaos_stack, run_id) == "Running"
    worker_pid, _ = recorded_pids(chaos_stack.data_dir)["worker"]
    killed = kill_tree(worker_pid)
    started = time.monotonic()
    assert len(killed) >= 2  # the worker and the flow run's process
    admin.clear_faults()
    bring_back(chaos_stack)
    assert recorded_pids(chaos_stack.data_dir)["worker"][0] != worker_pid
    result = ingest(chaos_stack, "lumina")
    assert result.returncode == 0 and "Completed" in result.stdout, result.stdout + result.stderr
    outcome = lumina_promise(chaos_stack, engine, admin)
    converged = time.monotonic() - started
    # Nobody saw the killed run end: its missing heartbeats have the "flow run lost" automation crash it, which
    # frees its concurrency slot and announces it.
    wait_for(lambda: run_state(chaos_stack, run_id) == "Crashed", 180, "the lost run to be marked Crashed", every=1)
    crashed = time.monotonic() - started
    record(
        "worker SIGKILL mid-load",
        "worker and its flow run process killed while paging 500 changed titles (slow pages)",
        outcome,
        converged,
        note=f"re-run converged; the killed run was marked Crashed {crashed:.0f} s after the kill (no heartbeat)",
    )


@pytest.mark.usefixtures("idle_stack")
def test_postgres_restarted_mid_load_converges_on_the_next_run(
    chaos_stack: Stack, engine: Engine, tmp_path: Path
) -> None:
    rows = 20_000
    drop_dir = chaos_stack.data_dir / "drops" / "harbor"
    big = write_large_drop(tmp_path, rows=rows, name="chaos_pg_restart.csv")
    os.replace(big.path, drop_dir / big.path.name)  # the watcher announces it; a run starts loading it
    wait_for(lambda: in_load_transaction(chaos_stack, "harbor"), 180, "the load's transaction", every=0.1)
    restart_postgres(chaos_stack)
    started = time.monotonic()
    assert (drop_dir / big.path.name).exists()  # the interrupted load left the file waiting
    result = ingest(chaos_stack, "harbor")
    assert result.returncode == 0, result.stdout + result.stderr

    def file_loaded() -> bool:
        """The re-run may find the file taken: the watcher's re-scan announces a waiting file every 15 s, and the run
        it starts may claim the file first. Either run loads it; the test waits for whichever does."""
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text("select count(*) from ops.drop_files where file_name = :n and outcome = 'loaded'"),
                    {"n": big.path.name},
                ).scalar_one()
            )

    wait_for(file_loaded, 300, "the waiting file to be loaded by a re-run", every=1)
    with engine.connect() as conn:
        loaded = conn.execute(
            text("select count(*) from raw.assets where provider = 'harbor' and provider_asset_id like '%-c%'")
        ).scalar_one()
        quarantined = conn.execute(
            text("select count(*) from ops.quarantine where provider = 'harbor' and provider_asset_id like '%-c%'")
        ).scalar_one()
        ledger = conn.execute(
            text("select outcome, count(*) from ops.drop_files where file_name = :n group by 1"),
            {"n": big.path.name},
        ).all()
    cycled = sum(1 for row in iter_large_rows(rows) if "-c" in row[0])
    assert loaded + quarantined == cycled, (loaded, quarantined, cycled)
    assert dict(ledger) == {"loaded": 1}, ledger
    record(
        "PostgreSQL restart mid-load",
        f"fast shutdown + start during the COPY of a {rows:,}-row CSV drop",
        {"served": cycled, "raw_plus_quarantine": loaded + quarantined, "duplicates": 0},
        time.monotonic() - started,
        note="the run failed, the file stayed waiting; a re-run (the CLI's or the watcher's) loaded it once",
    )


def marts_snapshot(engine: Engine) -> dict[str, str]:
    marts = {"dim_assets": "asset_key", "fct_ingest_runs": "load_id", "metrics_daily": "provider, metric_date"}
    with engine.connect() as conn:
        return {
            mart: str(
                conn.execute(text(f"select md5(string_agg(t::text, '|' order by {key})) from marts.{mart} t")).scalar()
            )
            for mart, key in marts.items()
        }


@pytest.mark.usefixtures("idle_stack")
def test_postgres_restarted_mid_dbt_build_converges_and_equals_a_full_rebuild(
    chaos_stack: Stack, engine: Engine
) -> None:
    run_id = start_run(chaos_stack, "transform/transform", {"full_refresh": True})
    wait_for(lambda: active_statement(chaos_stack, "%create%table%"), 300, "the dbt build's DDL", every=0.1)
    restart_postgres(chaos_stack)
    started = time.monotonic()
    cut = run_end(chaos_stack, run_id, 300, "the cut build to end", every=0.2)
    rerun = start_run(chaos_stack, "transform/transform")
    assert run_end(chaos_stack, rerun, 600, "the re-run") == "Completed"
    incremental = marts_snapshot(engine)
    took = time.monotonic() - started
    rebuild = start_run(chaos_stack, "transform/transform", {"full_refresh": True})
    assert run_end(chaos_stack, rebuild, 600, "the rebuild") == "Completed"
    assert marts_snapshot(engine) == incremental
    with engine.connect() as conn:
        assets = conn.execute(text("select count(*) from marts.dim_assets")).scalar_one()
        duplicates = conn.execute(
            text("select count(*) - count(distinct asset_key) from marts.dim_assets")
        ).scalar_one()
    assert duplicates == 0
    record(
        "PostgreSQL restart mid-dbt build",
        "fast shutdown + start during a full-refresh build's DDL",
        {"served": assets, "raw_plus_quarantine": assets, "duplicates": duplicates},
        took,
        note=f"cut build ended {cut}; the next incremental build's marts equal a full rebuild (md5 of each mart)",
    )


@pytest.mark.usefixtures("idle_stack")
def test_the_prefect_server_restarted_with_runs_in_flight_converges(
    chaos_stack: Stack, engine: Engine, admin: SandboxAdmin
) -> None:
    admin.publish(new=20, changed=300)  # four pages of news: the run is still paging when the server stops
    admin.inject_fault("slow", times=3, skip=1, delay_s=3.0)
    run_id = start_run(chaos_stack, "ingest-lumina/ingest-lumina")
    served_before = len(admin.requests(provider="lumina"))
    wait_for(lambda: run_state(chaos_stack, run_id) == "Running", 120, "the run to start")
    wait_for(lambda: len(admin.requests(provider="lumina")) > served_before, 60, "the run to page")
    server_pid, _ = recorded_pids(chaos_stack.data_dir)["prefect-server"]
    kill_tree(server_pid, signal.SIGTERM)
    started = time.monotonic()
    bring_back(chaos_stack)
    state = run_end(chaos_stack, run_id, 300, "the in-flight run")
    if state != "Completed":
        result = ingest(chaos_stack, "lumina")
        assert result.returncode == 0 and "Completed" in result.stdout, result.stdout + result.stderr
    outcome = lumina_promise(chaos_stack, engine, admin)
    record(
        "Prefect server restart",
        "server stopped and started while an ingest run was paging",
        outcome,
        time.monotonic() - started,
        note=f"the in-flight run ended {state}" + ("" if state == "Completed" else "; a re-run converged"),
    )


BACKFILL_START = """
import json
from vodflow.api import backfill, trigger_ingestion
job = backfill("lumina", "{start}", "{end}", chunk="1d", max_concurrency=4)
live = [trigger_ingestion("lumina") for _ in range(2)]  # the live schedule's runs, beside the windows
print(json.dumps({{"backfill": str(job.flow_run_id), "name": job.name, "reused": job.reused,
                   "total": job.windows_total, "live": [str(r.flow_run_id) for r in live]}}))
"""

TRIGGER_LIVE = """
import json
from vodflow.api import trigger_ingestion
print(json.dumps(str(trigger_ingestion("lumina").flow_run_id)))
"""


def backfill_runs(stack: Stack) -> int:
    """Runs tagged ``backfill``: every backfill's own run and its windows' runs."""
    body = {"flow_runs": {"tags": {"all_": ["backfill"]}}}
    response = httpx.post(f"{stack.api_url}/flow_runs/count", json=body, trust_env=False, timeout=30)
    response.raise_for_status()
    return int(response.json())


def status_json(stack: Stack) -> dict[str, Any]:
    return dict(json.loads(vodflow("status", "--json", timeout=60, env=stack.env).stdout))


def status_backfill(stack: Stack, name: str) -> dict[str, Any] | None:
    return next((b for b in status_json(stack)["backfills"] if b["name"] == name), None)


@pytest.mark.usefixtures("idle_stack")
def test_a_30_window_backfill_beside_live_runs_loads_each_row_once(
    chaos_stack: Stack, engine: Engine, admin: SandboxAdmin
) -> None:
    """Started through the Python API, shown by ``vodflow status``, attached to by the CLI (which shows its progress
    to the end), beside three runs of the same deployment; asked for again once done, it starts nothing."""
    end = WINDOW_END.date()
    begin = end - timedelta(days=30)
    days = [begin + timedelta(days=n) for n in range(31)]
    cli = ["backfill", "lumina", "--start", begin.isoformat(), "--end", end.isoformat()]
    admin.publish(new=30, changed=30)
    started_at = time.monotonic()
    started = python_api(chaos_stack, BACKFILL_START.format(start=begin.isoformat(), end=end.isoformat()))
    assert (started["name"], started["reused"], started["total"]) == (
        f"backfill/lumina/{begin.isoformat()}..{end.isoformat()}",
        False,
        30,
    )
    shown = partial(status_backfill, chaos_stack, started["name"])
    seen = wait_for(shown, 120, "the backfill in vodflow status", every=1)
    assert seen["windows_total"] == 30 and 0 <= seen["windows_done"] <= 30
    live = [*started["live"], python_api(chaos_stack, TRIGGER_LIVE)]  # a third while the windows run

    attached = vodflow(*cli, "--max-concurrency", "4", timeout=1500, env=chaos_stack.env)
    assert attached.returncode == 0, attached.stdout + attached.stderr
    assert "already running or done: no new run" in attached.stdout
    assert "windows: 30 of 30 completed, 0 failed" in attached.stdout
    for run_id in live:
        wait_for(lambda run_id=run_id: run_state(chaos_stack, run_id) == "Completed", 600, f"live run {run_id}")
    took = time.monotonic() - started_at
    status = status_json(chaos_stack)
    assert status["backfills"] == []  # none running
    assert {row["deployment"]: row["last_run"] for row in status["deployments"]}["backfill/backfill"] == started["name"]

    subflows = flow_runs(
        chaos_stack, {"flow_runs": {"parent_flow_run_id": {"any_": [started["backfill"]]}}}, timeout=30
    )
    windows = [run for run in subflows if run["name"].startswith("lumina/")]
    assert sorted(run["name"] for run in windows) == [f"lumina/{a}..{b}" for a, b in pairwise(days)]
    assert {run["state_name"] for run in windows} == {"Completed"}
    assert all(str(run["idempotency_key"]).startswith("vodflow-backfill:lumina:") for run in windows)
    assert [run["name"] for run in subflows if run["name"].startswith("dbt/")] == [
        f"dbt/source:lumina+ source:ops.loads+ {begin.isoformat()}..{end.isoformat()}"
    ]
    with engine.connect() as conn:
        loads, received, accounted = conn.execute(
            text(
                "select count(*), sum(received), sum(inserted + updated + unchanged + quarantined) from ops.loads "
                "where flow_run_id = any(cast(:runs as uuid[]))"
            ),
            {"runs": [run["id"] for run in windows]},
        ).one()
    assert (loads, received) == (30, accounted)
    outcome = lumina_promise(chaos_stack, engine, admin)

    before = backfill_runs(chaos_stack)
    assert before == 1 + 30
    again = vodflow(*cli, timeout=300, env=chaos_stack.env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "no new run" in again.stdout and "windows: 30 of 30 completed" in again.stdout
    assert backfill_runs(chaos_stack) == before, "asking again for a completed backfill started a run"
    record(
        "backfill beside the live schedule",
        "30 one-day windows, max_concurrency 4, with 3 incremental runs at once",
        outcome,
        took,
        note=f"30/30 windows Completed, {received} rows read by them; inserted across all loads = rows in raw; "
        "asked again: no new run",
    )


LOAD_FILES = 20
LOAD_ROWS = int(os.environ.get("VODFLOW_CHAOS_LOAD_ROWS", "4000"))
"""Assets of the load test: ``make test`` loads 4,000 (200 a file: what it proves is 20 runs at once, each file
loaded once); ``bench/chaos_load.py`` runs the same test with 1,000,000 and reports the throughput."""


def split_drop(source: Path, into: Path, parts: int) -> list[Path]:
    """Split one CSV drop into ``parts`` drops with the same header (ids stay unique across them)."""
    with source.open(encoding="utf-8", newline="") as handle:
        header = handle.readline()
        lines = handle.readlines()
    size = -(-len(lines) // parts)
    paths = []
    for number in range(parts):
        path = into / f"load_{number:02d}.csv"
        path.write_text(header + "".join(lines[number * size : (number + 1) * size]), encoding="utf-8")
        paths.append(path)
    return paths


def where_assets_are(engine: Engine, ids: list[str]) -> tuple[int, int]:
    """How many of harbor's ``ids`` are in ``raw.assets``, and how many of the others are in ``ops.quarantine``.

    Joins (hash joins at a million ids): ``<> all(subquery)`` compares every id with every row and ran for minutes.
    """
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """
                with served as (select distinct unnest(cast(:i as text[])) as id)
                select count(a.provider_asset_id),
                       count(*) filter (
                           where a.provider_asset_id is null and exists (
                               select 1 from ops.quarantine q where q.provider = 'harbor' and q.provider_asset_id = s.id
                           )
                       )
                  from served s
                  left join raw.assets a on a.provider = 'harbor' and a.provider_asset_id = s.id
                """
            ),
            {"i": ids},
        ).one()
    return int(row[0]), int(row[1])


def test_assets_in_20_concurrent_runs_are_each_loaded_once(chaos_stack: Stack, engine: Engine, tmp_path: Path) -> None:
    """20 CSV drops land at once; the watcher starts a run for each; every asset is loaded (or quarantined) once."""
    drop_dir = chaos_stack.data_dir / "drops" / "harbor"
    (tmp_path / "parts").mkdir()
    whole = write_large_drop(tmp_path, rows=LOAD_ROWS, name="whole.csv")
    parts = split_drop(whole.path, tmp_path / "parts", LOAD_FILES)
    ids = [row[0] for row in iter_large_rows(LOAD_ROWS)]
    before, _ = where_assets_are(engine, ids)
    started = time.monotonic()
    for path in parts:
        os.replace(path, drop_dir / path.name)
    names = [p.name for p in parts]

    def all_loaded() -> bool:
        with engine.connect() as conn:
            done = conn.execute(
                text(
                    "select count(distinct file_name) from ops.drop_files "
                    "where file_name = any(:n) and outcome = 'loaded' and processed_at > now() - interval '1 hour'"
                ),
                {"n": names},
            ).scalar_one()
        return int(done) == LOAD_FILES

    wait_for(all_loaded, 1200, "every file to load", every=2)
    took = time.monotonic() - started
    in_raw, in_quarantine = where_assets_are(engine, ids)
    with engine.connect() as conn:
        runs = conn.execute(
            text("select count(distinct flow_run_id) from ops.drop_files where file_name = any(:n)"), {"n": names}
        ).scalar_one()
    assert in_raw + in_quarantine == len(set(ids)) == LOAD_ROWS, (in_raw, in_quarantine)
    assert in_raw >= before
    record(
        f"load: {LOAD_ROWS:,} assets",
        f"{LOAD_FILES} CSV drops of {LOAD_ROWS // LOAD_FILES:,} rows at once → {runs} runs",
        {"served": LOAD_ROWS, "raw_plus_quarantine": in_raw + in_quarantine, "duplicates": 0},
        took,
        note=f"{LOAD_ROWS / took:,.0f} assets/s from the drops to the last file's commit (runs start, read, load)",
    )
    assert runs == LOAD_FILES  # one run per file (the watcher's trigger), none read twice
