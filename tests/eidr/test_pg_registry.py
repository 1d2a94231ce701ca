"""The PostgreSQL registry as the matcher sees it: every search route, on crafted records."""

from __future__ import annotations

import pytest

from tests.eidr.helpers import eidr, record, write_jsonl
from vodflow.eidr.decision import Outcome
from vodflow.eidr.load import load_registry
from vodflow.eidr.matcher import match_queries
from vodflow.eidr.pg_registry import PostgresRegistry
from vodflow.eidr.resolver import AssetQuery, Via

pytestmark = pytest.mark.timeout(60)

REGISTRY = [
    record("matrix", "The Matrix", release_year=1999, runtime_minutes=136, imdb_id="tt0133093", language="English"),
    record("heat95", "Heat", release_year=1995, runtime_minutes=170, language="English"),
    record("heat86", "Heat", release_year=1986, runtime_minutes=101, language="English"),
    record("heat-ep", "Heat", release_year=1995, referent_type="Episode"),
    record("godfather2", "The Godfather Part II", release_year=1974, runtime_minutes=202),
    record("godfather3", "The Godfather Part III", release_year=1990, runtime_minutes=162),
    record("amelie", "Amélie", release_year=2001, runtime_minutes=122, imdb_id="tt0211915"),
    record("yearless", "A Film Without a Year", runtime_minutes=95),
]


@pytest.fixture
def registry(db, tmp_path):
    load_registry(db, write_jsonl(tmp_path / "registry.jsonl", REGISTRY))
    return PostgresRegistry(db)


def _one(registry, **fields):
    (decision,) = match_queries(registry, [AssetQuery(key="k", asset_type="movie", **fields)])
    return decision


def test_exact_routes_find_imdb_and_title(registry):
    found = registry.candidates(
        [AssetQuery(key="a", title="Matrix, The (HD)"), AssetQuery(key="b", title="x", imdb_id="tt0211915")],
        fuzzy=False,
    )
    assert [(c.record.eidr_id, c.via) for c in found[0]] == [(eidr("matrix"), Via.TITLE_EXACT)]
    assert [(c.record.eidr_id, c.via) for c in found[1]] == [(eidr("amelie"), Via.IMDB_ID)]


def test_types_are_filtered_in_the_search(registry):
    (found,) = registry.candidates([AssetQuery(key="k", title="Heat", asset_type="movie")], fuzzy=False)
    assert {c.record.eidr_id for c in found} == {eidr("heat95"), eidr("heat86")}
    (found,) = registry.candidates([AssetQuery(key="k", title="Heat", asset_type="episode")], fuzzy=False)
    assert {c.record.eidr_id for c in found} == {eidr("heat-ep")}


def test_fuzzy_search_stays_within_two_years(registry):
    near, far = registry.candidates(
        [
            AssetQuery(key="near", title="The Godfathr Part II", release_year=1975, asset_type="movie"),
            AssetQuery(key="far", title="The Godfathr Part II", release_year=1960, asset_type="movie"),
        ],
        fuzzy=True,
    )
    assert eidr("godfather2") in {c.record.eidr_id for c in near}
    assert eidr("godfather3") not in {c.record.eidr_id for c in near}  # 1990 is out of 1973-1977
    assert far == []


def test_fuzzy_search_without_a_year_covers_every_year(registry):
    query = AssetQuery(key="k", title="The Godfathr Part III", asset_type="movie")
    (found,) = registry.candidates([query], fuzzy=True)
    assert eidr("godfather3") in {c.record.eidr_id for c in found}


def test_matching_end_to_end(registry):
    assert _one(registry, title="The Matrx", release_year=1999, runtime_minutes=136).eidr_id == eidr("matrix")
    assert _one(registry, title="HEAT", release_year=1995).eidr_id == eidr("heat95")
    assert _one(registry, title="Heat", runtime_minutes=99).eidr_id == eidr("heat86")
    remake = _one(registry, title="Heat")
    assert remake.outcome is Outcome.POTENTIAL and len(remake.candidates) == 2
    assert _one(registry, title="Heat", release_year=2013).outcome is Outcome.NONE
    assert _one(registry, title="Le Fabuleux Destin", imdb_id="tt0211915", release_year=2001).outcome is (
        Outcome.POTENTIAL
    )
    assert _one(registry, title="Something Else Entirely", release_year=1999).outcome is Outcome.NONE


def test_resolve_returns_known_ids_only(registry):
    assert set(registry.resolve([eidr("matrix"), eidr("unknown")])) == {eidr("matrix")}


def test_fuzzy_searches_spread_over_workers_give_the_same_answer(db, registry):
    queries = [AssetQuery(key=str(i), title="The Matrx", release_year=1999, asset_type="movie") for i in range(6)]
    single = PostgresRegistry(db, workers=1).candidates(queries, fuzzy=True)
    assert registry.candidates(queries, fuzzy=True) == single
    assert all(found and found[0].record.eidr_id == eidr("matrix") for found in single)


def test_the_fuzzy_routes_use_the_year_led_partial_indexes(db, registry):
    from vodflow.eidr import pg_registry

    film, serial, _ = pg_registry._fuzzy_routes(pg_registry.DEFAULT_TABLE)
    queries = [AssetQuery(key="k", title="The Matrx", release_year=1999, asset_type="movie")]
    with pg_registry.psycopg_connection(db) as conn, conn.cursor() as cur:
        cur.execute("set local enable_seqscan = off")
        pg_registry.stage_queries(conn, queries)
        plans = {
            name: "\n".join(r[0] for r in cur.execute(f"explain {route.sql}"))
            for name, route in (("film", film), ("serial", serial))
        }
    assert "eidr_registry_film_year_trgm_idx" in plans["film"]
    assert "eidr_registry_serial_year_trgm_idx" in plans["serial"]
