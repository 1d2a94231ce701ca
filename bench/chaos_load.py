"""Load benchmark: 1,000,000 assets in 20 CSV drops landing at once on a real local stack (20 concurrent runs).

Runs the chaos suite's load test (``tests/chaos/test_stack_faults.py::test_assets_in_20_concurrent_runs_are_each_
loaded_once``) at full scale: a throwaway stack (``vodflow up`` in a temporary folder on free ports, stopped at the
end), one CSV of ``--rows`` unique assets split into 20 drops, renamed into harbor's drop folder together; the
watcher starts one ``ingest-harbor`` run per file and each loads its file in one transaction (then matches its new
assets to EIDR and builds dbt, after the clock stops). The test asserts the promise (every asset in ``raw.assets``
or ``ops.quarantine`` exactly once, one run per file); this script prints what it recorded: assets, seconds from the
drops to the last file's commit, assets per second.
``make test`` runs the same test with 4,000 assets.

Run: .venv/bin/python bench/chaos_load.py [--rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/chaos/test_stack_faults.py::test_assets_in_20_concurrent_runs_are_each_loaded_once"
RESULTS = ROOT / "test-output" / "chaos" / "results.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="assets across the 20 drops")
    args = parser.parse_args()
    if args.rows < 20:
        parser.error("--rows must be at least 20 (one per drop)")
    env = {**os.environ, "VODFLOW_CHAOS_LOAD_ROWS": str(args.rows)}
    print(f"loading {args.rows:,} assets in 20 drops on a throwaway stack (progress below)", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "3600", TEST],
        cwd=ROOT,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        print("the load test failed: see its output above", file=sys.stderr)
        return result.returncode
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines()]
    row = next(r for r in reversed(rows) if r["fault"] == f"load: {args.rows:,} assets")
    rate = args.rows / row["converge_s"]
    print(f"{'assets':<40}{args.rows:>16,}")
    print(f"{'in raw + quarantine (each once)':<40}{row['raw_plus_quarantine']:>16,}")
    print(f"{'drops → last commit (s)':<40}{row['converge_s']:>16,.1f}")
    print(f"{'assets/s end to end':<40}{rate:>16,.0f}")
    print(row["injection"])
    print(
        json.dumps(
            {
                "benchmark": "chaos_load",
                "assets": args.rows,
                "covered": row["raw_plus_quarantine"],
                "seconds": row["converge_s"],
                "assets_per_s": round(rate),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
