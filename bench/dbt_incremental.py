"""dbt incremental benchmark: what an incremental build of the whole dbt project costs next to a full rebuild.

On a throwaway PostgreSQL (migrated) and a throwaway Prefect server (``vodflow.dbt.build()`` needs the
``vodflow-dbt`` concurrency limit), with ``--rows`` (default 1,000,000) realistic raw.assets rows over the four
providers (lumina/harbor/meridian films, atlas series → seasons → episodes with parent links), one supply-chain
delivery chain per 10 assets, EIDR matches for the assets that came without an EIDR ID, and a few ops.loads rows
per provider, all written with COPY. Then, timed in the same run, each ``build()`` of the whole project
(``select=None``: whatever models exist at the measured commit):

a. first full build (``full_refresh=True``) on a fresh database;
b. a second full-refresh build: the warm figure, used as "full rebuild" below;
c. 1 % of the assets changed (half new rows inserted, half updated: title, ``loaded_at = now()``, row_hash,
   load_id) plus 1 % new supply-chain events, then an incremental ``build()`` with the vars an ingestion's
   build passes (``flows.ingest.PIPELINE_DBT_VARS``: mart tests read the recently merged rows only); the full
   rebuilds test every row
   → ``ratio = incremental / full rebuild`` (target ≤ 0.1);
d. ``build()`` again with nothing new (target ≤ 3 s), and the pipeline's own no-op path: the flows call
   ``vodflow.db.build_state.marts_are_current`` per provider and skip dbt entirely when it holds
   (``flows/ingest.py`` ``transform_provider``); both are reported.

Also printed: the 10 slowest dbt nodes of the full rebuild and of the incremental build (where the time goes),
and ``marts.dim_assets`` row counts before and after, asserted to be ``rows`` then ``rows + inserted``.
Note the marts re-read ``lookback_minutes`` (60) of raw rows per provider on every incremental build, so the
"nothing new" build still re-merges the rows changed in step c.

Run: .venv/bin/python bench/dbt_incremental.py [--rows N] [--no-warm]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_USE_COLORS", "false")

from sqlalchemy import text

from bench._stack import bench_postgres
from flows.ingest import PIPELINE_DBT_VARS
from vodflow.canonical import CANONICAL_COLUMNS
from vodflow.db.engine import get_engine
from vodflow.languages import normalise_language
from vodflow.sandbox.catalogue import Film, eidr_id, load_films
from vodflow.sandbox.events import PLATFORMS, QC_REASONS

PROVIDER_SHARES = (("lumina", 0.35), ("atlas", 0.30), ("harbor", 0.20), ("meridian", 0.15))
PREFIXES = {"lumina": "LUM-B", "atlas": "ATL-B", "harbor": "HBR-B", "meridian": "MER-B"}
LOADS_PER_PROVIDER = 5
#: Film titles repeat every 17,472 rows; later cycles get a suffix so titles stay realistic but distinct.
SUFFIXES = ("", " (Director's Cut)", " (Remastered)", " (Extended Edition)", " (4K Restoration)", " (Uncut)")
CHUNK_ROWS = 100_000
EVENTS_PER_ASSET = 10  # one delivery chain per 10 assets
CHANGE_SHARE = 0.01
TOP_NODES = 10

ASSET_COLUMNS = (*CANONICAL_COLUMNS, "row_hash", "load_id", "extracted_at", "first_loaded_at", "loaded_at")
EVENT_COLUMNS = (
    "event_id",
    "source",
    "provider",
    "provider_asset_id",
    "event_type",
    "reason",
    "platform",
    "occurred_at",
    "payload",
    "load_id",
    "extracted_at",
    "loaded_at",
)
MATCH_COLUMNS = (
    "provider",
    "provider_asset_id",
    "outcome",
    "eidr_id",
    "score",
    "method",
    "reason",
    "asset_row_hash",
    "matched_at",
    "decided_by",
)


@dataclass
class Load:
    """One simulated ops.loads row: the rows it wrote share its load_id and loaded_at, as in the pipeline."""

    provider: str
    load_id: uuid.UUID
    at: datetime
    inserted: int = 0
    updated: int = 0


@dataclass
class Generated:
    """What was written, for the counts and the ops.loads rows."""

    assets: int = 0
    events: int = 0
    matches: int = 0
    loads: list[Load] = field(default_factory=list)


@dataclass(frozen=True)
class FilmFacts:
    """Per-film values computed once (EIDR check characters, language codes), not once per row."""

    film: Film
    eidr: str
    language: str | None


def film_facts() -> list[FilmFacts]:
    return [
        FilmFacts(f, eidr_id(f.imdb_id), normalise_language(f.languages[0]) if f.languages else None)
        for f in load_films()
    ]


def provider_quotas(rows: int) -> list[tuple[str, int]]:
    quotas = [(name, int(rows * share)) for name, share in PROVIDER_SHARES]
    quotas[-1] = (quotas[-1][0], rows - sum(q for _, q in quotas[:-1]))
    return quotas


def _row_hash(*parts: object) -> str:
    return hashlib.md5("\x1f".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def asset_row(
    rng: random.Random,
    provider: str,
    kind: str,
    pid: str,
    title: str,
    fact: FilmFacts,
    parent: str | None = None,
    season: int | None = None,
    episode: int | None = None,
) -> list[Any]:
    """One raw.assets row (load_id and the load times are filled in when the row is assigned to a load)."""
    film = fact.film
    has_eidr = rng.random() >= 0.45  # ~45 % come without an EIDR ID, as the sandbox's providers
    updated = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(300 * 86400))
    payload = json.dumps({"id": pid, "type": kind, "title": title, "year": film.year})
    return [
        provider,
        pid,
        kind,
        title,
        film.title if kind == "movie" and title != film.title else None,
        parent,
        season,
        episode,
        film.year,
        film.runtime_min if kind in ("movie", "episode") else None,
        fact.language,
        list(film.genres),
        film.rating,
        fact.eidr if has_eidr and kind == "movie" else None,
        film.imdb_id if kind in ("movie", "series") else None,
        None,
        updated,
        payload,
        _row_hash(pid, title, updated),
        None,
        None,
        None,
        None,
    ]


def provider_rows(
    rng: random.Random, provider: str, quota: int, facts: list[FilmFacts], first: int
) -> Iterator[list[Any]]:
    """``quota`` rows of one provider; atlas as series → 1–3 seasons → 4–10 episodes (parents first)."""
    prefix, written, n_films = PREFIXES[provider], 0, len(facts)
    counter = first
    while written < quota:
        fact = facts[counter % n_films]
        cycle = counter // n_films
        more = f" #{cycle // len(SUFFIXES) + 1}" if cycle >= len(SUFFIXES) else ""
        title = fact.film.title + SUFFIXES[cycle % len(SUFFIXES)] + more
        counter += 1
        if provider != "atlas":
            yield asset_row(rng, provider, "movie", f"{prefix}{written:08d}", title, fact)
            written += 1
            continue
        series_id = f"{prefix}{written:08d}"
        block = [asset_row(rng, provider, "series", series_id, title, fact)]
        for s in range(1, rng.randint(1, 3) + 1):
            season_id = f"{series_id}-S{s:02d}"
            block.append(asset_row(rng, provider, "season", season_id, f"Season {s}", fact, series_id, s))
            for e in range(1, rng.randint(4, 10) + 1):
                episode_title = facts[(counter + 7919 * e) % n_films].film.title
                block.append(
                    asset_row(rng, provider, "episode", f"{season_id}E{e:02d}", episode_title, fact, season_id, s, e)
                )
        for row in block[: quota - written]:
            yield row
            written += 1


def asset_rows(rows: int, now: datetime, generated: Generated) -> Iterator[tuple[Any, ...]]:
    """raw.assets rows in provider blocks, each provider's from ``LOADS_PER_PROVIDER`` loads.

    The loads are spread over the last 30 days, so none of their rows is inside the marts' 60-minute look-back
    when the benchmark's changes arrive (as in production, where the catalogue was loaded long ago).
    """
    facts = film_facts()
    rng = random.Random(20261127)
    counter = 0
    for provider, quota in provider_quotas(rows):
        loads = [
            Load(provider, uuid.uuid4(), now - timedelta(days=30 - 6 * k, minutes=rng.randrange(600)))
            for k in range(LOADS_PER_PROVIDER)
        ]
        generated.loads.extend(loads)
        for position, row in enumerate(provider_rows(rng, provider, quota, facts, counter)):
            load = loads[position * LOADS_PER_PROVIDER // quota]
            load.inserted += 1
            row[19:23] = [load.load_id, load.at, load.at, load.at]
            yield tuple(row)
        counter += quota


def event_chain(rng: random.Random, provider: str, pid: str, start: datetime, load: Load) -> list[tuple[Any, ...]]:
    """delivered → (qc_failed → delivered)? → qc_passed → published on 1–2 platforms, lead times in hours."""
    steps: list[tuple[str, str | None, str | None]] = [("delivered", None, None)]
    if rng.random() < 0.15:
        steps += [("qc_failed", rng.choice(QC_REASONS), None), ("delivered", None, None)]
    steps.append(("qc_passed", None, None))
    steps += [("published", None, platform) for platform in rng.sample(PLATFORMS, rng.randint(1, 2))]
    rows, at = [], start
    for kind, reason, platform in steps:
        at += timedelta(hours=rng.lognormvariate(1.5, 0.6))
        payload = json.dumps({"type": kind, "asset_id": pid, "provider": provider})
        rows.append(
            (uuid.uuid4(), "events", provider, pid, kind, reason, platform, at, payload, load.load_id, load.at, load.at)
        )
    return rows


def copy(conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    with conn.cursor() as cur, cur.copy(f"copy {table} ({', '.join(columns)}) from stdin") as cp:
        for row in rows:
            cp.write_row(row)


def generate(rows: int) -> Generated:
    """Write the initial data with COPY, in chunks, printing progress (a million rows take a minute or two)."""
    generated = Generated()
    now = datetime.now(UTC)
    rng = random.Random(7)
    event_load = Load("events", uuid.uuid4(), now - timedelta(days=3))
    started = time.perf_counter()
    with get_engine().connect() as sa_conn:
        conn: Any = sa_conn.connection.driver_connection
        chunk: list[tuple[Any, ...]] = []

        def flush() -> None:
            events: list[tuple[Any, ...]] = []
            matches: list[tuple[Any, ...]] = []
            for index, row in enumerate(chunk, start=generated.assets):
                provider, pid, kind, eidr, loaded = row[0], row[1], row[2], row[13], row[22]
                if index % EVENTS_PER_ASSET == 0 and kind in ("movie", "episode"):
                    events += event_chain(rng, provider, pid, row[16], event_load)
                if eidr is None and kind == "movie":
                    draw = rng.random()
                    if draw < 0.6:  # the registry knew it: a duplicate, with the film's EIDR ID
                        film_eidr = eidr_id(row[14]) if row[14] else None
                        outcome, matched, score = ("duplicate", film_eidr, 0.97) if film_eidr else ("none", None, 0.2)
                    elif draw < 0.7:
                        outcome, matched, score = "potential", None, 0.8
                    else:
                        outcome, matched, score = "none", None, 0.3
                    method = "imdb" if outcome == "duplicate" else "title_year"
                    matches.append((provider, pid, outcome, matched, score, method, "bench", row[18], loaded, "auto"))
            copy(conn, "raw.assets", ASSET_COLUMNS, chunk)
            copy(conn, "raw.supply_chain_events", EVENT_COLUMNS, events)
            copy(conn, "raw.eidr_matches", MATCH_COLUMNS, matches)
            conn.commit()
            generated.assets += len(chunk)
            generated.events += len(events)
            generated.matches += len(matches)
            chunk.clear()
            rate = generated.assets / (time.perf_counter() - started)
            print(f"  {generated.assets:>10,} / {rows:,} assets  ({rate:,.0f} rows/s)", flush=True)

        for row in asset_rows(rows, now, generated):
            chunk.append(row)
            if len(chunk) >= CHUNK_ROWS:
                flush()
        if chunk:
            flush()
        event_load.inserted = generated.events
        generated.loads.append(event_load)
        write_loads(conn, generated.loads)
        conn.commit()
        with conn.cursor() as cur:
            cur.execute("analyze raw.assets; analyze raw.supply_chain_events; analyze raw.eidr_matches")
        conn.commit()
    return generated


def write_loads(conn: Any, loads: list[Load]) -> None:
    rows = [
        (
            load.load_id,
            load.provider,
            "succeeded",
            load.at - timedelta(seconds=40),
            load.at,
            load.inserted + load.updated,
            load.inserted + load.updated,
            load.inserted,
            load.updated,
        )
        for load in loads
    ]
    columns = (
        "load_id",
        "provider",
        "status",
        "started_at",
        "finished_at",
        "served",
        "received",
        "inserted",
        "updated",
    )
    copy(conn, "ops.loads", columns, rows)


def change(rows: int, events: int) -> tuple[int, int, int]:
    """Step c: 1 % of the assets changed (half inserted, half updated), 1 % new events; one load per provider.

    Returns (inserted, updated, new events).
    """
    changed = max(2, round(rows * CHANGE_SHARE))
    to_insert, to_update = changed // 2, changed - changed // 2
    new_events = max(1, round(events * CHANGE_SHARE))
    now = datetime.now(UTC)
    rng = random.Random(11)
    facts = film_facts()
    loads = {name: Load(name, uuid.uuid4(), now) for name, _ in PROVIDER_SHARES}
    event_load = Load("events", uuid.uuid4(), now, inserted=new_events)
    inserts: list[tuple[Any, ...]] = []
    for n in range(to_insert):
        provider = ("lumina", "harbor", "meridian")[n % 3]
        fact = facts[rng.randrange(len(facts))]
        pid = f"{PREFIXES[provider]}N{n:07d}"
        title = f"{fact.film.title} (New {n})"
        loads[provider].inserted += 1
        inserts.append(
            (
                provider, pid, "movie", title, fact.film.title, None, None, None, fact.film.year,
                fact.film.runtime_min, fact.language, list(fact.film.genres), fact.film.rating, fact.eidr,
                fact.film.imdb_id, None, now, json.dumps({"id": pid, "title": title}), _row_hash(pid, title),
                loads[provider].load_id, now, now, now,
            )
        )  # fmt: skip
    event_rows: list[tuple[Any, ...]] = []
    while len(event_rows) < new_events:
        row = inserts[len(event_rows) % len(inserts)]
        event_rows += event_chain(rng, row[0], row[1], now - timedelta(hours=12), event_load)
    event_rows = event_rows[:new_events]
    with get_engine().connect() as sa_conn:
        conn: Any = sa_conn.connection.driver_connection
        copy(conn, "raw.assets", ASSET_COLUMNS, inserts)
        copy(conn, "raw.supply_chain_events", EVENT_COLUMNS, event_rows)
        with conn.cursor() as cur:
            cur.execute(
                """
                with pick as (
                    select provider, provider_asset_id from raw.assets
                    where provider_asset_id not like '%%N%%'
                    order by md5(provider || provider_asset_id) limit %(n)s
                )
                update raw.assets a
                   set title = a.title || ' [rev 2]', loaded_at = now(), provider_updated_at = now(),
                       row_hash = md5(a.row_hash || 'rev 2'), load_id = (%(loads)s::jsonb ->> a.provider)::uuid
                  from pick
                 where a.provider = pick.provider and a.provider_asset_id = pick.provider_asset_id
                returning a.provider
                """,
                {"n": to_update, "loads": json.dumps({p: str(load.load_id) for p, load in loads.items()})},
            )
            for (provider,) in cur.fetchall():
                loads[provider].updated += 1
        write_loads(conn, [*loads.values(), event_load])
        conn.commit()
    return to_insert, sum(load.updated for load in loads.values()), len(event_rows)


def dim_assets_count() -> int:
    with get_engine().connect() as conn:
        return int(conn.execute(text("select count(*) from marts.dim_assets")).scalar_one())


def revised_in_mart() -> int:
    with get_engine().connect() as conn:
        return int(conn.execute(text("select count(*) from marts.dim_assets where title like '%[rev 2]'")).scalar_one())


def timed_build(label: str, **kwargs: Any) -> tuple[float, Any]:
    from vodflow.dbt import build

    print(f"{label} …", flush=True)
    started = time.perf_counter()
    summary = build(**kwargs)
    seconds = time.perf_counter() - started
    print(f"  {seconds:.2f} s  (dbt's own figure {summary.elapsed_seconds:.2f} s; {summary.counts})", flush=True)
    return seconds, summary


def slowest(summary: Any, n: int = TOP_NODES) -> list[tuple[str, float]]:
    nodes = sorted(summary.nodes, key=lambda node: node.execution_time, reverse=True)[:n]
    return [(f"{node.resource_type} {node.name}", node.execution_time) for node in nodes]


def noop_check_seconds() -> tuple[float, bool]:
    """The pipeline's no-op path: one ``marts_are_current`` per provider, as each flow run asks it."""
    from vodflow.db.build_state import marts_are_current
    from vodflow.providers import PROVIDERS

    engine = get_engine()
    marts_are_current(engine, "lumina")  # warm the connection pool, as a flow run that just loaded has it warm
    started = time.perf_counter()
    current = all(marts_are_current(engine, provider) for provider in PROVIDERS)
    return time.perf_counter() - started, current


def record_watermarks() -> dict[str, datetime | None]:
    from vodflow.db.build_state import raw_loaded_through
    from vodflow.providers import PROVIDERS

    return {provider: raw_loaded_through(get_engine(), provider) for provider in PROVIDERS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="raw.assets rows to generate (default 1e6)")
    parser.add_argument(
        "--no-warm", action="store_true", help="skip the second full-refresh build; use the first as 'full'"
    )
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    from vodflow.db.build_state import record_build
    from vodflow.dbt import ensure_dbt_concurrency_limit

    with bench_postgres():
        print(f"generating {args.rows:,} raw.assets rows (+ events, EIDR matches, loads) with COPY …", flush=True)
        started = time.perf_counter()
        generated = generate(args.rows)
        gen_s = time.perf_counter() - started
        print(f"  {generated.assets:,} assets, {generated.events:,} events, {generated.matches:,} matches "
              f"in {gen_s:.1f} s", flush=True)  # fmt: skip
        print("starting a throwaway Prefect server …", flush=True)
        with prefect_test_harness(server_startup_timeout=180):
            ensure_dbt_concurrency_limit()
            first_s, first = timed_build("(a) first full build (full_refresh=True)", full_refresh=True)
            full_s, full = first_s, first
            if not args.no_warm:
                full_s, full = timed_build("(b) second full build, warm (full_refresh=True)", full_refresh=True)
            rows_before = dim_assets_count()
            print("(c) changing 1 % of the assets and adding 1 % new events …", flush=True)
            inserted, updated, new_events = change(generated.assets, generated.events)
            print(f"  {inserted:,} inserted, {updated:,} updated, {new_events:,} new events", flush=True)
            through = record_watermarks()
            incr_s, incr = timed_build("(c) incremental build after the change", vars=PIPELINE_DBT_VARS)
            for provider, loaded_through in through.items():
                record_build(get_engine(), provider, loaded_through)  # as transform_provider does after a build
            rows_after, revised = dim_assets_count(), revised_in_mart()
            noop_s, noop = timed_build("(d) incremental build with nothing new", vars=PIPELINE_DBT_VARS)
            check_s, current = noop_check_seconds()
    ratio = incr_s / full_s
    full_label = "warm full rebuild (2nd --full-refresh)" if not args.no_warm else "full rebuild (first)"
    print()
    print(f"{'measure':<52}{'value':>14}")
    print(f"{'rows in raw.assets / events / EIDR matches':<52}"
          f"{f'{generated.assets:,} / {generated.events:,} / {generated.matches:,}':>14}")  # fmt: skip
    print(f"{'generating the rows with COPY (s)':<52}{gen_s:>14.1f}")
    print(f"{'(a) first full build (s)':<52}{first_s:>14.2f}")
    print(f"{'(b) ' + full_label + ' (s)':<52}{full_s:>14.2f}")
    print(f"{'(c) incremental, 1 % changed + 1 % new events (s)':<52}{incr_s:>14.2f}")
    print(f"{'ratio incremental / full rebuild (target <= 0.1)':<52}{ratio:>14.3f}")
    print(f"{'(d) dbt build, nothing new (s, target <= 3)':<52}{noop_s:>14.2f}")
    print(f"{'(d) pipeline no-op: marts_are_current x4 (s)':<52}{check_s:>14.4f}")
    print(f"{'marts.dim_assets rows before / after':<52}{f'{rows_before:,} / {rows_after:,}':>14}")
    print(f"{'updated titles visible in marts.dim_assets':<52}{f'{revised:,} / {updated:,}':>14}")
    for label, summary in ((full_label, full), ("incremental build", incr)):
        print(f"\nslowest dbt nodes, {label}:")
        for name, seconds in slowest(summary):
            print(f"  {seconds:>8.2f} s  {name}")
    print("\nslowest dbt nodes, build with nothing new:")
    for name, seconds in slowest(noop, 5):
        print(f"  {seconds:>8.2f} s  {name}")
    assert rows_before == generated.assets, (rows_before, generated.assets)
    assert rows_after == generated.assets + inserted, (rows_after, generated.assets, inserted)
    assert revised == updated, (revised, updated)
    assert current, "marts_are_current is False after a successful build that covered every raw row"
    figures = {
        "bench": "dbt_incremental",
        "rows": generated.assets,
        "events": generated.events,
        "first_full_build_s": round(first_s, 2),
        "full_rebuild_s": round(full_s, 2),
        "full_rebuild_is_warm": not args.no_warm,
        "incremental_s": round(incr_s, 2),
        "ratio_incremental_to_full": round(ratio, 3),
        "nothing_new_build_s": round(noop_s, 2),
        "noop_marts_are_current_s": round(check_s, 4),
        "inserted": inserted,
        "updated": updated,
        "new_events": new_events,
        "dbt_nodes": len(full.nodes),
        "slowest_full": [name for name, _ in slowest(full, 3)],
        "slowest_incremental": [name for name, _ in slowest(incr, 3)],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
