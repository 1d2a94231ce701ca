"""The lumina flow end to end on real parts: sandbox → pandera → PostgreSQL → dbt, on a real Prefect server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from sqlalchemy import Engine, text

from flows.ingest import ingest_lumina
from tests.lumina import lumina_admin, lumina_sandbox
from vodflow.dbt import ensure_dbt_concurrency_limit
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.settings import Settings

SIZE = 150


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with lumina_sandbox(tmp_path_factory.mktemp("sandbox"), SIZE) as server:
        yield server


@pytest.fixture
def admin(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxAdmin]:
    with lumina_admin(sandbox, monkeypatch, VODFLOW_LUMINA_PAGE_SIZE="40") as client:
        yield client


@pytest.fixture
def stack(db: Engine, prefect_server: None, postgres: Settings) -> Engine:
    ensure_dbt_concurrency_limit()
    return db


def scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def test_two_runs_same_rows_second_all_unchanged(stack: Engine, admin: SandboxAdmin) -> None:
    bad = admin.bad_items()
    first = ingest_lumina(transform=False)
    assert first["received"] == SIZE
    assert first["quarantined"] == len(bad) > 0
    assert first["inserted"] == SIZE - len(bad)
    rows_before = scalar(stack, "select string_agg(provider_asset_id || row_hash, ',' order by 1) from raw.assets")
    again = ingest_lumina(start="2020-01-01T00:00:00Z", end="2030-01-01T00:00:00Z", transform=False)
    assert (again["received"], again["inserted"], again["updated"]) == (SIZE, 0, 0)
    assert again["unchanged"] == SIZE - len(bad)
    assert (
        scalar(stack, "select string_agg(provider_asset_id || row_hash, ',' order by 1) from raw.assets") == rows_before
    )
    quarantined_ids = {i["id"] for i in bad}
    with stack.connect() as conn:
        stored = set(conn.execute(text("select provider_asset_id from ops.quarantine")).scalars())
        audits = (
            conn.execute(text("select received = inserted + updated + unchanged + quarantined from ops.loads"))
            .scalars()
            .all()
        )
    assert stored == quarantined_ids
    assert audits == [True, True]


def test_incremental_run_reads_only_what_changed(stack: Engine, admin: SandboxAdmin) -> None:
    ingest_lumina(transform=False)
    published = admin.publish(new=3, changed=2)
    result = ingest_lumina(transform=False)
    assert result["inserted"] == 3 and result["updated"] == 2
    assert result["received"] < 20  # the cursor (minus its look-back) bounds the read
    assert scalar(stack, "select count(*) from raw.assets") == SIZE - len(admin.bad_items()) + 3
    assert len(published["new"]) == 3


def test_truncated_page_fails_the_run_and_commits_nothing(stack: Engine, admin: SandboxAdmin) -> None:
    admin.inject_fault("truncated", times=-1, skip=2)  # the third page read, and its retries
    with pytest.raises(Exception, match="provider lumina, page 3: malformed JSON"):
        ingest_lumina(transform=False)
    assert scalar(stack, "select count(*) from raw.assets") == 0
    assert scalar(stack, "select count(*) from ops.ingest_cursors") == 0
    assert scalar(stack, "select status from ops.loads") == "failed"
    admin.clear_faults()
    converged = ingest_lumina(transform=False)
    assert converged["inserted"] == SIZE - len(admin.bad_items())


def test_full_pipeline_builds_the_mart(stack: Engine, admin: SandboxAdmin) -> None:
    result = ingest_lumina()
    assert "model.vodflow.dim_assets" in result["dbt"]["selected"]
    assert result["dbt"]["counts"].get("error", 0) == 0
    loaded = scalar(stack, "select count(*) from raw.assets")
    assert scalar(stack, "select count(*) from marts.dim_assets where provider = 'lumina'") == loaded


def test_a_failing_dbt_test_fails_the_run(stack: Engine, admin: SandboxAdmin) -> None:
    ingest_lumina(transform=False)
    with stack.begin() as conn:  # a row that bypassed validation breaks a dbt business-rule test
        conn.execute(
            text(
                "update raw.assets set release_year = 3020 "
                "where provider_asset_id = (select min(provider_asset_id) from raw.assets)"
            )
        )
    state = ingest_lumina(return_state=True)
    assert state.is_failed()
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert run.state is not None and run.state.is_failed()


def test_noop_run_skips_dbt_but_a_failed_build_is_retried(stack: Engine, admin: SandboxAdmin) -> None:
    first = ingest_lumina()
    assert "dim_assets" in " ".join(first["dbt"]["selected"])
    again = ingest_lumina()
    assert (again["inserted"], again["updated"]) == (0, 0)
    assert again["dbt"] == {"skipped": "marts already hold every raw and quarantined row"}
    with stack.begin() as conn:  # a build that fails must not be recorded as done
        conn.execute(text("update ops.transform_watermarks set loaded_through = '-infinity'"))
    rebuilt = ingest_lumina()
    assert "skipped" not in rebuilt["dbt"]


def test_a_build_whose_rows_an_earlier_build_covered_skips_once_it_holds_the_slot(
    stack: Engine, admin: SandboxAdmin
) -> None:
    """What a run that waited for the dbt slot finds when the build before it covered its rows."""
    from flows.transform import transform
    from vodflow.dbt.selection import selection_for

    ingest_lumina()  # loads and builds: the watermark covers every row lumina loaded or quarantined
    covered = transform(select=selection_for("lumina"), unless_current="lumina")
    assert covered.covered_by_earlier_build and covered.nodes == []
    with stack.begin() as conn:  # a row quarantined after that build: the marts' quarantine figures are stale
        conn.execute(text("update ops.quarantine set last_seen_at = now() where provider = 'lumina'"))
    built = transform(select=selection_for("lumina"), unless_current="lumina")
    assert not built.covered_by_earlier_build and built.success and built.of_type("model")


def test_assets_without_an_eidr_id_are_matched_into_the_mart(
    stack: Engine, admin: SandboxAdmin, tmp_path: Path
) -> None:
    from vodflow.eidr.load import load_registry
    from vodflow.eidr.sandbox_registry import write_registry

    write_registry(tmp_path / "registry.jsonl")
    load_registry(stack, tmp_path / "registry.jsonl")
    result = ingest_lumina()
    assert result["eidr"]["considered"] > 0 and result["eidr"]["duplicate"] > 0
    with stack.connect() as conn:
        statuses = dict(
            conn.execute(text("select eidr_match_status, count(*) from marts.dim_assets group by 1")).tuples().all()
        )
        matched_ok = conn.execute(
            text(
                "select count(*) filter (where d.eidr_id = r.eidr_id), count(*) from marts.dim_assets d "
                "join raw.eidr_registry r on r.imdb_id = d.imdb_id where d.eidr_match_status = 'duplicate'"
            )
        ).one()
    assert statuses["provided"] > 0 and statuses["duplicate"] > 0
    assert "unmatched" not in statuses  # every asset without a valid ID got a decision
    assert matched_ok[0] == matched_ok[1] > 0  # a confident match is the film's own EIDR ID
