"""GET /lumina/v1/titles: paging, windows, validation; /healthz; determinism across fresh servers."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.conftest import SIZE, http_client
from tests.sandbox.helpers import TITLES, fetch_all
from vodflow.sandbox import SandboxServer

pytestmark = pytest.mark.timeout(60)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_paging_covers_the_catalogue_exactly_once_in_order(client):
    items, envelopes = fetch_all(client, page_size=37)
    assert len(items) == SIZE
    assert len({i["id"] for i in items}) == SIZE
    keys = [(i["updated_at"], i["id"]) for i in items]
    assert keys == sorted(keys)
    assert [e["page"] for e in envelopes] == list(range(1, 7))  # ceil(200 / 37) = 6
    assert all(e["page_size"] == 37 for e in envelopes)
    assert [e["next_page"] for e in envelopes] == [2, 3, 4, 5, 6, None]


def test_default_page_size_and_no_trailing_empty_page(client):
    first = client.get(TITLES).json()
    assert (len(first["items"]), first["page"], first["page_size"], first["next_page"]) == (100, 1, 100, 2)
    second = client.get(TITLES, params={"page": 2}).json()
    assert (len(second["items"]), second["next_page"]) == (100, None)
    beyond = client.get(TITLES, params={"page": 3}).json()
    assert beyond == {"items": [], "page": 3, "page_size": 100, "next_page": None}


def test_max_page_size_is_accepted(client):
    body = client.get(TITLES, params={"page_size": 1000}).json()
    assert len(body["items"]) == SIZE
    assert body["next_page"] is None


def test_updated_since_is_inclusive_and_until_exclusive(client):
    everything, _ = fetch_all(client, page_size=1000)
    pivot = everything[57]["updated_at"]
    since, _ = fetch_all(client, updated_since=pivot, page_size=1000)
    assert since == [i for i in everything if i["updated_at"] >= pivot]
    assert since[0]["updated_at"] == pivot
    until, _ = fetch_all(client, updated_until=pivot, page_size=1000)
    assert until == [i for i in everything if i["updated_at"] < pivot]
    assert until + since == everything
    empty = client.get(TITLES, params={"updated_since": pivot, "updated_until": pivot}).json()
    assert empty["items"] == []


def test_offsets_are_converted_to_utc(client):
    zulu = client.get(TITLES, params={"updated_since": "2026-05-01T10:00:00Z", "page_size": 1000}).json()
    offset = client.get(TITLES, params={"updated_since": "2026-05-01T12:00:00+02:00", "page_size": 1000}).json()
    assert zulu == offset
    assert 0 < len(zulu["items"]) < SIZE
    assert all(i["updated_at"] >= "2026-05-01T10:00:00Z" for i in zulu["items"])
    # an unencoded "+" arrives as a space; the sandbox reads it back as an offset
    raw = client.get(f"{TITLES}?updated_since=2026-05-01T12:00:00+02:00&page_size=1000").json()
    assert raw == zulu


def test_a_day_window_finds_data(client):
    body = client.get(
        TITLES, params={"updated_since": "2026-07-14T00:00:00Z", "updated_until": "2026-07-19T00:00:00Z"}
    ).json()
    assert body["items"]
    assert all("2026-07-14" <= i["updated_at"][:10] <= "2026-07-18" for i in body["items"])


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page_size=0",
        "page_size=1001",
        "page_size=",
        "updated_since=yesterday",
        "updated_since=2026-01-01T00:00:00",  # no zone
        "updated_until=2026-13-01T00:00:00Z",
        "updated_since=2026-02-01T00:00:00Z&updated_until=2026-01-01T00:00:00Z",
        "updatedSince=2026-01-01T00:00:00Z",  # unknown parameter
        "page=1&page=2",
    ],
)
def test_bad_parameters_are_400_with_a_json_error(client, query):
    response = client.get(f"{TITLES}?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == 400
    assert isinstance(body["error"], str) and body["error"]


def test_unknown_routes_and_methods(client):
    assert client.get("/lumina/v1/nothing").status_code == 404
    assert client.post(TITLES).status_code == 404
    assert client.get("/nowhere").json()["status"] == 404
    assert client.post("/healthz").status_code == 405
    # an unread request body must not poison the next request on the same keep-alive client
    assert client.post("/nowhere", json={"provider": "lumina"}).status_code == 404
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_refused_request_with_a_body_leaves_the_keep_alive_connection_usable(client):
    """The refused request's body is read and dropped: closing the connection instead raced the next request
    (46 of 400 pairs failed with "Server disconnected without sending a response")."""
    for _ in range(200):
        assert client.post("/nowhere", json={"provider": "lumina"}).status_code == 404
        assert client.get("/healthz").json() == {"status": "ok"}


def test_two_fresh_servers_serve_identical_pages(tmp_path):
    bodies = []
    for name in ("one", "two"):
        with SandboxServer(port=0, state_dir=tmp_path / name, lumina_size=SIZE) as server:
            with http_client(server.url) as http:
                bodies.append([http.get(TITLES, params={"page": p, "page_size": 64}).content for p in (1, 2, 3, 4)])
    assert bodies[0] == bodies[1]
    assert b'"LUM-' in bodies[0][0]


def test_keep_alive_connection_serves_many_requests(sandbox):
    with http_client(sandbox.url, limits=httpx.Limits(max_connections=1)) as http:
        statuses = [http.get(TITLES, params={"page": p}).status_code for p in (1, 2, 3)]
    assert statuses == [200, 200, 200]
