"""EIDR matching benchmark: quality on real titles with real-feed imperfections, and speed at registry scale.

1. A registry extract of the sandbox's real films (minus those held out as "absent from the registry") plus
   synthetic filler up to ``--registry`` records (default 1,000,000), loaded with the project's loader.
2. A catalogue of ``--rows`` rows (default 100,000) built from the same real films with the imperfections real
   feeds carry (see ``vodflow/eidr/evaluation.py``: typos, casing, accents stripped, articles moved, suffixes,
   year +-1, missing year or runtime, remakes with the same title, titles absent from the registry).
3. The catalogue matched with the batch command's own code (``run_batch``: the pipeline's matcher), timed,
   then scored against the truth.

Targets: precision of automatic assignments >= 99.9 %, recall >= 97.5 % of rows whose film is in the registry,
review share <= 3 %, matching 100,000 rows against 1,000,000 records in <= 300 s on 2 cores. The matcher's
weights were tuned on seed 1; the default seed (2) holds out other films and draws other rows.

Run: .venv/bin/python bench/eidr_match.py [--registry N] [--rows N] [--seed S]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bench._stack import bench_postgres
from vodflow.db import embedded
from vodflow.db.engine import get_engine
from vodflow.eidr.batch import run_batch
from vodflow.eidr.catalogue_csv import read_catalogue
from vodflow.eidr.evaluation import absent_films, catalogue_rows, evaluate, write_catalogue
from vodflow.eidr.load import load_registry
from vodflow.eidr.sandbox_registry import write_registry

TARGETS = {"precision": 0.999, "recall": 0.975, "review_share": 0.03, "match_seconds": 300.0}


def progress(label: str, total: int) -> Callable[[int], None]:
    """Print ``label: done/total`` on stderr at most every 2 s."""
    last = [0.0]
    started = time.monotonic()

    def report(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 2 or done >= total:
            last[0] = now
            print(f"  {label}: {done:,}/{total:,} ({now - started:.0f} s)", file=sys.stderr, flush=True)

    return report


def cpu_seconds(postmaster: int | None) -> dict[int, float]:
    """CPU seconds used so far by this process and by each PostgreSQL backend (by pid)."""
    used = {os.getpid(): sum(os.times()[:2])}
    if postmaster is not None:
        for child in psutil.Process(postmaster).children():
            try:
                times = child.cpu_times()
            except psutil.Error:
                continue
            used[child.pid] = times.user + times.system
    return used


def timed(label: str, action: Callable[[], object], postmaster: int | None = None) -> tuple[object, float, float]:
    """Run ``action``, announcing it on stderr; return its result, wall seconds and CPU seconds (all processes).

    CPU seconds are what the run would cost on idle cores: the wall time also counts waiting for CPUs that other
    programs on a shared machine hold (see ``load_average`` in the output).
    """
    print(f"{label} …", file=sys.stderr, flush=True)
    before = cpu_seconds(postmaster)
    started = time.perf_counter()
    result = action()
    wall = time.perf_counter() - started
    after = cpu_seconds(postmaster)
    return result, wall, sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=int, default=1_000_000, help="registry records (films + filler)")
    parser.add_argument("--rows", type=int, default=100_000, help="catalogue rows to match")
    parser.add_argument("--seed", type=int, default=2, help="evaluation seed (weights were tuned on 1)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vodflow-bench-eidr-") as folder, bench_postgres() as settings:
        work = Path(folder)
        postmaster = embedded.running_pid(settings)
        engine = get_engine()
        absent = absent_films(args.seed)
        registry_path, catalogue_path, out = work / "registry.jsonl", work / "catalogue.csv", work / "matches.csv"

        written, write_s, _ = timed(
            f"writing a {args.registry:,}-record registry",
            lambda: write_registry(registry_path, total=args.registry, exclude=absent),
        )
        report, load_s, load_cpu = timed(
            "loading it (stream + COPY + upsert + index build)",
            lambda: load_registry(engine, registry_path, on_progress=progress("lines", int(written))),
            postmaster,
        )
        labelled = list(catalogue_rows(args.rows, seed=args.seed, absent=absent))
        write_catalogue(catalogue_path, labelled)
        rows = list(read_catalogue(catalogue_path))
        report_rows = progress("rows", len(rows))
        counts, match_s, match_cpu = timed(
            f"matching {len(rows):,} catalogue rows",
            lambda: run_batch(engine, rows, out, on_progress=lambda done, _total: report_rows(done)),
            postmaster,
        )
        with out.open(newline="") as handle:
            answers = {r["provider_asset_id"]: (r["outcome"], r["eidr_id"] or None) for r in csv.DictReader(handle)}
        figures = evaluate(labelled, answers)

    figures_out = {
        "bench": "eidr_match",
        "registry_records": report.records,
        "catalogue_rows": len(rows),
        "seed": args.seed,
        "registry_write_seconds": round(write_s, 1),
        "registry_load_seconds": round(load_s, 1),
        "registry_load_cpu_seconds": round(load_cpu, 1),
        "match_seconds": round(match_s, 1),
        "match_cpu_seconds": round(match_cpu, 1),
        "rows_per_second": round(len(rows) / match_s, 1),
        "precision": round(figures.precision, 5),
        "recall": round(figures.recall, 5),
        "review_share": round(figures.review_share, 5),
        "automatic": figures.automatic,
        "wrong": figures.wrong,
        "potential": figures.potential,
        "none": figures.none,
        "rows_in_registry": figures.in_registry,
        "provided_and_invalid_ok": f"{figures.forced_ok}/{figures.forced_rows}",
        "outcomes": dict(sorted(counts.items())),  # type: ignore[union-attr]
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
    }
    met = {
        "precision": figures.precision >= TARGETS["precision"],
        "recall": figures.recall >= TARGETS["recall"],
        "review_share": figures.review_share <= TARGETS["review_share"],
        "match_seconds": match_s <= TARGETS["match_seconds"],
    }
    figures_out["targets_met"] = all(met.values())

    print(f"\nEIDR matching: {len(rows):,} catalogue rows against {report.records:,} registry records")
    print(f"  (machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end of the run)")
    table = [
        ("registry load (stream, COPY, indexes)", f"{load_s:,.1f} s", f"CPU {load_cpu:,.1f} s"),
        ("matching (batch command's code)", f"{match_s:,.1f} s", f"target <= {TARGETS['match_seconds']:.0f} s"),
        ("  CPU used by it (Python + PostgreSQL)", f"{match_cpu:,.1f} s", f"{match_cpu / 2:,.0f} s on 2 idle cores"),
        ("throughput", f"{len(rows) / match_s:,.0f} rows/s", ""),
        ("precision of automatic assignments", f"{figures.precision:.4%}", f"target >= {TARGETS['precision']:.1%}"),
        ("recall (rows whose film is registered)", f"{figures.recall:.4%}", f"target >= {TARGETS['recall']:.1%}"),
        ("review share (potential)", f"{figures.review_share:.4%}", f"target <= {TARGETS['review_share']:.0%}"),
        ("wrong automatic assignments", f"{figures.wrong:,} of {figures.automatic:,}", ""),
        ("provided / invalid IDs recognised", f"{figures.forced_ok:,} of {figures.forced_rows:,}", ""),
    ]
    for name, value, target in table:
        print(f"  {name:<42} {value:>22}   {target}")
    print(
        "  misses by imperfection:", ", ".join(f"{k} {v}" for k, v in list(figures.missed_by_imperfection.items())[:6])
    )
    print(
        "  wrong by imperfection: ", ", ".join(f"{k} {v}" for k, v in list(figures.wrong_by_imperfection.items())[:6])
    )
    print(json.dumps(figures_out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
