"""Provider faults, duplicate deliveries and out-of-order updates: the lumina flow on real parts converges.

Each test starts from an empty database, injects its fault into the provider sandbox (a real HTTP server), runs
the real ``ingest-lumina`` flow on the session's Prefect server and PostgreSQL until a run completes (at most
three runs: a fault may fail the first, as a scheduled re-run would follow), then checks the promise against what
the sandbox serves (tests/chaos/invariants.py) and records a row of the suite's table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, text

from flows.ingest import ingest_lumina
from tests.chaos.invariants import assert_promise, check_served, lumina_served, record
from tests.lumina import lumina_admin, lumina_sandbox
from vodflow.dbt import ensure_dbt_concurrency_limit
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.settings import Settings

SIZE = 200
PAGE_SIZE = 25  # eight pages: room for a fault in the middle of a read


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with lumina_sandbox(tmp_path_factory.mktemp("sandbox"), SIZE) as server:
        yield server


@pytest.fixture
def admin(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxAdmin]:
    settings = {"VODFLOW_LUMINA_PAGE_SIZE": str(PAGE_SIZE), "VODFLOW_HTTP_READ_TIMEOUT_SECONDS": "1"}
    with lumina_admin(sandbox, monkeypatch, **settings) as client:
        yield client


@pytest.fixture
def engine(db: Engine, prefect_server: None, postgres: Settings) -> Engine:
    ensure_dbt_concurrency_limit()
    return db


def converge(run: Callable[[], dict[str, Any]], attempts: int = 3) -> tuple[float, list[str]]:
    """Run until a run completes; seconds taken and the errors of the runs that failed on the way."""
    started = time.monotonic()
    errors: list[str] = []
    for _ in range(attempts):
        try:
            run()
        except Exception as exc:  # a failed run: the next one (a schedule's, a person's) must converge
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        return time.monotonic() - started, errors
    raise AssertionError(f"no run completed in {attempts} attempts: {errors}")


def raw_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("select count(*) from raw.assets where provider = 'lumina'")).scalar_one())


def settle(
    engine: Engine, admin: SandboxAdmin, sandbox: SandboxServer, fault: str, injection: str, took: float, note: str = ""
) -> None:
    """Check the promise against what the sandbox serves now and record the table's row."""
    bad = {item["id"] for item in admin.bad_items()}
    outcome = check_served(engine, "lumina", lumina_served(sandbox.url), bad)
    record(fault, injection, outcome, took, note)
    assert_promise(outcome, raw_rows=raw_rows(engine))


def just_run() -> dict[str, Any]:
    result = ingest_lumina(transform=False)
    assert isinstance(result, dict)
    return result


FAULTS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "429 storm": ("12 × 429 (Retry-After 1 s) from the 3rd request", [{"kind": 429, "times": 12, "skip": 2}]),
    "5xx burst": (
        "3 × 500 then 3 × 503 from the 2nd request",
        [{"kind": 500, "times": 3, "skip": 1}, {"kind": 503, "times": 3, "skip": 1}],
    ),
    "timeouts": (
        "3 requests answer after 3 s (read timeout 1 s)",
        [{"kind": "slow", "times": 3, "skip": 3, "delay_s": 3.0}],
    ),
    "connection reset mid-read": ("2 × TCP reset on the 4th request", [{"kind": "reset", "times": 2, "skip": 3}]),
    "truncated page": ("the 5th page's JSON cut in half, twice", [{"kind": "truncated", "times": 2, "skip": 4}]),
    "HTML maintenance page": ("200 text/html on the 2nd request", [{"kind": "html", "times": 1, "skip": 1}]),
    "page changes while paging": (
        "the item before the 2nd request's range is edited: page 2's first item slides to page 1",
        [{"kind": "shift", "times": 1, "skip": 1}],
    ),
    "malformed rows": (
        "the 3rd page's items break the schema once",
        [{"kind": "malformed_rows", "times": 1, "skip": 2}],
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_provider_fault_converges_to_what_the_provider_serves(
    engine: Engine, admin: SandboxAdmin, sandbox: SandboxServer, fault: str
) -> None:
    injection, faults = FAULTS[fault]
    for spec in faults:
        admin.inject_fault(**spec)
    took, errors = converge(just_run)
    if fault == "malformed rows":
        # The broken items were quarantined; the next incremental run (the cursor's look-back) brings their
        # good versions.
        start = time.monotonic()
        just_run()
        took += time.monotonic() - start
    failed = f"{len(errors)} run(s) failed first ({errors[0].split(':')[0]})" if errors else "first run completed"
    settle(engine, admin, sandbox, fault, injection, took, failed)
    assert not admin.faults() or fault == "429 storm", admin.faults()
    if fault == "page changes while paging":
        assert not errors  # seeking on updated_since: one run, nothing skipped


def test_duplicate_deliveries_are_one_effect(engine: Engine, admin: SandboxAdmin, sandbox: SandboxServer) -> None:
    """The same delivery three times, two of them at once: the rows of one delivery, inserted once."""
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: just_run(), range(2)))
    again = just_run()
    took = time.monotonic() - started
    assert sorted(r["inserted"] for r in results)[0] == 0  # the second of the concurrent pair found it all there
    assert again["inserted"] == again["updated"] == 0 and again["unchanged"] > 0
    settle(engine, admin, sandbox, "duplicate deliveries", "one delivery 3×, two runs at once", took)


def test_an_older_version_arriving_after_a_newer_one_never_wins(
    engine: Engine, admin: SandboxAdmin, sandbox: SandboxServer
) -> None:
    """A backfill of an old window re-serving an item after its newer version is loaded keeps the newer one."""
    just_run()
    changed = admin.publish(changed=5)["changed"]
    started = time.monotonic()
    just_run()
    with engine.begin() as conn:  # an older version of each changed item arrives late (the stale path)
        conn.execute(
            text(
                "update raw.assets set provider_updated_at = provider_updated_at + interval '1 day', "
                "row_hash = 'newer' where provider = 'lumina' and provider_asset_id = any(:ids)"
            ),
            {"ids": changed},
        )
    result = ingest_lumina(start="2000-01-01T00:00:00Z", end="2100-01-01T00:00:00Z", transform=False)
    assert isinstance(result, dict) and result["stale"] == len(changed), result
    with engine.connect() as conn:
        kept = conn.execute(
            text("select count(*) from raw.assets where provider_asset_id = any(:ids) and row_hash = 'newer'"),
            {"ids": changed},
        ).scalar_one()
    assert kept == len(changed)
    record(
        "out-of-order update",
        "5 items' older versions re-served after their newer ones",
        {"served": len(changed), "raw_plus_quarantine": kept, "duplicates": 0},
        time.monotonic() - started,
        note="the newer version stays (counted stale)",
    )
