"""CSV drop benchmark: a large harbor file through the project's path, in bounded memory.

1. Writes a harbor CSV of ``--bytes`` (default 200 MB; run it once with 1000000000) with the sandbox's streaming
   generator (valid rows, ~1% deliberately bad ones, unique ids).
2. Ingests it in a child process, exactly as the ``ingest-file`` task does (``ingest_stream_file``: chunked
   reading, validation, one ``staged_load`` transaction, archive), without Prefect and without dbt, and reports
   rows/s and the child's peak RSS (``ru_maxrss``: the process did nothing else). Target: ≤ 512 MB for 1 GB.
3. Baseline in the same run: a plain ``COPY … FROM STDIN (FORMAT csv)`` of the same file into a table of text
   columns (no parsing in Python, no validation, no upsert) → ``ratio_to_copy``.

Run: .venv/bin/python bench/csv_drop.py [--bytes N] [--chunk-rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._stack import bench_postgres
from vodflow.db.engine import get_engine

FILE_NAME = "bench_drop.csv"


def child(folder: str) -> None:
    """Ingest the file in this (fresh) process; print one JSON line with the figures."""
    from vodflow.ingest.drop_load import DropJob, ingest_stream_file
    from vodflow.ingest.drops import folder_for
    from vodflow.providers.harbor import HARBOR

    os.environ["VODFLOW_HARBOR_DROP_DIR"] = folder
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    outcome = ingest_stream_file(HARBOR, DropJob(get_engine(), folder_for("harbor")), FILE_NAME)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "outcome": outcome.outcome,
                "reason": outcome.reason,
                "counts": outcome.counts,
                "seconds": seconds,
                "peak_rss_kb": peak_kb,
                "rss_after_imports_kb": baseline_kb,
            }
        )
    )


def copy_baseline(path: Path) -> tuple[float, int]:
    """Seconds for a plain COPY of the file into an unlogged text table, and the rows it held."""
    columns = ", ".join(f"c{i} text" for i in range(10))
    with get_engine().connect() as sa_conn:
        conn: Any = sa_conn.connection.driver_connection
        with conn.cursor() as cur:
            cur.execute(f"drop table if exists bench_csv; create unlogged table bench_csv ({columns})")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy("copy bench_csv from stdin with (format csv, header true)") as copy:
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    copy.write(block)
        conn.commit()
        seconds = time.perf_counter() - started
        with conn.cursor() as cur:
            cur.execute("select count(*) from bench_csv")
            count = int(cur.fetchone()[0])
            cur.execute("drop table bench_csv")
        conn.commit()
    return seconds, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bytes", type=int, default=200_000_000, help="size of the CSV to write (1e9 for 1 GB)")
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="rows per chunk (VODFLOW_DROP_CHUNK_ROWS)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    from vodflow.sandbox.harbor import write_large_drop

    with bench_postgres(), tempfile.TemporaryDirectory(prefix="vodflow-bench-drop-") as tmp:
        folder = Path(tmp) / "harbor"
        print(f"writing a {args.bytes / 1e6:,.0f} MB harbor CSV …", flush=True)
        started = time.perf_counter()
        drop = write_large_drop(folder, target_bytes=args.bytes, name=FILE_NAME)
        write_s = time.perf_counter() - started
        print(f"  {drop.rows:,} rows, {drop.bytes / 1e6:,.0f} MB in {write_s:.1f} s", flush=True)
        print("plain COPY of the file (baseline) …", flush=True)
        copy_s, copy_rows = copy_baseline(drop.path)
        print(f"ingesting in a child process (chunks of {args.chunk_rows:,} rows) …", flush=True)
        env = {**os.environ, "VODFLOW_DROP_CHUNK_ROWS": str(args.chunk_rows)}
        result = subprocess.run(
            [sys.executable, __file__, "--child", str(folder)], env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SystemExit(f"the ingesting child failed:\n{result.stderr[-3000:]}")
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        archived = (folder / "archive" / FILE_NAME).exists()
    counts = figures["counts"] or {}
    ingest_s = figures["seconds"]
    rows_per_s = drop.rows / ingest_s
    copy_rps = copy_rows / copy_s
    peak_mb = figures["peak_rss_kb"] / 1024
    summary = {
        "bench": "csv_drop",
        "bytes": drop.bytes,
        "rows": drop.rows,
        "chunk_rows": args.chunk_rows,
        "outcome": figures["outcome"],
        "write_s": round(write_s, 1),
        "ingest_s": round(ingest_s, 1),
        "rows_per_s": round(rows_per_s),
        "mb_per_s": round(drop.bytes / 1e6 / ingest_s, 2),
        "peak_rss_mb": round(peak_mb, 1),
        "rss_after_imports_mb": round(figures["rss_after_imports_kb"] / 1024, 1),
        "copy_rows_per_s": round(copy_rps),
        "ratio_to_copy": round(rows_per_s / copy_rps, 3),
        **{k: counts.get(k) for k in ("received", "inserted", "quarantined")},
    }
    print()
    print(f"{'measure':<46}{'value':>16}")
    print(f"{'file (MB / rows)':<46}{f'{drop.bytes / 1e6:,.0f} / {drop.rows:,}':>16}")
    print(f"{'ingest, validate, load, archive (s)':<46}{ingest_s:>16.1f}")
    print(f"{'rows/s':<46}{rows_per_s:>16,.0f}")
    print(f"{'peak RSS of the ingesting process (MB, <= 512)':<46}{peak_mb:>16,.1f}")
    print(f"{'plain COPY of the file (rows/s)':<46}{copy_rps:>16,.0f}")
    print(f"{'ratio to plain COPY':<46}{rows_per_s / copy_rps:>16.3f}")
    loaded = f"{summary['received']:,} / {summary['inserted']:,} / {summary['quarantined']:,}"
    print(f"{'received / inserted / quarantined':<46}{loaded:>16}")
    assert figures["outcome"] == "loaded" and archived, figures
    assert counts["received"] == counts["inserted"] + counts["updated"] + counts["unchanged"] + counts["quarantined"]
    assert counts["received"] == drop.rows, (counts, drop.rows)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
