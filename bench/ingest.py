"""Ingestion benchmark: the project's validate+load path against a raw COPY, and a no-op re-run.

1. 100,000 canonical rows: rows/s of mapping + pandera validation + staged COPY + upsert + audit (one transaction),
   and rows/s of a plain COPY of the same rows into the same table, in the same run → ratio (target ≥ 0.5).
2. A no-op re-run of the whole lumina ingestion + dbt sub-flow, in-process against a real Prefect server and the
   sandbox (target ≤ 3 s). A process worker adds its subprocess start (3–6 s) on top; see the README.

Run: .venv/bin/python bench/ingest.py [--rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from itertools import repeat
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_USE_COLORS", "false")

from sqlalchemy import text

from bench._stack import bench_postgres
from vodflow.canonical import CANONICAL_COLUMNS
from vodflow.db.engine import get_engine
from vodflow.ingest.load import _STAGE_COLUMNS, LoadContext, column_values, copy_rows, load_batch
from vodflow.ingest.validate import validate_items
from vodflow.providers.lumina import LUMINA
from vodflow.sandbox.catalogue import eidr_id, load_films
from vodflow.sandbox.lumina import render_item


def make_items(rows: int) -> list[dict[str, Any]]:
    """Realistic lumina items: the sandbox's rendering of the real films, cycled with unique ids."""
    films = load_films()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    items = []
    for n in range(rows):
        film = films[n % len(films)]
        item = render_item(film, eidr_id(film.imdb_id), base + timedelta(seconds=n))
        item["id"] = f"LUM-B{n:08d}"
        items.append(item)
    return items


def truncate() -> None:
    with get_engine().begin() as conn:
        conn.execute(text("truncate raw.assets, ops.loads, ops.quarantine, ops.ingest_cursors"))


def time_project_path(items: list[dict[str, Any]]) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    batch = validate_items("lumina", items, LUMINA.map_item)
    now = datetime.now(UTC)
    counts = load_batch(get_engine(), batch, LoadContext("lumina", uuid.uuid4(), now, now))
    return time.perf_counter() - started, counts.as_dict()


def time_raw_copy(items: list[dict[str, Any]]) -> float:
    """The baseline: the same canonical rows (already mapped and typed, not timed) written with one plain COPY.

    Serialising the rows for COPY is timed, as it is in the project's path; mapping, validating and the content
    hashes the project computes are not (the baseline writes a constant hash).
    """
    batch = validate_items("lumina", items, LUMINA.map_item)
    now = datetime.now(UTC)
    with get_engine().connect() as sa_conn:
        conn = sa_conn.connection.driver_connection
        started = time.perf_counter()
        frame, load_id = batch.valid, uuid.uuid4()
        columns = [column_values(frame[c]) for c in CANONICAL_COLUMNS]
        rows = zip(*columns, repeat("0" * 32), repeat(load_id), repeat(now), strict=False)
        with conn.transaction():
            copy_rows(conn, "raw.assets", _STAGE_COLUMNS, rows)
        elapsed = time.perf_counter() - started
        sa_conn.commit()
    return elapsed


def time_noop_rerun(tmp: Path) -> tuple[float, float]:
    from prefect.testing.utilities import prefect_test_harness

    from flows.ingest import ingest_lumina
    from vodflow.dbt import ensure_dbt_concurrency_limit
    from vodflow.sandbox import SandboxServer

    with prefect_test_harness(server_startup_timeout=180), SandboxServer(port=0, state_dir=tmp) as sandbox:
        os.environ["VODFLOW_LUMINA_URL"] = f"{sandbox.url}/lumina/v1"
        ensure_dbt_concurrency_limit()
        truncate()
        started = time.perf_counter()
        ingest_lumina()
        first = time.perf_counter() - started
        started = time.perf_counter()
        result = ingest_lumina()
        noop = time.perf_counter() - started
        assert result["inserted"] == result["updated"] == 0, result
    return first, noop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with bench_postgres() as settings:
        print(f"generating {args.rows:,} items …", flush=True)
        items = make_items(args.rows)
        truncate()
        print("raw COPY …", flush=True)
        copy_s = time_raw_copy(items)
        truncate()
        print("validate + load …", flush=True)
        project_s, counts = time_project_path(items)
        print("re-load (all unchanged) …", flush=True)
        reload_s, recounts = time_project_path(items)
        print("no-op re-run of ingestion + dbt (in-process, real Prefect server) …", flush=True)
        first_s, noop_s = time_noop_rerun(settings.data_dir / "sandbox")
    project_rps, copy_rps = args.rows / project_s, args.rows / copy_s
    figures = {
        "bench": "ingest",
        "rows": args.rows,
        "validate_load_rows_per_s": round(project_rps),
        "raw_copy_rows_per_s": round(copy_rps),
        "ratio_to_copy": round(project_rps / copy_rps, 3),
        "reload_unchanged_rows_per_s": round(args.rows / reload_s),
        "first_run_with_dbt_s": round(first_s, 2),
        "noop_rerun_with_dbt_s": round(noop_s, 2),
    }
    print()
    print(f"{'measure':<44}{'value':>14}")
    print(f"{'validate+load (rows/s)':<44}{project_rps:>14,.0f}")
    print(f"{'raw COPY into raw.assets (rows/s)':<44}{copy_rps:>14,.0f}")
    print(f"{'ratio to raw COPY (target >= 0.5)':<44}{project_rps / copy_rps:>14.3f}")
    print(f"{'re-load, all unchanged (rows/s)':<44}{args.rows / reload_s:>14,.0f}")
    print(f"{'lumina ingestion + dbt, first run (s)':<44}{first_s:>14.2f}")
    print(f"{'no-op re-run, ingestion + dbt (s, <= 3)':<44}{noop_s:>14.2f}")
    valid = args.rows - counts["quarantined"]
    assert counts["inserted"] == valid and recounts["unchanged"] == valid, (counts, recounts)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
