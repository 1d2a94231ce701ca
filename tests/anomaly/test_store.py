"""Verdicts and alert state in PostgreSQL: upserts never duplicate, suppression announces once per window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from tests.anomaly.helpers import create_mart, insert, normal_days
from vodflow.anomaly.checks import load_checks
from vodflow.anomaly.evaluate import MetricTable, evaluate
from vodflow.anomaly.store import MetricsUnavailableError, read_metrics, record

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


def _table(rows: dict[date, dict[str, object]], provider: str = "lumina") -> MetricTable:
    return MetricTable(
        (provider, day, {k: (float(v) if v is not None else None) for k, v in row.items()}) for day, row in rows.items()
    )


def _deliveries_only(rows: dict[date, dict[str, object]], day: date) -> list:
    checks = [check for check in load_checks() if check.name == "deliveries_drop"]
    return evaluate(checks, _table(rows), [day])


def _collapsed(day: date = DAY) -> dict[date, dict[str, object]]:
    rows = normal_days(day, 21)
    rows[day]["deliveries"] = 10
    return rows


def test_the_same_anomaly_recorded_ten_times_is_announced_once(db: Engine) -> None:
    evaluations = _deliveries_only(_collapsed(), DAY)
    assert [e.result.verdict for e in evaluations] == ["anomaly"]
    announced = [record(db, evaluations, NOW + timedelta(minutes=n)) for n in range(10)]
    assert [len(alerts) for alerts in announced] == [1] + [0] * 9
    assert announced[0][0].kind == "anomaly"
    with db.connect() as conn:
        assert conn.execute(text("select count(*) from ops.metric_evaluations")).scalar_one() == 1
        state = conn.execute(text("select status, anomaly_events from ops.metric_alert_state")).one()
    assert tuple(state) == ("anomaly", 1)
    # still in anomaly a suppression window later: announced again, once
    later = [record(db, evaluations, NOW + timedelta(hours=24, minutes=n)) for n in range(3)]
    assert [len(alerts) for alerts in later] == [1, 0, 0]


def test_recovery_is_announced_once_and_a_past_day_does_not_move_the_state(db: Engine) -> None:
    rows = _collapsed()
    rows.update({DAY + timedelta(days=1): normal_days(DAY + timedelta(days=1), 1)[DAY + timedelta(days=1)]})
    assert len(record(db, _deliveries_only(rows, DAY), NOW)) == 1
    next_day = _deliveries_only(rows, DAY + timedelta(days=1))
    assert next_day[0].result.verdict == "ok"
    first, *others = [record(db, next_day, NOW + timedelta(hours=n)) for n in range(1, 4)]
    assert [a.kind for a in first] == ["recovered"] and others == [[], []]
    # re-judging the anomalous day afterwards rewrites its verdict but neither re-opens nor re-announces
    assert record(db, _deliveries_only(rows, DAY), NOW + timedelta(hours=30)) == []
    with db.connect() as conn:
        assert conn.execute(text("select status from ops.metric_alert_state")).scalar_one() == "ok"
        verdicts = conn.execute(text("select metric_date, verdict from ops.metric_evaluations order by 1")).all()
    assert [tuple(v) for v in verdicts] == [(DAY, "anomaly"), (DAY + timedelta(days=1), "ok")]


def test_a_gap_neither_raises_nor_clears_an_alarm(db: Engine) -> None:
    rows = _collapsed()
    assert len(record(db, _deliveries_only(rows, DAY), NOW)) == 1
    gap = _deliveries_only(rows, DAY + timedelta(days=1))  # no row for that day
    assert gap[0].result.verdict == "data_gap" and gap[0].result.detail == "no metrics row"
    assert record(db, gap, NOW + timedelta(hours=1)) == []
    with db.connect() as conn:
        assert conn.execute(text("select status from ops.metric_alert_state")).scalar_one() == "anomaly"
        row = conn.execute(text("select value, detail from ops.metric_evaluations where verdict = 'data_gap'")).one()
    assert tuple(row) == (None, "no metrics row")


def test_reading_the_mart(db: Engine) -> None:
    with pytest.raises(MetricsUnavailableError, match="build the marts first"):
        read_metrics(db, ["deliveries"], DAY - timedelta(days=3), DAY)
    create_mart(db)
    rows = normal_days(DAY, 5)
    rows[DAY]["qc_failure_rate"] = None
    insert(db, "atlas", rows)
    table = read_metrics(db, ["deliveries", "qc_failure_rate"], DAY - timedelta(days=2), DAY)
    assert table.providers_on(DAY) == ["atlas"]
    assert table.value("atlas", DAY, "deliveries") == 100.0
    assert isinstance(table.value("atlas", DAY - timedelta(days=1), "qc_failure_rate"), float)
    assert table.value("atlas", DAY, "qc_failure_rate") is None and table.has_row("atlas", DAY)
    assert not table.has_row("atlas", DAY - timedelta(days=3))  # outside the window read
    with pytest.raises(ValueError, match="not metrics"):
        read_metrics(db, ["deliveries; drop table x"], DAY, DAY)
