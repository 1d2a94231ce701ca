"""POST /admin/publish, persistence across restarts, and POST /admin/reset."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.sandbox.conftest import SIZE, http_client
from tests.sandbox.helpers import TITLES, fetch_all
from tests.sandbox.test_lumina import breaks
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.sandbox.events import Sizes, initial_stream
from vodflow.sandbox.lumina import BadKind, deliberately_bad

pytestmark = pytest.mark.timeout(60)


def _by_id(items):
    return {i["id"]: i for i in items}


def test_published_and_changed_items_appear_after_the_cursor(client, admin):
    before, _ = fetch_all(client, page_size=1000)
    cursor = max(i["updated_at"] for i in before)
    result = admin.publish(new=3, changed=4)
    assert len(result["new"]) == 3 and len(result["changed"]) == 4
    assert set(result["new"]).isdisjoint(_by_id(before))
    assert set(result["changed"]) <= set(_by_id(before))

    after_cursor, _ = fetch_all(client, updated_since=cursor)
    fresh = [i for i in after_cursor if i["updated_at"] > cursor]
    assert {i["id"] for i in fresh} == set(result["new"]) | set(result["changed"])
    assert fresh == after_cursor[-7:]  # they sort last

    everything, _ = fetch_all(client, page_size=1000)
    assert len(everything) == SIZE + 3
    old, new = _by_id(before), _by_id(everything)
    for item_id in result["changed"]:
        visible = {k for k in ("rating", "runtime_min", "title") if old[item_id][k] != new[item_id][k]}
        assert len(visible) == 1, (old[item_id], new[item_id])
        unchanged = {k: v for k, v in new[item_id].items() if k not in visible | {"updated_at"}}
        assert unchanged == {k: v for k, v in old[item_id].items() if k not in visible | {"updated_at"}}
    untouched = set(old) - set(result["changed"])
    assert all(old[i] == new[i] for i in untouched)


def test_publish_is_deterministic(tmp_path):
    runs = []
    for name in ("one", "two"):
        with SandboxServer(port=0, state_dir=tmp_path / name, lumina_size=SIZE) as server:
            with SandboxAdmin(server.url) as admin, http_client(server.url) as http:
                results = [admin.publish(new=2, changed=3), admin.publish(new=1, changed=5)]
                items, _ = fetch_all(http, page_size=1000)
        runs.append((results, sorted(({**i, "updated_at": None} for i in items), key=lambda i: i["id"])))
    assert runs[0] == runs[1]
    assert runs[0][0][0]["new"] != runs[0][0][1]["new"]  # the reserve is consumed in order


def test_state_survives_a_restart(state_dir):
    with SandboxServer(port=0, state_dir=state_dir, lumina_size=SIZE) as server:
        with SandboxAdmin(server.url) as admin, http_client(server.url) as http:
            published = admin.publish(new=4, changed=6)
            served, _ = fetch_all(http, page_size=1000)
    assert json.loads((state_dir / "lumina.json").read_text())["publish_seq"] == 1
    with SandboxServer(port=0, state_dir=state_dir, lumina_size=SIZE) as server:
        with SandboxAdmin(server.url) as admin, http_client(server.url) as http:
            assert fetch_all(http, page_size=1000)[0] == served
            # the next publish continues the sequence instead of repeating the first one
            assert admin.publish(new=1)["new"][0] not in published["new"]


def test_a_state_dir_from_another_size_is_refused(state_dir):
    with SandboxServer(port=0, state_dir=state_dir, lumina_size=SIZE) as server, SandboxAdmin(server.url) as admin:
        admin.publish(new=1)
    with pytest.raises(ValueError, match="200 films"):
        SandboxServer(port=0, state_dir=state_dir, lumina_size=SIZE + 1)


def test_reset_restores_the_initial_state(sandbox, client, admin, state_dir):
    initial, _ = fetch_all(client, page_size=1000)
    admin.publish(new=5, changed=5)
    admin.inject_fault(500, times=-1)
    admin.reset()
    assert admin.faults() == []
    assert admin.requests() == []
    assert fetch_all(client, page_size=1000)[0] == initial
    assert json.loads((state_dir / "lumina.json").read_text())["published"] == []


def test_publish_errors(admin, client):
    with pytest.raises(httpx.HTTPStatusError) as exhausted:
        admin.publish(new=10**6)
    assert exhausted.value.response.status_code == 409
    assert "reserve" in exhausted.value.response.json()["error"]
    for bad_body in ({"provider": "nope", "new": 1}, {"provider": "lumina", "new": -1}, {"new": 1}):
        response = client.post("/admin/publish", json=bad_body)
        assert response.status_code == 400, bad_body
    response = client.post("/admin/publish", content=b"{not json")
    assert response.status_code == 400


def test_bad_items_listing_follows_publishes(admin, client):
    initial = admin.bad_items()
    assert initial == [b.to_json() for b in deliberately_bad(SIZE)]
    assert {b["kind"] for b in initial} == {
        "empty_title",
        "negative_runtime",
        "year_3020",
        "eidr_check_character",
        "unknown_type",
    }
    changed = admin.publish(new=800, changed=SIZE - len(initial))["changed"]
    assert {b["id"] for b in initial}.isdisjoint(changed)  # bad items are never "fixed" by a change
    listed = {b["id"]: {BadKind(b["kind"])} for b in admin.bad_items()}
    assert len(listed) > len(initial)  # ~1% of the 800 published films are bad too
    items, _ = fetch_all(client, page_size=1000)
    assert {i["id"]: breaks(i) for i in items if breaks(i)} == listed


def test_publish_timestamps_are_now_and_second_precision(client, admin):
    new_id = admin.publish(new=1)["new"][0]
    items, _ = fetch_all(client, page_size=1000)
    stamp = next(i["updated_at"] for i in items if i["id"] == new_id)
    assert stamp >= "2026-11-01T00:00:00Z"
    assert len(stamp) == len("2026-11-01T00:00:00Z") and stamp.endswith("Z")
    assert client.get(TITLES, params={"updated_since": stamp}).json()["items"][-1]["id"] == new_id


def test_reset_before_any_request_also_forgets_every_provider(state_dir):
    sizes = {"lumina_size": SIZE, "atlas_size": 3, "meridian_size": 5, "harbor_rows": 5}
    with SandboxServer(port=0, state_dir=state_dir, **sizes) as server, SandboxAdmin(server.url) as admin:
        for provider in ("lumina", "atlas", "meridian", "events"):
            admin.publish(provider=provider, new=1)
    with SandboxServer(port=0, state_dir=state_dir, **sizes) as server, SandboxAdmin(server.url) as admin:
        admin.reset()  # nothing built yet but lumina: the others' saved state must go too
        with http_client(server.url) as http:
            assert len(fetch_all(http, page_size=1000)[0]) == SIZE
            assert len(http.get("/atlas/v2/catalog").json()["entries"]) == 3
            assert len(http.get("/meridian/v1/packages").json()) == 5
            stream = initial_stream(Sizes(SIZE, 3, 5, 5)).events
            assert http.get("/events/v1/events", params={"limit": 5000}).json()["events"] == list(stream)
