"""Live days of the events feed (POST /admin/events/days) and a provider's collapse on one day."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.sandbox.conftest import ATLAS_SIZE, HARBOR_ROWS, MERIDIAN_SIZE, SIZE, http_client
from tests.sandbox.helpers import EVENTS
from vodflow.anomaly.checks import load_checks
from vodflow.anomaly.evaluate import MetricTable, evaluate
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.sandbox.events import EventsStore, Sizes, assets
from vodflow.sandbox.live import LIVE_RATES, MAX_DAYS, Collapse, day_end, live_events

pytestmark = pytest.mark.timeout(120)

DAY = date(2026, 11, 26)  # a Thursday
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
SIZES = Sizes(SIZE, ATLAS_SIZE, MERIDIAN_SIZE, HARBOR_ROWS)


def clock() -> datetime:
    return NOW


def start(state_dir: Path) -> SandboxServer:
    return SandboxServer(
        port=0,
        state_dir=state_dir,
        lumina_size=SIZE,
        atlas_size=ATLAS_SIZE,
        meridian_size=MERIDIAN_SIZE,
        harbor_rows=HARBOR_ROWS,
        clock=clock,
    ).start()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[SandboxServer]:
    server = start(tmp_path / "state")
    try:
        yield server
    finally:
        server.stop()


def feed(base_url: str, since: str = "2026-11-01T00:00:00Z") -> list[dict[str, object]]:
    """Every event from ``since`` on, following the cursor."""
    events: list[dict[str, object]] = []
    with http_client(base_url) as client:
        params: dict[str, object] = {"since": since, "limit": 5000}
        while True:
            body = client.get(EVENTS, params=params).raise_for_status().json()
            events.extend(body["events"])
            if body["next_cursor"] is None:
                return events
            params = {"since": since, "limit": 5000, "cursor": body["next_cursor"]}


def deliveries(events: list[dict[str, object]]) -> Counter[tuple[str, date]]:
    return Counter(
        (str(e["provider"]), date.fromisoformat(str(e["occurred_at"])[:10])) for e in events if e["type"] == "delivered"
    )


def test_the_collapsed_provider_delivers_a_tenth_while_the_others_stay_normal(live: SandboxServer) -> None:
    with SandboxAdmin(live.url) as admin:
        staged = admin.add_live_days(DAY, collapse="meridian")
    first = DAY - timedelta(days=MAX_DAYS - 1)
    assert staged["day"] == "2026-11-26" and staged["first_day"] == first.isoformat()
    assert staged["collapse"] == {"provider": "meridian", "share": 0.1}

    events = feed(live.url)
    assert len(events) == staged["events_added"]
    counts = deliveries(events)
    assert {p: counts[(p, DAY)] for p in LIVE_RATES} == staged["deliveries"]
    assert max(day for _, day in counts) == DAY  # nothing after the day asked for
    assert all(str(e["occurred_at"]) <= "2026-11-26T23:59:59Z" for e in events)
    assert min(day for _, day in counts) == first
    for provider in LIVE_RATES:
        usual = statistics.median(counts[(provider, DAY - timedelta(days=7 * k))] for k in (1, 2))  # same weekday
        share = counts[(provider, DAY)] / usual
        if provider == "meridian":
            assert share <= 0.15, (provider, counts[(provider, DAY)], usual)
        else:
            assert 0.6 <= share <= 1.4, (provider, counts[(provider, DAY)], usual)
    # a weekly rhythm: weekends deliver less than weekdays
    weekend = [counts[("atlas", d)] for (p, d) in counts if p == "atlas" and d.weekday() >= 5 and d < DAY]
    weekdays = [counts[("atlas", d)] for (p, d) in counts if p == "atlas" and d.weekday() < 5 and d < DAY]
    assert statistics.mean(weekend) < 0.9 * statistics.mean(weekdays)


def test_the_same_switch_twice_adds_nothing_and_a_served_day_cannot_change(live: SandboxServer) -> None:
    with SandboxAdmin(live.url) as admin:
        staged = admin.add_live_days(DAY, collapse="meridian", share=0.1)
        before = feed(live.url)
        again = admin.add_live_days(DAY, collapse="meridian", share=0.1)
        assert again["events_added"] == 0 and again["deliveries"] == staged["deliveries"]
        assert feed(live.url) == before
        with pytest.raises(httpx.HTTPStatusError) as other:
            admin.add_live_days(DAY, collapse="atlas")
        assert other.value.response.status_code == 409
        assert "already served 2026-11-26 with meridian at 0.1" in other.value.response.json()["error"]
        for bad, why in (
            ({"through": "2026-10-31"}, "initial window"),
            ({"through": "2026-11-27"}, "not over yet"),
            ({"collapse": {"provider": "nebula"}}, "provider one of"),
            ({"collapse": {"provider": "atlas", "share": 1.5}}, "share in [0, 1)"),
            ({"when": "yesterday"}, "unknown field"),
        ):
            response = httpx.post(f"{live.url}/admin/events/days", json=bad)
            assert response.status_code == 400 and why in response.json()["error"], (bad, response.text)
    assert feed(live.url) == before


def test_live_days_are_deterministic_and_survive_a_restart(tmp_path: Path) -> None:
    served = []
    for name in ("one", "two"):
        server = start(tmp_path / name)
        try:
            with SandboxAdmin(server.url) as admin:
                admin.add_live_days(DAY, collapse="harbor")
            served.append(json.dumps(feed(server.url)))
        finally:
            server.stop()
    assert served[0] == served[1]
    restarted = start(tmp_path / "one")
    try:
        assert json.dumps(feed(restarted.url)) == served[0]
    finally:
        restarted.stop()


def test_a_later_day_continues_the_feed_where_it_stood() -> None:
    """Chains started before the first call go on after it: nothing lost, nothing served twice."""
    store = EventsStore(SIZES, None, clock)
    earlier = store.add_days(DAY - timedelta(days=3))
    later = store.add_days(DAY, Collapse("lumina", 0.1))
    assert (earlier.first, later.first) == (date(2026, 11, 3), date(2026, 11, 24))
    in_steps = [e for e in store.events() if str(e["occurred_at"]) >= "2026-11-01"]
    days: dict[date, Collapse | None] = {date(2026, 11, 3) + timedelta(days=n): None for n in range(24)}
    days[DAY] = Collapse("lumina", 0.1)
    at_once = live_events(assets(SIZES), days, day_end(date(2026, 10, 31)), DAY)
    assert len({e["event_id"] for e in in_steps}) == len(in_steps)
    assert sorted(e["event_id"] for e in in_steps) == sorted(e["event_id"] for e in at_once)
    second_call = {e["event_id"] for e in in_steps if str(e["occurred_at"]) > "2026-11-23T23:59:59Z"}
    new_chains = {
        e["event_id"] for e in live_events(assets(SIZES), later_days(), day_end(DAY - timedelta(days=3)), DAY)
    }
    assert new_chains < second_call  # the rest: QC verdicts and publications of deliveries made before 11-24
    assert len(second_call - new_chains) > 100


def later_days() -> dict[date, Collapse | None]:
    return {DAY - timedelta(days=2): None, DAY - timedelta(days=1): None, DAY: Collapse("lumina", 0.1)}


@pytest.mark.parametrize("offset", range(7))  # one collapse per weekday, each provider in turn
def test_the_packaged_detector_sees_the_collapse_and_nothing_else(offset: int) -> None:
    day = DAY + timedelta(days=offset)
    provider = sorted(LIVE_RATES)[offset % len(LIVE_RATES)]
    store = EventsStore(SIZES, None, lambda: datetime.combine(day + timedelta(days=1), NOW.timetz()))
    store.add_days(collapse=Collapse(provider, 0.1))
    counts = deliveries(store.events())
    table = MetricTable((p, d, {"deliveries": float(n)}) for (p, d), n in counts.items())
    checks = [check for check in load_checks() if check.metric == "deliveries"]
    verdicts = {(e.check.name, e.provider): e.result for e in evaluate(checks, table, [day])}
    assert {key: result.verdict for key, result in verdicts.items()} == {
        ("deliveries_drop", p): ("anomaly" if p == provider else "ok") for p in LIVE_RATES
    }, {key: (r.value, r.expected_low, r.expected_high) for key, r in verdicts.items()}
    assert verdicts[("deliveries_drop", provider)].history_points == 14
