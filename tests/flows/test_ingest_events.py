"""Supply-chain events: stored once per event_id, bad ones quarantined, re-runs and duplicates change nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from flows.supply_chain import ingest_events
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.settings import Settings


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with SandboxServer(
        port=0, state_dir=tmp_path_factory.mktemp("sandbox"), lumina_size=40, atlas_size=5, meridian_size=20
    ) as server:
        yield server


@pytest.fixture
def admin(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxAdmin]:
    monkeypatch.setenv("VODFLOW_EVENTS_URL", f"{sandbox.url}/events/v1")
    monkeypatch.setenv("VODFLOW_EVENTS_PAGE_SIZE", "300")
    with SandboxAdmin(sandbox.url) as client:
        client.reset()
        yield client


def test_events_are_stored_once_and_bad_ones_quarantined(
    db: Engine, prefect_server: None, postgres: Settings, admin: SandboxAdmin
) -> None:
    bad = {item["id"] for item in admin.bad_items(provider="events")}
    first = ingest_events()
    assert first["received"] == first["inserted"] + first["unchanged"] + first["quarantined"]
    assert first["quarantined"] == len(bad) > 0
    assert first["deduplicated"] > 0  # the feed sends ~1% of events twice
    with db.connect() as conn:
        stored = conn.execute(text("select count(*), count(distinct event_id) from raw.supply_chain_events")).one()
        quarantined = set(conn.execute(text("select provider_asset_id from ops.quarantine")).scalars())
    assert stored[0] == stored[1] == first["inserted"]
    assert quarantined == bad
    again = ingest_events(start="2025-01-01T00:00:00Z", end="2027-01-01T00:00:00Z")
    assert again["inserted"] == 0 and again["unchanged"] == first["inserted"]
    published = admin.publish(provider="events", new=5, changed=3)
    third = ingest_events()
    assert third["inserted"] == len(published["new"]) == 5
    with db.connect() as conn:
        assert conn.execute(text("select count(*) from raw.supply_chain_events")).scalar() == first["inserted"] + 5
