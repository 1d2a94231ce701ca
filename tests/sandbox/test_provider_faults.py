"""Every lumina fault kind on every other HTTP provider (atlas, meridian listing and XML, events), per provider."""

from __future__ import annotations

import json
import time
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
import httpx
import pytest

from tests.sandbox.helpers import ATLAS, EVENTS, PACKAGES, TITLES

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def endpoints(client, admin):
    package_url = client.get(PACKAGES, params={"page_size": 1}).json()[0]["url"]
    admin.reset()  # an empty request log for the test
    return {
        "atlas": (ATLAS, {"limit": 5}),
        "meridian": (PACKAGES, {"page_size": 10}),
        "meridian-xml": (package_url, {}),
        "events": (EVENTS, {"limit": 50}),
    }


ENDPOINTS = ["atlas", "meridian", "meridian-xml", "events"]


def _provider(endpoint):
    return endpoint.removesuffix("-xml")


def _parse(endpoint, content):
    if endpoint == "meridian-xml":
        return SafeET.fromstring(content)
    return json.loads(content)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("kind,status", [("429", 429), ("500", 500), ("503", 503)])
def test_error_statuses(client, admin, endpoints, endpoint, kind, status):
    path, params = endpoints[endpoint]
    admin.inject_fault(kind, provider=_provider(endpoint), retry_after=2)
    failed = client.get(path, params=params)
    assert failed.status_code == status
    assert failed.headers["Retry-After"] == "2"
    assert failed.json()["status"] == status
    assert client.get(path, params=params).status_code == 200
    assert [(r["status"], r["fault"]) for r in admin.requests(_provider(endpoint))] == [(status, kind), (200, None)]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_truncated_html_reset_and_slow(client, admin, endpoints, endpoint):
    path, params = endpoints[endpoint]
    provider = _provider(endpoint)
    full = client.get(path, params=params).content
    admin.inject_fault("truncated", provider=provider)
    cut = client.get(path, params=params)
    assert cut.status_code == 200 and cut.content == full[: len(full) // 2]
    with pytest.raises((json.JSONDecodeError, ParseError)):
        _parse(endpoint, cut.content)
    admin.inject_fault("html", provider=provider)
    page = client.get(path, params=params)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"<title>{provider} - scheduled maintenance" in page.text
    admin.inject_fault("reset", provider=provider)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.get(path, params=params)
    admin.inject_fault("slow", provider=provider, delay_s=0.2)
    started = time.monotonic()
    assert client.get(path, params=params).content == full
    assert time.monotonic() - started >= 0.2
    faults = [r["fault"] for r in admin.requests(provider)]
    assert faults == [None, "truncated", "html", "reset", "slow"]


def test_malformed_rows_atlas(client, admin):
    clean = client.get(ATLAS, params={"limit": 6}).json()
    admin.inject_fault("malformed_rows", provider="atlas")
    broken = client.get(ATLAS, params={"limit": 6}).json()
    assert broken["nextPageToken"] == clean["nextPageToken"]
    pairs = list(zip(clean["entries"], broken["entries"], strict=True))
    assert all(b != c and (b["seriesId"], b["lastModified"]) == (c["seriesId"], c["lastModified"]) for c, b in pairs)
    assert broken["entries"][0]["name"] is None and isinstance(broken["entries"][1]["seasons"], dict)
    assert broken["entries"][4]["seasons"][0]["seasonNumber"] == "S01"
    assert client.get(ATLAS, params={"limit": 6}).json() == clean


def test_malformed_rows_meridian(client, admin, endpoints):
    clean = client.get(PACKAGES, params={"page_size": 4}).json()
    admin.inject_fault("malformed_rows", provider="meridian", times=2)
    broken = client.get(PACKAGES, params={"page_size": 4}).json()
    assert [b["package_id"] for b in broken] == [c["package_id"] for c in clean]
    assert [b["updated_at"] for b in broken] == [c["updated_at"] for c in clean]
    assert broken[0]["version"] == "v1.0" and broken[1]["url"] is None and broken[2]["version"] == 1.0
    xml = client.get(clean[0]["url"])
    title = {a.get("Name"): a.get("Value") for a in SafeET.fromstring(xml.content).findall("Asset/Metadata/App_Data")}
    assert (title["Title"], title["Run_Time"], title["Year"]) == ("", "112 min", "MMXI")


def test_malformed_rows_events(client, admin):
    clean = client.get(EVENTS, params={"limit": 10}).json()
    admin.inject_fault("malformed_rows", provider="events")
    broken = client.get(EVENTS, params={"limit": 10}).json()
    assert broken["next_cursor"] == clean["next_cursor"]
    for before, after in zip(clean["events"], broken["events"], strict=True):
        assert after != before
        assert (after["event_id"], after["occurred_at"]) == (before["event_id"], before["occurred_at"])
    assert broken["events"][2]["provider_asset_id"] == 12345


def test_page_specific_faults_follow_tokens_and_cursors(client, admin):
    admin.inject_fault(500, page=2, provider="atlas")
    admin.inject_fault(503, page=2, provider="events")
    admin.inject_fault(429, page=2, provider="meridian")
    token = client.get(ATLAS, params={"limit": 5}).json()["nextPageToken"]
    cursor = client.get(EVENTS, params={"limit": 5}).json()["next_cursor"]
    assert client.get(PACKAGES, params={"page_size": 5}).status_code == 200
    assert client.get(ATLAS, params={"limit": 5, "pageToken": token}).status_code == 500
    assert client.get(EVENTS, params={"limit": 5, "cursor": cursor}).status_code == 503
    assert client.get(PACKAGES, params={"page_size": 5, "page": 2}).status_code == 429
    assert admin.faults() == []


def test_faults_are_per_provider(client, admin):
    admin.inject_fault(500, times=-1, provider="atlas")
    assert client.get(TITLES).status_code == 200
    assert client.get(EVENTS).status_code == 200
    assert client.get(PACKAGES).status_code == 200
    assert client.get(ATLAS).status_code == 500
    assert {r["provider"] for r in admin.requests(provider=None)} == {"lumina", "events", "meridian", "atlas"}
    assert [r["status"] for r in admin.requests("atlas")] == [500]


def test_unknown_routes_do_not_consume_faults(client, admin):
    admin.inject_fault(500, provider="atlas")
    assert client.get("/atlas/v1/catalog").status_code == 404
    assert client.post(ATLAS).status_code == 404
    assert client.get(f"{PACKAGES}/x/1.0.json").status_code == 404
    assert client.get(ATLAS).status_code == 500


def test_harbor_has_no_api(client):
    response = client.post("/admin/faults", json={"provider": "harbor", "kind": "500"})
    assert response.status_code == 400
    response = client.post("/admin/publish", json={"provider": "harbor", "new": 1})
    assert response.status_code == 400 and "files" in response.json()["error"]
    assert client.get("/admin/requests", params={"provider": "harbor"}).status_code == 400


def test_a_shift_fault_slides_the_next_pages_first_item_onto_the_page_already_read(client, admin) -> None:
    """Paging by page number over a shifted catalogue skips an item: what the fault exists to show."""
    admin.reset()
    try:
        first = client.get(TITLES, params={"page": 1, "page_size": 5}).json()["items"]
        second_before = client.get(TITLES, params={"page": 2, "page_size": 5}).json()["items"]
        admin.inject_fault("shift", page=2)
        second = client.get(TITLES, params={"page": 2, "page_size": 5}).json()["items"]
        assert second[0]["id"] == second_before[1]["id"]  # second_before[0] slid onto page 1: this client skips it
        everything = client.get(TITLES, params={"page": 1, "page_size": 1000}).json()["items"]
        assert everything[-1]["id"] == first[-1]["id"]  # the item before page 2, updated now, is last
        assert everything[-1]["updated_at"] > first[-1]["updated_at"]
    finally:
        admin.reset()


def test_skip_lets_requests_through_before_the_fault_acts(client, admin) -> None:
    admin.reset()
    admin.inject_fault(500, skip=2)
    statuses = [client.get(TITLES, params={"page_size": 1}).status_code for _ in range(4)]
    assert statuses == [200, 200, 500, 200]
    with pytest.raises(httpx.HTTPStatusError, match="400"):
        admin.inject_fault("shift", provider="atlas")
