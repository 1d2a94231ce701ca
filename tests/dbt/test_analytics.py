"""The analytics layer on data the real flows loaded from the sandbox: lineage-scoped builds, every mart
incremental and equal to a full refresh, metrics that agree with raw, contracts that protect the marts.

One module-scoped pipeline run (lumina, the events feed, then atlas, through the real flows and their dbt
sub-flows) feeds every test here; tests that change data put it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from flows.ingest import PIPELINE_DBT_VARS, ingest_atlas, ingest_lumina
from flows.supply_chain import ingest_events
from flows.transform import transform
from tests.conftest import _truncate
from tests.dbt.conftest import run_dbt
from vodflow.db.engine import get_engine
from vodflow.dbt import DbtBuildError, build, ensure_dbt_concurrency_limit
from vodflow.dbt.runner import DBT_SCHEMAS
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.settings import Settings

MARTS = {
    "dim_assets": "asset_key",
    "fct_supply_chain": "event_id",
    "fct_deliveries": "delivery_key",
    "fct_ingest_runs": "load_id",
    "metrics_daily": "provider, metric_date",
}
#: What an atlas ingestion builds once every relation exists: atlas's staging, the shared asset models and marts,
#: and the load audit's models. No other provider's staging model, no supply-chain model.
ATLAS_MODELS = {
    "stg_atlas__assets",
    "int_assets_unioned",
    "int_assets_resolved",
    "dim_assets",
    "metrics_daily",
    "stg_ops__loads",
    "fct_ingest_runs",
}


def fetch(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text(sql), params)]


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    return {mart: fetch(engine, f"select * from marts.{mart} order by {key}") for mart, key in MARTS.items()}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with SandboxServer(
        port=0, state_dir=tmp_path_factory.mktemp("sandbox"), lumina_size=60, atlas_size=4, meridian_size=10
    ) as server:
        yield server


@pytest.fixture(scope="module")
def pipeline(
    postgres: Settings, prefect_server: None, sandbox: SandboxServer
) -> Iterator[tuple[Engine, dict[str, Any], SandboxAdmin]]:
    """A fresh database loaded by the real flows: lumina, then the events feed, then atlas."""
    engine = get_engine()
    _truncate(engine)
    with engine.begin() as conn:
        for schema in DBT_SCHEMAS:
            conn.execute(text(f"drop schema if exists {schema} cascade"))
    ensure_dbt_concurrency_limit()
    with pytest.MonkeyPatch.context() as patch, SandboxAdmin(sandbox.url) as admin:
        patch.setenv("VODFLOW_LUMINA_URL", f"{sandbox.url}/lumina/v1")
        patch.setenv("VODFLOW_ATLAS_URL", f"{sandbox.url}/atlas/v2")
        patch.setenv("VODFLOW_EVENTS_URL", f"{sandbox.url}/events/v1")
        patch.setenv("VODFLOW_EVENTS_PAGE_SIZE", "500")
        admin.reset()
        results = {"lumina": ingest_lumina(), "events": ingest_events(), "atlas": ingest_atlas()}
        yield engine, results, admin


def test_an_ingestion_builds_only_its_source_the_audit_and_the_shared_marts(
    pipeline: tuple[Engine, dict[str, Any], SandboxAdmin],
) -> None:
    _, results, _ = pipeline
    atlas_nodes = results["atlas"]["dbt"]["selected"]
    models = {node.split(".")[-1] for node in atlas_nodes if node.startswith("model.")}
    assert models == ATLAS_MODELS
    events_models = {node.split(".")[-1] for node in results["events"]["dbt"]["selected"] if node.startswith("model.")}
    assert events_models == {
        "stg_supply_chain__events",
        "int_supply_chain__sequenced",
        "fct_supply_chain",
        "fct_deliveries",
        "metrics_daily",
        "stg_ops__loads",
        "fct_ingest_runs",
    }
    print("\natlas's dbt nodes:", *sorted(atlas_nodes), sep="\n  ")


def test_dbt_build_with_unit_tests_is_green(
    pipeline: tuple[Engine, dict[str, Any], SandboxAdmin], tmp_path: Path
) -> None:
    # What CI asks of the project: models, data tests and unit tests, one `dbt build`, on the loaded database.
    result = run_dbt(["build"], tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:]
    assert " ERROR=0 " in result.stdout and " WARN=" in result.stdout, result.stdout[-2000:]
    assert "6 unit tests" in result.stdout, result.stdout[-2000:]


def test_metrics_agree_with_raw(pipeline: tuple[Engine, dict[str, Any], SandboxAdmin]) -> None:
    engine, _, _ = pipeline
    today = datetime.now(UTC).date()
    delivered = fetch(
        engine,
        "select provider, count(*) as n from raw.supply_chain_events where event_type = 'delivered' "
        "and (occurred_at at time zone 'UTC')::date <= :today group by provider order by provider",
        today=today,
    )
    assert delivered, "the sandbox feed delivered nothing"
    assert (
        fetch(
            engine,
            "select provider, sum(deliveries) as n from marts.metrics_daily where deliveries > 0 "
            "group by provider order by provider",
        )
        == delivered
    )
    inserted = fetch(
        engine,
        "select provider, sum(inserted) as n from ops.loads where status = 'succeeded' and provider <> 'events' "
        "group by provider order by provider",
    )
    assert (
        fetch(
            engine,
            "select provider, sum(new_assets) as n from marts.metrics_daily where new_assets is not null "
            "group by provider order by provider",
        )
        == inserted
    )
    # Every day from a provider's first activity to today has a row: quiet days are zeros, not gaps in the calendar.
    for row in fetch(
        engine,
        "select provider, min(metric_date) as first, max(metric_date) as last, count(*) as days "
        "from marts.metrics_daily group by provider",
    ):
        assert row["last"] == today
        assert row["days"] == (row["last"] - row["first"]).days + 1
    # Lead times: the mart's median is the median of the timed deliveries published that day.
    day = fetch(
        engine,
        "select provider, metric_date, median_lead_time_hours from marts.metrics_daily "
        "where median_lead_time_hours is not null order by published_deliveries desc limit 1",
    )[0]
    expected = scalar(
        engine,
        "select round(percentile_cont(0.5) within group (order by lead_time_hours)::numeric, 3) "
        "from marts.fct_deliveries where provider = :p and (published_at at time zone 'UTC')::date = :d",
        p=day["provider"],
        d=day["metric_date"],
    )
    assert day["median_lead_time_hours"] == expected


def test_incremental_marts_equal_a_full_refresh(pipeline: tuple[Engine, dict[str, Any], SandboxAdmin]) -> None:
    engine, _, admin = pipeline
    # New and re-sent events (duplicates) and changed titles, through the flows' incremental builds.
    admin.publish(provider="events", new=12, changed=4)
    admin.publish(provider="lumina", new=3, changed=5)
    ingest_events()
    ingest_lumina()
    incremental = snapshot(engine)

    summary = transform(full_refresh=True)

    assert summary.success
    refreshed = snapshot(engine)
    for mart in MARTS:
        assert refreshed[mart] == incremental[mart], f"{mart} differs after --full-refresh"
    assert all(incremental[mart] for mart in MARTS), {mart: len(rows) for mart, rows in incremental.items()}


def test_a_row_breaking_a_contract_fails_the_build_and_keeps_the_mart(
    pipeline: tuple[Engine, dict[str, Any], SandboxAdmin],
) -> None:
    engine, _, _ = pipeline
    before = fetch(engine, "select * from marts.dim_assets order by asset_key")
    with engine.begin() as conn:  # what a buggy loader could write: raw.assets has no rule on years
        conn.execute(
            text(
                "insert into raw.assets (provider, provider_asset_id, asset_type, title, release_year, "
                "provider_updated_at, payload, row_hash, load_id, extracted_at) values ('lumina', 'BROKEN', "
                "'movie', 'Typo', 20011, now(), '{}', 'x', gen_random_uuid(), now())"
            )
        )
    try:
        with pytest.raises(DbtBuildError) as raised:
            build(["source:lumina+"])
        message = str(raised.value)
        # PostgreSQL names the column's check constraint after the table and the column.
        assert "model dim_assets" in message and "release_year_check" in message, message
        assert fetch(engine, "select * from marts.dim_assets order by asset_key") == before
    finally:
        with engine.begin() as conn:
            conn.execute(text("delete from raw.assets where provider_asset_id = 'BROKEN'"))


def test_a_backfill_window_rereads_old_rows(pipeline: tuple[Engine, dict[str, Any], SandboxAdmin]) -> None:
    engine, _, _ = pipeline
    victim = fetch(
        engine, "select asset_key, title, provider_updated_at from marts.dim_assets where provider = 'lumina' limit 1"
    )[0]
    with engine.begin() as conn:  # drift the incremental watermarks cannot see: the raw row is hours old
        aged = "loaded_at = loaded_at - interval '3 hours', first_loaded_at = first_loaded_at - interval '3 hours'"
        conn.execute(
            text(f"update raw.assets set {aged} where provider = 'lumina' and provider_asset_id = :id"),
            {"id": victim["asset_key"].removeprefix("lumina:")},
        )
        conn.execute(
            text(f"update marts.dim_assets set title = 'drifted', {aged} where asset_key = :k"),
            {"k": victim["asset_key"]},
        )
    transform(select=["source:lumina+"])
    assert scalar(engine, "select title from marts.dim_assets where asset_key = :k", k=victim["asset_key"]) == "drifted"

    moment = victim["provider_updated_at"]
    transform(select=["source:lumina+"], start=moment - timedelta(seconds=1), end=moment + timedelta(seconds=1))

    assert (
        scalar(engine, "select title from marts.dim_assets where asset_key = :k", k=victim["asset_key"])
        == victim["title"]
    )


def test_a_backfill_window_ending_before_it_starts_is_refused_before_dbt(
    pipeline: tuple[Engine, dict[str, Any], SandboxAdmin], monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.transform

    def no_dbt(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("dbt ran")

    monkeypatch.setattr(flows.transform, "build", no_dbt)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="is not before its end"):
        transform(start=start, end=start - timedelta(days=1))
    with pytest.raises(ValueError, match="needs both start and end"):
        transform(start=start)


def test_dbt_itself_refuses_a_bad_window(pipeline: tuple[Engine, dict[str, Any], SandboxAdmin]) -> None:
    # The same rule inside the project, for `dbt build --vars` typed by hand.
    with pytest.raises(DbtBuildError, match="is not before its end"):
        build(["dim_assets"], vars={"window_start": "2026-03-02", "window_end": "2026-03-01"})
    with pytest.raises(DbtBuildError, match="not an ISO date"):
        build(["dim_assets"], vars={"window_start": "yesterday", "window_end": "2026-03-01"})


def test_pipeline_builds_test_recent_mart_rows_and_full_builds_every_row(
    pipeline: tuple[Engine, dict[str, Any], SandboxAdmin],
) -> None:
    engine, _, _ = pipeline
    with engine.begin() as conn:  # a bad row merged two days ago: a pipeline build does not re-test it
        conn.execute(
            text(
                "insert into marts.dim_assets (asset_key, provider, provider_asset_id, content_key, asset_type, "
                "title, title_normalized, eidr_match_status, has_eidr_id, loaded_at) values ('lumina:OLD', "
                "'lumina', 'OLD', 'asset:lumina:OLD', 'film', 'Old', 'old', 'unmatched', false, "
                "now() - interval '2 days')"
            )
        )
    try:
        summary = build(["dim_assets"], vars=PIPELINE_DBT_VARS)
        assert summary.success
        with pytest.raises(DbtBuildError, match="accepted_values_dim_assets_asset_type"):
            build(["dim_assets"])
    finally:
        with engine.begin() as conn:
            conn.execute(text("delete from marts.dim_assets where asset_key = 'lumina:OLD'"))


def _freshness(tmp_path: Path) -> dict[str, str]:
    run_dbt(["source", "freshness"], tmp_path)
    results = json.loads((tmp_path / "target" / "sources.json").read_text())["results"]
    return {result["unique_id"].removeprefix("source.vodflow."): result["status"] for result in results}


def test_source_freshness_follows_each_providers_thresholds(
    pipeline: tuple[Engine, dict[str, Any], SandboxAdmin], tmp_path: Path
) -> None:
    engine, _, _ = pipeline
    fresh = _freshness(tmp_path / "fresh")
    assert fresh["lumina.assets"] == fresh["atlas.assets"] == fresh["supply_chain.events"] == "pass", fresh
    assert fresh["ops.loads"] == "pass", fresh
    aged = "loaded_at = loaded_at - interval '4 days'"
    with engine.begin() as conn:  # lumina silent for four days: past its 72-hour error threshold
        conn.execute(text(f"update raw.assets set {aged} where provider = 'lumina'"))
    try:
        stale = _freshness(tmp_path / "stale")
        assert stale["lumina.assets"] == "error" and stale["atlas.assets"] == "pass", stale
    finally:
        with engine.begin() as conn:
            restored = "loaded_at = loaded_at + interval '4 days'"
            conn.execute(text(f"update raw.assets set {restored} where provider = 'lumina'"))
