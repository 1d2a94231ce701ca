"""Lag benchmark: from a change at the provider to its row visible in ``marts.dim_assets``, on the real local stack.

Starts a throwaway local stack with ``vodflow up`` (PostgreSQL, Prefect server, process worker, sandbox, drop
watcher; deployments from ``prefect.yaml``) in a temporary data folder on free ports, and stops it with
``vodflow down`` at the end, also on failure or Ctrl-C.

``--provider harbor`` (default), the event-driven path: an initial harbor CSV drop is loaded, then ``--changes``
times (default 20) a one-row CSV that changes the title of a known asset to a unique marker is written under a
temporary name and renamed into harbor's drop folder (watcher → ``vodflow.drop.received`` → deployment trigger →
``ingest-harbor`` on the worker → load → dbt sub-flow). ``marts.dim_assets`` (and ``raw.assets``) are polled
every 0.2 s until the title shows. Lag = rename → title visible in the mart. Target: p95 ≤ 20 s.

``--provider lumina``, the polled API path, reported as "change → triggered run → mart" (NOT the lag of the
15-minute schedule, which adds up to 15 min of waiting): the sandbox admin API changes one lumina item, then
``vodflow.api.trigger_ingestion("lumina")`` starts the run at once; visible = the item's row in the mart carries a
new ``load_id``.

Before each change the previous one is visible and its flow run has ended (each change is measured alone; the
runs of the other deployments' schedules still run on the same stack, as they would). Breakdown per change, from
the Prefect server's timestamps: change → flow run created, → Running (worker picked it up, subprocess started),
→ row in raw.assets, → row in the mart.

Run: .venv/bin/python bench/lag.py [--changes N] [--provider harbor|lumina] [--timeout S]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vodflow.net import free_port

POLL_SECONDS = 0.2
TARGET_P95_S = 20.0
PORT_VARS = ("VODFLOW_PG_PORT", "VODFLOW_PREFECT_PORT", "VODFLOW_SANDBOX_PORT", "VODFLOW_DOCS_PORT")


@dataclass
class Change:
    """One measured change: seconds from the change to each milestone (None where unknown)."""

    number: int
    asset_id: str
    lag_s: float
    raw_s: float | None
    created_s: float | None
    running_s: float | None
    run_name: str | None


def vodflow_cli(*args: str) -> None:
    """Run the real ``vodflow`` command (what a person types), its progress lines passed through."""
    result = subprocess.run([sys.executable, "-m", "vodflow", *args], env={**os.environ, "COLUMNS": "120"}, check=False)
    if result.returncode != 0:
        raise SystemExit(f"`vodflow {' '.join(args)}` failed with exit code {result.returncode}")


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest): no interpolation between two runs."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def query(sql: str, **params: Any) -> Any:
    """The first row of ``sql``; None while a relation it reads does not exist yet (before the first dbt build)."""
    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    from vodflow.db.engine import get_engine

    try:
        with get_engine().connect() as conn:
            return conn.execute(text(sql), params).first()
    except ProgrammingError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def wait_for(what: str, check: Any, timeout: float, poll: float = 1.0) -> Any:
    """Poll ``check()`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(poll)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def active_runs() -> list[str]:
    """Names of flow runs that are scheduled to start now, pending or running (the stack is not quiet)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    states = [StateType.PENDING, StateType.RUNNING]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=states)))
        )
    return [run.name for run in runs]


def flow_run_times(name: str) -> tuple[datetime | None, datetime | None, bool]:
    """(created, started, ended) of the flow run called ``name`` (file runs are named ``harbor/<file>``)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    if not runs:
        return None, None, False
    run = runs[0]
    return run.created, run.start_time, bool(run.state and run.state.is_final())


def flow_run_by_id(run_id: uuid.UUID) -> tuple[datetime | None, datetime | None, bool, str]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
    return run.created, run.start_time, bool(run.state and run.state.is_final()), run.name


def seconds_after(moment: datetime | None, origin: float) -> float | None:
    return None if moment is None else moment.timestamp() - origin


def csv_text(row: dict[str, Any]) -> str:
    """One-row harbor CSV with the exact contract header (RFC 4180 quoting, ``genres`` comma-separated)."""
    from vodflow.contracts import CATALOGUE_CSV_HEADER

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CATALOGUE_CSV_HEADER)
    writer.writerow(["" if row.get(column) is None else row[column] for column in CATALOGUE_CSV_HEADER])
    return out.getvalue()


def harbor_assets(count: int) -> list[dict[str, Any]]:
    """``count`` loaded harbor assets (distinct, deterministic), as CSV values."""
    from sqlalchemy import text

    from vodflow.db.engine import get_engine

    with get_engine().connect() as conn:
        rows = conn.execute(
            text(
                """
                select provider_asset_id, asset_type, title, release_year, runtime_minutes, language,
                       array_to_string(genres, ',') as genres, imdb_id, eidr_id
                from raw.assets where provider = 'harbor' order by md5(provider_asset_id) limit :n
                """
            ),
            {"n": count},
        ).mappings()
        return [dict(row) for row in rows]


def change_harbor(number: int, asset: dict[str, Any], timeout: float) -> Change:
    """Drop a one-row CSV renaming ``asset`` to a unique marker; time it into raw.assets and the mart."""
    from vodflow.ingest.drops import drop_dir
    from vodflow.sandbox.atomic import replaced_atomically

    marker = f"{asset['title'][:60]} [lag {number} {uuid.uuid4().hex[:8]}]"
    row = {**asset, "title": marker, "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    name = f"lag_{number:03d}_{uuid.uuid4().hex[:6]}.csv"
    folder = drop_dir("harbor")
    data = csv_text(row).encode()
    pid = asset["provider_asset_id"]
    raw_sql = "select 1 from raw.assets where provider = 'harbor' and provider_asset_id = :p and title = :t"
    mart_sql = "select 1 from marts.dim_assets where provider = 'harbor' and provider_asset_id = :p and title = :t"
    with replaced_atomically(folder / name) as handle:
        handle.write(data)
        handle.flush()
        origin = time.time()  # the rename follows at once (after an fsync of a few hundred bytes)
    return _poll(number, pid, origin, raw_sql, mart_sql, {"p": pid, "t": marker}, timeout, run_name=f"harbor/{name}")


def change_lumina(number: int, timeout: float) -> Change:
    """Change one lumina item in the sandbox and trigger ``ingest-lumina`` by hand; time it into the mart."""
    from vodflow.api import trigger_ingestion
    from vodflow.sandbox.admin import SandboxAdmin
    from vodflow.settings import get_settings

    origin = time.time()
    with SandboxAdmin(get_settings().sandbox_url) as admin:
        pid = admin.publish(changed=1, provider="lumina")["changed"][0]
    before = query("select load_id from marts.dim_assets where provider = 'lumina' and provider_asset_id = :p", p=pid)
    run = trigger_ingestion("lumina", wait=False)
    raw_sql = "select 1 from raw.assets where provider = 'lumina' and provider_asset_id = :p and load_id <> :l"
    mart_sql = "select 1 from marts.dim_assets where provider = 'lumina' and provider_asset_id = :p and load_id <> :l"
    return _poll(number, pid, origin, raw_sql, mart_sql, {"p": pid, "l": before[0]}, timeout, run_id=run.flow_run_id)


def _poll(
    number: int,
    pid: str,
    origin: float,
    raw_sql: str,
    mart_sql: str,
    params: dict[str, Any],
    timeout: float,
    run_name: str | None = None,
    run_id: uuid.UUID | None = None,
) -> Change:
    raw_s = None
    deadline = origin + timeout
    while True:
        now = time.time()
        if raw_s is None and query(raw_sql, **params):
            raw_s = now - origin
        if query(mart_sql, **params):
            lag = now - origin
            break
        if now > deadline:
            raise SystemExit(f"change {number} ({pid}) not visible in marts.dim_assets after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
    raw_s = lag if raw_s is None else raw_s

    def run_ended() -> tuple[datetime | None, datetime | None, bool, str | None] | None:
        name: str | None
        if run_id is not None:
            created, started, ended, name = flow_run_by_id(run_id)
        else:
            assert run_name is not None
            created, started, ended = flow_run_times(run_name)
            name = run_name if created else None
        return (created, started, ended, name) if ended else None

    # Each change is measured alone: the next one waits until this run (dbt tests included) has ended.
    created, started, _, name = wait_for(f"the flow run of change {number} to end", run_ended, timeout, poll=0.5)
    return Change(number, pid, lag, raw_s, seconds_after(created, origin), seconds_after(started, origin), name)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through the finally that stops the stack


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def initial_load(provider: str, timeout: float) -> float:
    """Load the provider's initial catalogue (harbor: a sandbox CSV drop through the watcher) and build the marts."""
    started = time.perf_counter()
    if provider == "harbor":
        from vodflow.ingest.drops import drop_dir
        from vodflow.sandbox.harbor import write_drop

        write_drop(drop_dir("harbor"))  # 1,000 rows, write-then-rename, ~1 % deliberately bad
        wait_for(
            "the initial harbor drop in marts.dim_assets",
            lambda: query("select 1 from marts.dim_assets where provider = 'harbor' limit 1"),
            timeout,
        )
    else:
        from vodflow.api import trigger_ingestion

        run = trigger_ingestion(provider, wait=True, timeout=timeout)
        if run.state != "Completed":
            raise SystemExit(f"the initial {provider} run ended {run.state}")
    return time.perf_counter() - started


def measure(args: argparse.Namespace) -> tuple[list[Change], float, list[str]]:
    print(f"initial {args.provider} load (through the worker; first dbt build) …", flush=True)
    first_s = initial_load(args.provider, args.timeout * 3)
    print(f"  visible in marts.dim_assets after {first_s:.1f} s", flush=True)
    print("waiting for the stack to go quiet (first scheduled runs of the other deployments) …", flush=True)
    wait_for("no pending or running flow run", lambda: not active_runs(), 600, poll=2.0)
    assets = harbor_assets(args.changes) if args.provider == "harbor" else []
    if args.provider == "harbor" and len(assets) < args.changes:
        raise SystemExit(f"only {len(assets)} harbor assets loaded, {args.changes} needed")
    changes: list[Change] = []
    for number in range(1, args.changes + 1):
        if args.provider == "harbor":
            change = change_harbor(number, assets[number - 1], args.timeout)
        else:
            change = change_lumina(number, args.timeout)
        changes.append(change)
        print(
            f"  change {number:>2}/{args.changes}: {change.lag_s:6.2f} s to the mart  (created {fmt(change.created_s)}"
            f", running {fmt(change.running_s)}, raw {fmt(change.raw_s)})  {change.run_name or ''}",
            flush=True,
        )
    others = [name for name in active_runs() if name]
    return changes, first_s, others


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=20, help="changes to measure (default 20)")
    parser.add_argument(
        "--provider",
        choices=("harbor", "lumina"),
        default="harbor",
        help="harbor: CSV drop, event-driven (the lag); lumina: sandbox change + run triggered by hand",
    )
    parser.add_argument("--timeout", type=float, default=180, help="seconds one change may take (default 180)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _sigterm)
    with tempfile.TemporaryDirectory(prefix="vodflow-bench-lag-") as folder:
        os.environ["VODFLOW_DATA_DIR"] = folder
        for variable in PORT_VARS:
            os.environ[variable] = str(free_port())
        for variable in ("DATABASE_URL", "PREFECT_API_URL", "VODFLOW_HARBOR_DROP_DIR", "VODFLOW_LUMINA_URL"):
            os.environ.pop(variable, None)
        from vodflow.settings import get_settings
        from vodflow.stack.env import prefect_env

        # Before anything imports Prefect (its settings are read once per process): talk to the stack's server.
        os.environ.update(prefect_env(get_settings()))
        print("starting a throwaway local stack (`vodflow up`) …", flush=True)
        started = time.perf_counter()
        try:
            vodflow_cli("up")
            up_s = time.perf_counter() - started
            changes, first_s, others = measure(args)
        finally:
            print("stopping the stack (`vodflow down`) …", flush=True)
            from vodflow.db.engine import get_engine

            get_engine().dispose()
            vodflow_cli("down")
    report(args, changes, up_s, first_s, others)


def report(args: argparse.Namespace, changes: list[Change], up_s: float, first_s: float, others: list[str]) -> None:
    lags = [c.lag_s for c in changes]
    p50, p95 = statistics.median(lags), percentile(lags, 0.95)

    def median_of(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else None

    label = (
        "lag, CSV drop → marts.dim_assets"
        if args.provider == "harbor"
        else "change → triggered run → mart (lumina, not the schedule's lag)"
    )
    print()
    print(label)
    print(f"{'measure':<52}{'value':>12}")
    print(f"{'vodflow up, cold (s)':<52}{up_s:>12.1f}")
    print(f"{'initial load, first dbt build (s)':<52}{first_s:>12.1f}")
    print(f"{'changes measured':<52}{len(changes):>12}")
    print(f"{'p50 (s)':<52}{p50:>12.2f}")
    print(f"{f'p95 (s, target <= {TARGET_P95_S:.0f})':<52}{p95:>12.2f}")
    print(f"{'min / max (s)':<52}{f'{min(lags):.2f} / {max(lags):.2f}':>12}")
    print("breakdown, medians (s from the change):")
    trigger = "event → deployment trigger" if args.provider == "harbor" else "trigger_ingestion"
    print(f"  {f'flow run created ({trigger})':<50}{fmt(median_of([c.created_s for c in changes])):>12}")
    print(f"  {'flow run Running (worker + subprocess)':<50}{fmt(median_of([c.running_s for c in changes])):>12}")
    print(f"  {'row in raw.assets (load committed)':<50}{fmt(median_of([c.raw_s for c in changes])):>12}")
    print(f"  {'row in marts.dim_assets':<50}{fmt(p50):>12}")
    if others:
        print(f"flow runs still active at the end: {', '.join(others)}")
    figures = {
        "bench": "lag",
        "provider": args.provider,
        "path": "csv_drop_event" if args.provider == "harbor" else "change_triggered_run",
        "changes": len(changes),
        "p50_s": round(p50, 2),
        "p95_s": round(p95, 2),
        "max_s": round(max(lags), 2),
        "lags_s": [round(v, 2) for v in lags],
        "median_to_run_created_s": _round(median_of([c.created_s for c in changes])),
        "median_to_running_s": _round(median_of([c.running_s for c in changes])),
        "median_to_raw_s": _round(median_of([c.raw_s for c in changes])),
        "stack_up_s": round(up_s, 1),
        "initial_load_s": round(first_s, 1),
    }
    print(json.dumps(figures))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


if __name__ == "__main__":
    main()
