"""atlas end to end: series documents flattened to series, seasons and episodes with parent links."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from flows.ingest import ingest_atlas
from vodflow.dbt import ensure_dbt_concurrency_limit
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.settings import Settings


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with SandboxServer(port=0, state_dir=tmp_path_factory.mktemp("sandbox"), lumina_size=20, atlas_size=40) as server:
        yield server


@pytest.fixture
def admin(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxAdmin]:
    monkeypatch.setenv("VODFLOW_ATLAS_URL", f"{sandbox.url}/atlas/v2")
    monkeypatch.setenv("VODFLOW_ATLAS_PAGE_SIZE", "15")
    with SandboxAdmin(sandbox.url) as client:
        client.reset()
        yield client


@pytest.fixture
def stack(db: Engine, prefect_server: None, postgres: Settings) -> Engine:
    ensure_dbt_concurrency_limit()
    return db


def test_atlas_flattens_links_and_quarantines_the_bad_episodes(stack: Engine, admin: SandboxAdmin) -> None:
    bad = {item["id"] for item in admin.bad_items(provider="atlas")}
    first = ingest_atlas()
    assert first["received"] == first["inserted"] + first["quarantined"]
    assert first["quarantined"] == len(bad) > 0
    with stack.connect() as conn:
        quarantined = set(conn.execute(text("select provider_asset_id from ops.quarantine")).scalars())
        kinds = dict(conn.execute(text("select asset_type, count(*) from raw.assets group by 1")).tuples().all())
        orphans = conn.execute(
            text(
                "select count(*) from raw.assets c "
                "where c.provider = 'atlas' and c.parent_provider_asset_id is not null "
                "and not exists (select 1 from raw.assets p where p.provider = 'atlas' "
                "and p.provider_asset_id = c.parent_provider_asset_id)"
            )
        ).scalar()
        dim = conn.execute(text("select count(*) from marts.dim_assets where provider = 'atlas'")).scalar()
    assert quarantined == bad
    assert kinds["series"] == 40 and kinds["season"] > 0 and kinds["episode"] > kinds["season"]
    assert orphans == 0
    assert dim == sum(kinds.values())
    admin.publish(provider="atlas", changed=3)
    second = ingest_atlas(transform=False)
    assert second["updated"] >= 3 and second["inserted"] + second["updated"] < 3 * 50
    assert second["unchanged"] > 0  # a changed episode re-sends its whole series
