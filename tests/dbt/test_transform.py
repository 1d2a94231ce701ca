"""The transform flow against a real PostgreSQL and a real Prefect server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey
from sqlalchemy import Engine

import flows.transform
from flows.transform import transform
from tests.dbt.conftest import InsertAssets, asset, fetch
from vodflow.dbt import DbtBuildError, DbtBuildSummary

LUMINA_BUILD = {
    "model.vodflow.stg_lumina__assets",
    "model.vodflow.int_assets_unioned",
    "model.vodflow.int_assets_resolved",
    "model.vodflow.dim_assets",
    "model.vodflow.metrics_daily",
    "test.vodflow.unique_stg_lumina__assets_provider_asset_id",
    "test.vodflow.not_null_stg_lumina__assets_provider_asset_id",
    "test.vodflow.unique_dim_assets_asset_key",
    "test.vodflow.not_null_dim_assets_asset_key",
    "test.vodflow.not_null_dim_assets_content_key",
    "test.vodflow.not_null_dim_assets_provider",
    "test.vodflow.not_null_dim_assets_title",
    "test.vodflow.accepted_values_dim_assets_asset_type__movie__series__season__episode",
    "test.vodflow.accepted_values_dim_assets_eidr_match_status__provided__duplicate__potential__none__unmatched",
    "test.vodflow.relationships_dim_assets_parent_asset_key__asset_key__ref_dim_assets_",
    "test.vodflow.relationships_fct_supply_chain_asset_key__asset_key__ref_dim_assets_",
    "test.vodflow.assert_release_year_not_far_future",
    "test.vodflow.not_null_metrics_daily_metric_date",
    "test.vodflow.not_null_metrics_daily_provider",
    "test.vodflow.unique_combination_metrics_daily_provider__metric_date",
}
DIM_ORDER = "select * from marts.dim_assets order by asset_key"


def _without_hash(unique_id: str) -> str:
    """Generic tests' unique IDs end in a hash of their arguments; drop it."""
    head, _, tail = unique_id.rpartition(".")
    return head if unique_id.startswith("test.") and len(tail) == 10 and head.count(".") >= 2 else unique_id


def test_builds_staging_and_mart(warehouse: Engine, insert_assets: InsertAssets) -> None:
    insert_assets(asset("L1"), asset("L2", eidr_id="10.5240/1234-5678-9ABC-DEF0-1234-5"), asset("L3"))
    insert_assets(asset("A1", provider="atlas", asset_type="series"))  # another provider: not lumina's staging

    started = time.perf_counter()
    summary = transform()
    elapsed = time.perf_counter() - started

    assert summary.success, summary.failures
    assert fetch(warehouse, "select count(*) as n from staging.stg_lumina__assets") == [{"n": 3}]
    rows = fetch(warehouse, DIM_ORDER)
    assert [row["asset_key"] for row in rows] == ["atlas:A1", "lumina:L1", "lumina:L2", "lumina:L3"]
    assert [row["has_eidr_id"] for row in rows] == [False, False, True, False]
    assert rows[1]["genres"] == ["Drama"] and rows[1]["language_code"] == "en"
    assert LUMINA_BUILD <= {_without_hash(node) for node in summary.selected}
    assert summary.counts.get("error", 0) == 0 and summary.counts.get("fail", 0) == 0, summary.counts
    json.dumps(summary.to_dict())  # the flow's result is plain data
    print(f"\nfirst build in-flow: {elapsed:.2f} s (dbt {summary.elapsed_seconds:.2f} s)")


def test_incremental_run_merges_only_the_changed_row(warehouse: Engine, insert_assets: InsertAssets) -> None:
    insert_assets(asset("L1"), asset("L2"), asset("L3"))  # loaded three hours ago
    insert_assets(asset("L4", loaded_at=datetime.now(UTC) - timedelta(minutes=30)))
    transform()
    before = {row["asset_key"]: row for row in fetch(warehouse, DIM_ORDER)}

    insert_assets(asset("L2", title="Film L2 (director's cut)", loaded_at=datetime.now(UTC)))
    started = time.perf_counter()
    summary = transform(select=["source:lumina+"])
    elapsed = time.perf_counter() - started

    after = {row["asset_key"]: row for row in fetch(warehouse, DIM_ORDER)}
    assert after["lumina:L2"]["title"] == "Film L2 (director's cut)"
    assert after["lumina:L2"]["load_id"] != before["lumina:L2"]["load_id"]
    assert {k: v for k, v in after.items() if k != "lumina:L2"} == {k: v for k, v in before.items() if k != "lumina:L2"}
    # The merge wrote the changed row only: not the rows loaded three hours ago (before the look-back), and not
    # L4 either, which the 60-minute look-back re-reads but which the mart already holds in that version.
    (dim,) = [node for node in summary.nodes if node.name == "dim_assets"]
    assert dim.message == "MERGE 1", dim.message
    print(f"\nwarm incremental build in-flow: {elapsed:.2f} s (dbt {summary.elapsed_seconds:.2f} s)")


def test_late_row_inside_look_back_is_picked_up(warehouse: Engine, insert_assets: InsertAssets) -> None:
    insert_assets(asset("L1", loaded_at=datetime.now(UTC)))
    transform()
    # A load that started before the last transform committed after it: its rows are older than the mart's newest.
    insert_assets(asset("L9", loaded_at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)))
    transform(select=["source:lumina+"])
    assert [row["asset_key"] for row in fetch(warehouse, DIM_ORDER)] == ["lumina:L1", "lumina:L9"]


def test_error_severity_test_fails_the_flow(warehouse: Engine, insert_assets: InsertAssets) -> None:
    insert_assets(asset("L1"), asset("L2", release_year=2090))

    state = transform(select=["source:lumina+"], return_state=True)

    assert state.is_failed()
    with pytest.raises(DbtBuildError) as raised:
        state.result()
    failures = raised.value.summary.failures
    assert [(node.resource_type, node.name, node.status) for node in failures] == [
        ("test", "assert_release_year_not_far_future", "fail")
    ]
    assert "Got 1 result" in (failures[0].message or "")


def test_source_selection_builds_only_that_providers_nodes(warehouse: Engine, insert_assets: InsertAssets) -> None:
    insert_assets(asset("L1"))

    first = transform(select=["source:lumina+"])  # a fresh database: the other staging views are added once
    assert "model.vodflow.stg_atlas__assets" in {_without_hash(node) for node in first.selected}
    summary = transform(select=["source:lumina+"])

    assert {_without_hash(node) for node in summary.selected} == LUMINA_BUILD
    assert summary.command == ["build", "--exclude-resource-type", "unit_test", "--select", "source:lumina+"]


def test_flow_creates_markdown_artifact(warehouse: Engine, insert_assets: InsertAssets) -> None:
    insert_assets(asset("L1"))
    state = transform(select=["source:lumina+"], return_state=True)
    summary = state.result()
    assert isinstance(summary, DbtBuildSummary)

    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=["dbt-build"]))
        )
    assert artifact, "no dbt-build artifact"
    latest = artifact[0]
    assert latest.flow_run_id == state.state_details.flow_run_id
    assert "| models built | tests passed |" in str(latest.data)
    assert "`dim_assets`" in str(latest.data)


def test_warn_severity_test_passes_the_flow_and_emits_an_event(
    warehouse: Engine, insert_assets: InsertAssets, monkeypatch: pytest.MonkeyPatch
) -> None:
    emitted: list[dict[str, Any]] = []
    monkeypatch.setattr(flows.transform, "emit_event", lambda **kwargs: emitted.append(kwargs))
    # An episode whose season has not arrived yet: the relationships test warns, nothing fails.
    insert_assets(asset("E1", asset_type="episode", parent_provider_asset_id="S1"))

    summary = transform(select=["source:lumina+"])

    assert summary.success
    assert [node.name for node in summary.warnings] == [
        "relationships_dim_assets_parent_asset_key__asset_key__ref_dim_assets_"
    ]
    (event,) = emitted
    assert event["event"] == "vodflow.dbt.test_failed"
    assert event["payload"]["severity"] == "warn"
    assert event["related"][0]["prefect.resource.id"] == "vodflow.provider.lumina"
