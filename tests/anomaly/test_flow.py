"""The anomaly-check flow end to end: a real mart table, real PostgreSQL, a real Prefect server and its events."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from flows.anomaly import anomaly_check, latest_complete_day
from tests.anomaly.helpers import create_mart, insert, normal_days
from vodflow.anomaly.checks import CHECKS_ENV, load_checks

DAY = date(2026, 11, 20)


def _events(name: str, provider: str, expected: int, timeout: float = 30.0) -> list[Any]:
    """The events ``name`` about ``provider`` on the test server, once ``expected`` of them arrived (or timeout)."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    deadline = time.monotonic() + timeout
    while True:
        # a filter's time window ends when the filter is made: make it anew on every look
        wanted = EventFilter(
            event=EventNameFilter(name=[name]),
            resource=EventResourceFilter(labels={"vodflow.provider": provider}),
        )
        with get_client(sync_client=True) as client:
            found = list(client.read_events(wanted, limit=50).events)
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _provider(prefix: str) -> str:
    # the Prefect server lives for the whole session: a provider name of its own keeps each test's events apart
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def mart(db: Engine) -> Engine:
    create_mart(db)
    return db


def _verdicts(engine: Engine, provider: str) -> dict[tuple[str, date], str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("select check_name, metric_date, verdict from ops.metric_evaluations where provider = :p"),
            {"p": provider},
        ).all()
    return {(name, day): verdict for name, day, verdict in rows}


def test_an_anomaly_is_recorded_and_announced_once(mart: Engine, prefect_server: None) -> None:
    lumina, steady = _provider("lumina"), _provider("steady")
    collapsed = normal_days(DAY, 30)
    collapsed[DAY]["deliveries"] = 10
    insert(mart, lumina, collapsed)
    insert(mart, steady, normal_days(DAY, 30))
    checks = load_checks()

    results = [anomaly_check(as_of=DAY) for _ in range(3)]
    assert results[0]["anomaly_events"] == 1 and [r["anomaly_events"] for r in results[1:]] == [0, 0]
    assert results[0]["evaluations"] == 2 * len(checks)

    verdicts = _verdicts(mart, lumina)
    assert len(verdicts) == len(checks)
    assert verdicts[("deliveries_drop", DAY)] == "anomaly"
    assert {v for (name, _), v in verdicts.items() if name != "deliveries_drop"} == {"ok"}
    assert set(_verdicts(mart, steady).values()) == {"ok"}

    events = _events("vodflow.metric.anomaly", lumina, expected=1)
    time.sleep(2)  # long enough for a wrongly sent second event to arrive too
    events = _events("vodflow.metric.anomaly", lumina, expected=2, timeout=0)
    assert len(events) == 1
    event = events[0]
    assert event.resource.id == "vodflow.metric.deliveries"
    assert event.resource["vodflow.provider"] == lumina
    assert [r.id for r in event.related if r.role == "provider"] == [f"vodflow.provider.{lumina}"]
    payload = event.payload
    assert {
        k: payload[k] for k in ("metric", "provider", "metric_date", "value", "check", "severity", "direction")
    } == {
        "metric": "deliveries",
        "provider": lumina,
        "metric_date": DAY.isoformat(),
        "value": 10.0,
        "check": "deliveries_drop",
        "severity": "critical",
        "direction": "drop",
    }
    assert payload["expected_low"] > 10 and payload["expected_high"] > payload["expected_low"]
    assert payload["score"] < -3 and payload["channel"] == "slack"
    assert _events("vodflow.metric.anomaly", steady, expected=1, timeout=0) == []


def test_recovery_is_announced_once(mart: Engine, prefect_server: None) -> None:
    provider = _provider("atlas")
    rows = normal_days(DAY + timedelta(days=1), 30)
    rows[DAY]["eidr_match_rate"] = 0.70
    insert(mart, provider, rows)
    first = anomaly_check(as_of=DAY)
    assert first["anomaly_events"] == 2  # the static floor and the seasonal drop both see it
    assert [anomaly_check(as_of=DAY + timedelta(days=1))["recovered_events"] for _ in range(2)] == [2, 0]
    recovered = _events("vodflow.metric.recovered", provider, expected=2)
    assert sorted(e.payload["check"] for e in recovered) == ["eidr_match_rate_drop", "eidr_match_rate_floor"]
    assert {e.payload["anomaly_since"] for e in recovered} == {DAY.isoformat()}
    assert {e.resource.id for e in recovered} == {"vodflow.metric.eidr_match_rate"}


def test_gaps_and_short_histories_are_reported_never_alarmed(mart: Engine, prefect_server: None) -> None:
    gappy, young = _provider("harbor"), _provider("meridian")
    rows = normal_days(DAY - timedelta(days=1), 30)  # no row at all on DAY
    rows[DAY - timedelta(days=1)]["qc_failure_rate"] = None
    insert(mart, gappy, rows)
    short = normal_days(DAY, 4)
    short[DAY]["deliveries"] = 0
    insert(mart, young, short)

    result = anomaly_check(as_of=DAY, days=2)
    assert result["anomaly_events"] == 0 and result["days"] == [(DAY - timedelta(days=1)).isoformat(), DAY.isoformat()]
    gaps = _verdicts(mart, gappy)
    assert {v for (_, day), v in gaps.items() if day == DAY} == {"data_gap"}
    assert gaps[("qc_failure_rate_spike", DAY - timedelta(days=1))] == "data_gap"
    assert gaps[("deliveries_drop", DAY - timedelta(days=1))] == "ok"
    youth = _verdicts(mart, young)
    assert youth[("deliveries_drop", DAY)] == "not_enough_data"
    assert youth[("eidr_match_rate_floor", DAY)] == "ok"  # static bounds need no history
    with mart.connect() as conn:
        details = (
            conn.execute(
                text("select distinct detail from ops.metric_evaluations where provider = :p and verdict = 'data_gap'"),
                {"p": gappy},
            )
            .scalars()
            .all()
        )
    assert sorted(details) == ["no metrics row", "qc_failure_rate is null (no data that day)"]


def test_a_custom_check_file_is_used(
    mart: Engine, prefect_server: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = _provider("lumina")
    insert(mart, provider, normal_days(DAY, 3))
    path = tmp_path / "checks.yaml"
    path.write_text(
        "version: 1\nchecks:\n  - name: any_failed_run\n    metric: failed_runs\n    method: static_bounds\n"
        "    direction: spike\n    high: -1\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(CHECKS_ENV, str(path))
    assert anomaly_check(as_of=DAY)["anomaly_events"] == 1
    assert _verdicts(mart, provider) == {("any_failed_run", DAY): "anomaly"}


def test_the_default_day_is_yesterday_utc() -> None:
    from datetime import UTC, datetime

    assert latest_complete_day(datetime(2026, 11, 21, 0, 30, tzinfo=UTC)) == date(2026, 11, 20)
