"""GET /events/v1/events: the supply-chain stream, its cursors, duplicates, late events, bad events, publish."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from tests.sandbox.conftest import ATLAS_SIZE, HARBOR_ROWS, MERIDIAN_SIZE, SIZE, http_client
from tests.sandbox.helpers import EVENTS, fetch_events
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.sandbox.catalogue import WINDOW_END, WINDOW_START
from vodflow.sandbox.events import (
    MAX_LATENESS_H,
    PLATFORMS,
    EventBadKind,
    Sizes,
    _starts,
    assets,
    initial_stream,
)

pytestmark = pytest.mark.timeout(60)

KEYS = ["event_id", "provider", "provider_asset_id", "type", "reason", "platform", "occurred_at"]
SIZES = Sizes(SIZE, ATLAS_SIZE, MERIDIAN_SIZE, HARBOR_ROWS)


def at(event):
    return datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))


def event_breaks(event):
    """Which rules an event breaks, from its values (independently of the listing)."""
    found = set()
    if event["type"] not in {"delivered", "qc_passed", "qc_failed", "published"}:
        found.add(EventBadKind.UNKNOWN_TYPE)
    if event["type"] == "qc_failed" and not event["reason"]:
        found.add(EventBadKind.QC_FAILED_WITHOUT_REASON)
    if event["type"] == "published" and event["platform"] is None:
        found.add(EventBadKind.PUBLISHED_WITHOUT_PLATFORM)
    if not event["occurred_at"].endswith("Z"):
        found.add(EventBadKind.NAIVE_OCCURRED_AT)
    if event["provider"] not in {"lumina", "atlas", "harbor", "meridian"}:
        found.add(EventBadKind.UNKNOWN_PROVIDER)
    return found


@pytest.fixture(scope="module")
def stream():
    return initial_stream(SIZES)


def test_cursors_cover_the_stream_exactly_once(client, stream):
    events, cursors = fetch_events(client, limit=700)
    assert events == list(stream.events)
    assert len(cursors) == -(-len(events) // 700) - 1  # no trailing empty page
    default = client.get(EVENTS).json()
    assert len(default["events"]) == 500 and default["next_cursor"]


def test_shape_and_ids(stream):
    ids = Counter(e["event_id"] for e in stream.events)
    twice = {eid for eid, n in ids.items() if n == 2}
    assert max(ids.values()) == 2
    assert twice == stream.duplicated and 0.005 < len(twice) / len(ids) < 0.02
    first_copy = {}
    for event in stream.events:
        assert list(event) == KEYS
        assert first_copy.setdefault(event["event_id"], event) == event  # a duplicate is identical
    assert len(ids) > 2000


def test_chains_are_plausible(stream):
    by_asset = defaultdict(list)
    for event in stream.events:
        by_asset[(event["provider"], event["provider_asset_id"])].append(event)
    assert set(by_asset) - {(a.provider, a.provider_asset_id) for a in assets(SIZES)} == {
        (e["provider"], e["provider_asset_id"]) for e in stream.events if e["provider"] == "nebula"
    }
    for chain in by_asset.values():
        if any(e["event_id"] in stream.bad for e in chain):
            continue  # a bad event breaks its chain on purpose
        ordered = sorted({e["event_id"]: e for e in chain}.values(), key=lambda e: e["occurred_at"])
        types = [e["type"] for e in ordered]
        assert types[0] == "delivered"
        for previous, current in itertools.pairwise(types):
            assert (previous, current) in {
                ("delivered", "qc_passed"),
                ("delivered", "qc_failed"),
                ("qc_failed", "delivered"),
                ("qc_passed", "published"),
                ("published", "published"),
            }, types
        assert types.count("qc_failed") <= 2 and types.count("qc_passed") <= 1
        for event in ordered:
            assert (event["reason"] is not None) == (event["type"] == "qc_failed")
            assert (event["platform"] is not None) == (event["type"] == "published")
            assert event["platform"] in (None, *PLATFORMS)
            assert WINDOW_START <= at(event) <= WINDOW_END
    reasons = Counter(e["reason"] for e in stream.events if e["type"] == "qc_failed")
    assert {"missing captions", "audio loudness above -23 LUFS"} <= set(reasons)


def test_lead_times_differ_by_provider(stream):
    delivered, qc = {}, defaultdict(list)
    for event in stream.events:
        key = (event["provider"], event["provider_asset_id"])
        if event["event_id"] in stream.bad:
            continue
        if event["type"] == "delivered":
            delivered.setdefault(key, at(event))
        elif event["type"] in ("qc_passed", "qc_failed") and key in delivered and key not in qc:
            qc[key].append((at(event) - delivered[key]).total_seconds() / 3600)
    medians = {p: statistics.median(v[0] for k, v in qc.items() if k[0] == p) for p in ("atlas", "meridian")}
    assert medians["atlas"] < 4 < 15 < medians["meridian"]


def test_some_events_arrive_late_but_within_the_bound(stream):
    newest = None
    late = 0
    for event in stream.events:
        if event["event_id"] in stream.bad:
            continue
        moment = at(event)
        if newest is not None and moment < newest - timedelta(minutes=5):
            late += 1
            assert newest - moment <= timedelta(hours=MAX_LATENESS_H + 1)
        newest = moment if newest is None else max(newest, moment)
    assert late >= len(stream.late) // 2 > 10


def test_starts_cover_every_day():
    starts = _starts([f"asset-{n}" for n in range(1000)])
    days = {moment.date() for moment in starts.values()}
    assert len(days) == (WINDOW_END.date() - WINDOW_START.date()).days + 1


def test_bad_events_are_listed_and_served(client, admin, stream):
    listed = admin.bad_items("events")
    assert {b["kind"] for b in listed} == {k.value for k in EventBadKind}
    assert 0.005 < len(listed) / len(stream.events) < 0.015
    observed = {e["event_id"]: {k.value for k in event_breaks(e)} for e in stream.events if event_breaks(e)}
    assert observed == {b["id"]: {b["kind"]} for b in listed}
    assert not {b["id"] for b in listed} & stream.duplicated


def test_since_filters_occurred_at_and_a_cursor_belongs_to_its_query(client, stream):
    since = "2026-06-01T00:00:00Z"
    events, _ = fetch_events(client, since=since, limit=300)
    expected = [e for e in stream.events if e["occurred_at"].replace("Z", "") + "Z" >= since]
    assert events == expected and 0 < len(events) < len(stream.events)
    cursor = client.get(EVENTS, params={"since": since, "limit": 10}).json()["next_cursor"]
    assert client.get(EVENTS, params={"cursor": cursor, "limit": 10}).status_code == 400
    offset = client.get(EVENTS, params={"since": "2026-06-01T02:00:00+02:00", "cursor": cursor, "limit": 10})
    assert offset.status_code == 200  # the same instant, spelt with an offset


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=5001", "since=june", "cursor=abc", "cursor=eyJwIjoyfQ", "after=1", "limit=1&limit=2"],
)
def test_bad_parameters_are_400(client, query):
    assert client.get(f"{EVENTS}?{query}").status_code == 400


def test_publish_appends_new_events_and_duplicates(client, admin, stream):
    result = admin.publish(provider="events", new=7, changed=3)
    assert len(set(result["new"])) == 7 and len(result["changed"]) == 3
    events, _ = fetch_events(client, limit=5000)
    assert events[: len(stream.events)] == list(stream.events)
    tail = events[len(stream.events) :]
    assert [e["event_id"] for e in tail] == result["new"] + result["changed"]
    assert [e["type"] for e in tail[:7]] == ["delivered", "qc_failed", "delivered", "qc_passed", "published"] * 1 + [
        "delivered",
        "qc_failed",
    ]
    assert all(e["occurred_at"] >= "2026-11-01T00:00:00Z" for e in tail[:7])
    assert tail[1]["reason"] and tail[4]["platform"] in PLATFORMS
    assert all(eid in {e["event_id"] for e in stream.events} for eid in result["changed"])
    since = tail[0]["occurred_at"]
    assert [e["event_id"] for e in fetch_events(client, since=since)[0]] == result["new"]


def test_publish_is_deterministic_and_persisted(tmp_path):
    runs = []
    for name in ("one", "two"):
        with SandboxServer(port=0, state_dir=tmp_path / name, lumina_size=20, atlas_size=2, meridian_size=5,
                           harbor_rows=5) as server:  # fmt: skip
            with SandboxAdmin(server.url) as admin:
                runs.append([admin.publish(provider="events", new=4, changed=2) for _ in range(2)])
    assert runs[0] == runs[1]
    with SandboxServer(port=0, state_dir=tmp_path / "one", lumina_size=20, atlas_size=2, meridian_size=5,
                       harbor_rows=5) as server:  # fmt: skip
        with http_client(server.url) as http:
            tail = [e["event_id"] for e in fetch_events(http, limit=5000)[0][-12:]]
    assert tail == runs[0][0]["new"] + runs[0][0]["changed"] + runs[0][1]["new"] + runs[0][1]["changed"]
    with pytest.raises(ValueError, match="events"):  # the stream depends on every provider's size
        SandboxServer(port=0, state_dir=tmp_path / "one", lumina_size=21, atlas_size=2, meridian_size=5, harbor_rows=5)


def test_occurred_at_is_utc_seconds(stream):
    good = [e for e in stream.events if e["event_id"] not in stream.bad]
    assert all(len(e["occurred_at"]) == 20 and e["occurred_at"].endswith("Z") for e in good)
    assert datetime.fromisoformat(good[0]["occurred_at"].replace("Z", "+00:00")).tzinfo == UTC
