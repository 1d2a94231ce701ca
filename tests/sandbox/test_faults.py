"""Fault injection on the provider API, and the request log tests use to count attempts."""

from __future__ import annotations

import concurrent.futures
import email.utils
import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.sandbox.conftest import http_client
from tests.sandbox.helpers import TITLES

pytestmark = pytest.mark.timeout(60)


def test_429_has_retry_after_seconds_and_times_counts_down(client, admin):
    admin.inject_fault(429, retry_after=3)
    limited = client.get(TITLES)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert limited.json()["status"] == 429
    assert client.get(TITLES).status_code == 200  # times=1 is used up
    assert admin.faults() == []


def test_429_default_retry_after_is_one_second(client, admin):
    admin.inject_fault("429")
    assert client.get(TITLES).headers["Retry-After"] == "1"


def test_429_with_an_http_date_about_two_seconds_ahead(client, admin):
    admin.inject_fault(429, retry_after="http-date")
    limited = client.get(TITLES)
    assert limited.status_code == 429
    retry_at = email.utils.parsedate_to_datetime(limited.headers["Retry-After"])
    ahead = (retry_at - datetime.now(UTC)).total_seconds()
    assert 0.5 <= ahead <= 3.0, ahead


@pytest.mark.parametrize("kind,status", [("500", 500), ("503", 503)])
def test_server_errors(client, admin, kind, status):
    admin.inject_fault(kind, times=2)
    assert [client.get(TITLES).status_code for _ in range(3)] == [status, status, 200]


def test_503_may_carry_retry_after(client, admin):
    admin.inject_fault(503, retry_after=7)
    assert client.get(TITLES).headers["Retry-After"] == "7"


def test_times_minus_one_lasts_until_cleared(client, admin):
    admin.inject_fault(500, times=-1)
    assert [client.get(TITLES).status_code for _ in range(4)] == [500] * 4
    assert admin.faults()[0]["times"] == -1
    assert admin.clear_faults() == 1
    assert client.get(TITLES).status_code == 200


def test_remaining_times_are_listed(client, admin):
    admin.inject_fault(503, times=3)
    client.get(TITLES)
    assert [f["times"] for f in admin.faults()] == [2]


def test_faults_are_consumed_oldest_first(client, admin):
    admin.inject_fault(500)
    admin.inject_fault(503)
    assert [client.get(TITLES).status_code for _ in range(3)] == [500, 503, 200]


def test_page_specific_fault(client, admin):
    admin.inject_fault(500, page=2)
    assert client.get(TITLES, params={"page": 1}).status_code == 200
    assert client.get(TITLES, params={"page": 3}).status_code == 200
    assert client.get(TITLES, params={"page": 2}).status_code == 500
    assert client.get(TITLES, params={"page": 2}).status_code == 200


def test_slow_answers_late_but_normally(client, admin):
    admin.inject_fault("slow", delay_s=0.4)
    started = time.monotonic()
    response = client.get(TITLES)
    assert time.monotonic() - started >= 0.4
    assert response.status_code == 200
    assert len(response.json()["items"]) == 100


def test_slow_trips_a_client_timeout(sandbox, admin):
    admin.inject_fault("slow", delay_s=0.5)
    with http_client(sandbox.url) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.get(TITLES, timeout=0.15)
        assert http.get(TITLES).status_code == 200
    # the abandoned attempt is logged on arrival, before the sandbox has finished sleeping
    assert len(admin.requests()) == 2


def test_truncated_is_a_200_that_is_not_json(client, admin):
    full = client.get(TITLES, params={"page_size": 10}).content
    admin.inject_fault("truncated")
    cut = client.get(TITLES, params={"page_size": 10})
    assert cut.status_code == 200
    assert cut.headers["content-type"].startswith("application/json")
    assert cut.content == full[: len(full) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)


def test_html_is_a_200_maintenance_page(client, admin):
    admin.inject_fault("html")
    page = client.get(TITLES)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.lstrip().lower().startswith("<!doctype html>")
    with pytest.raises(json.JSONDecodeError):
        page.json()


def test_reset_closes_the_connection_without_an_answer(client, admin):
    admin.inject_fault("reset")
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.get(TITLES)
    assert client.get(TITLES).status_code == 200  # the client reconnects
    log = admin.requests()
    assert [(r["status"], r["fault"]) for r in log] == [(None, "reset"), (200, None)]


def test_malformed_rows_break_every_item(client, admin):
    clean = client.get(TITLES, params={"page_size": 10}).json()
    admin.inject_fault("malformed_rows")
    broken = client.get(TITLES, params={"page_size": 10}).json()
    assert [i["id"] for i in broken["items"]] == [i["id"] for i in clean["items"]]
    assert all(b != c for b, c in zip(broken["items"], clean["items"], strict=True))
    assert broken["items"][1]["runtime_min"] == "90 min"
    assert broken["next_page"] == clean["next_page"] == 2
    assert client.get(TITLES, params={"page_size": 10}).json() == clean


def test_faults_touch_only_the_provider_api(client, admin):
    admin.inject_fault(500, times=-1)
    assert client.get("/healthz").status_code == 200
    assert admin.publish(new=1)["new"]
    assert client.get(TITLES).status_code == 500


@pytest.mark.parametrize(
    "body",
    [
        {"provider": "lumina", "kind": "418"},
        {"provider": "nope", "kind": "500"},
        {"kind": "500"},
        {"provider": "lumina", "kind": "500", "times": 0},
        {"provider": "lumina", "kind": "500", "page": 0},
        {"provider": "lumina", "kind": "slow", "delay_s": 1000},
        {"provider": "lumina", "kind": "429", "retry_after": "soon"},
        {"provider": "lumina", "kind": "500", "colour": "red"},
    ],
)
def test_bad_fault_requests_are_400(client, admin, body):
    response = client.post("/admin/faults", json=body)
    assert response.status_code == 400, body
    assert response.json()["error"]
    assert admin.faults() == []


def test_request_log_counts_every_provider_request(client, admin):
    admin.inject_fault(503)
    client.get(TITLES, params={"page": 1, "page_size": 50})
    client.get(TITLES, params={"page": 1, "page_size": 50})
    client.get(TITLES, params={"page": 2, "page_size": 50})
    client.get(TITLES, params={"page": 0})
    client.get("/healthz")  # not a provider request
    log = admin.requests()
    assert [(r["path"], r["query"].get("page"), r["status"]) for r in log] == [
        (TITLES, "1", 503),
        (TITLES, "1", 200),
        (TITLES, "2", 200),
        (TITLES, "0", 400),
    ]
    assert log[0]["query"] == {"page": "1", "page_size": "50"}
    assert [r["fault"] for r in log] == ["503", None, None, None]
    assert all(r["at"].endswith("Z") for r in log)
    assert admin.requests(provider=None) == log
    admin.reset()
    assert admin.requests() == []


def test_concurrent_requests_are_all_served_and_logged(sandbox, admin):
    admin.inject_fault(500, times=5)

    def get(page):
        with http_client(sandbox.url) as http:
            return http.get(TITLES, params={"page": page, "page_size": 10}).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(get, [1 + n % 20 for n in range(40)]))
    assert statuses.count(500) == 5
    assert statuses.count(200) == 35
    assert len(admin.requests()) == 40
