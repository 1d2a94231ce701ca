"""PostgreSQL side of the detector: reading ``marts.metrics_daily``, keeping every verdict, and the alert state.

Suppression policy (per check and provider, in ``ops.metric_alert_state``):

* a check that goes into anomaly announces it (``anomaly``); while it stays in anomaly, it is announced again at
  most once per ``suppress_hours`` — re-running the flow on the same day ten times announces it once;
* the first ``ok`` after an anomaly announces the recovery (``recovered``), once;
* ``not_enough_data`` and ``data_gap`` change nothing: a gap neither raises nor clears an alarm;
* the state follows the newest day evaluated: re-evaluating an older day (``as_of`` in the past) updates that
  day's verdict but never re-opens or closes the current alert.

Verdicts, state and the decisions to announce are written in one transaction under an advisory lock, so two
overlapping runs cannot both announce one anomaly. Events are sent after the commit: a crash in between loses
an announcement (the verdict stays in ``ops.metric_evaluations``), it never sends one twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import ProgrammingError

from vodflow.anomaly.checks import METRICS
from vodflow.anomaly.evaluate import Evaluation, MetricTable

MART = "marts.metrics_daily"
_LOCK_KEY = "vodflow.anomaly.alerts"


class MetricsUnavailableError(RuntimeError):
    """The metrics mart cannot be read (not built yet, or its columns changed)."""


@dataclass(frozen=True)
class Alert:
    """An announcement decided by the alert state: an anomaly (new, or reminded) or a recovery."""

    kind: Literal["anomaly", "recovered"]
    evaluation: Evaluation
    since: date


@dataclass
class _State:
    status: str
    since: date
    last_metric_date: date
    last_emitted_at: datetime | None
    anomaly_events: int
    metric: str


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, Decimal | int | float) else None


def read_metrics(engine: Engine, metrics: Iterable[str], first: date, last: date) -> MetricTable:
    """The mart's rows from ``first`` to ``last`` (inclusive), only the ``metrics`` columns."""
    columns = sorted(set(metrics))
    unknown = [name for name in columns if name not in METRICS]
    if unknown:
        raise ValueError(f"not metrics of {MART}: {', '.join(unknown)}")
    selected = "".join(f", {name}" for name in columns)
    query = text(
        f"select provider, metric_date{selected} from {MART} "
        "where metric_date between :first and :last order by provider, metric_date"
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(query, {"first": first, "last": last}).mappings().all()
    except ProgrammingError as exc:
        raise MetricsUnavailableError(
            f"cannot read {MART} ({type(exc.orig).__name__}): build the marts first (the transform flow)"
        ) from exc
    return MetricTable(
        (row["provider"], row["metric_date"], {name: _number(row[name]) for name in columns}) for row in rows
    )


_UPSERT = text(
    """
    insert into ops.metric_evaluations (
        check_name, provider, metric_date, metric, method, direction, value, expected, expected_low, expected_high,
        score, history_points, verdict, severity, channel, detail, flow_run_id, evaluated_at
    ) values (
        :check_name, :provider, :metric_date, :metric, :method, :direction, :value, :expected, :expected_low,
        :expected_high, :score, :history_points, :verdict, :severity, :channel, :detail, :flow_run_id, :now
    )
    on conflict (check_name, provider, metric_date) do update set
        metric = excluded.metric, method = excluded.method, direction = excluded.direction,
        value = excluded.value, expected = excluded.expected, expected_low = excluded.expected_low,
        expected_high = excluded.expected_high, score = excluded.score, history_points = excluded.history_points,
        verdict = excluded.verdict, severity = excluded.severity, channel = excluded.channel,
        detail = excluded.detail, flow_run_id = excluded.flow_run_id, evaluated_at = excluded.evaluated_at
    """
)


def _row(evaluation: Evaluation, flow_run_id: uuid.UUID | None, now: datetime) -> dict[str, Any]:
    check, result = evaluation.check, evaluation.result
    return {
        "check_name": check.name,
        "provider": evaluation.provider,
        "metric_date": evaluation.metric_date,
        "metric": check.metric,
        "method": check.method,
        "direction": check.direction,
        "value": result.value,
        "expected": result.expected,
        "expected_low": result.expected_low,
        "expected_high": result.expected_high,
        "score": result.score,
        "history_points": result.history_points,
        "verdict": result.verdict,
        "severity": check.severity,
        "channel": check.channel,
        "detail": result.detail,
        "flow_run_id": flow_run_id,
        "now": now,
    }


def _load_states(conn: Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], _State]:
    rows = conn.execute(
        text(
            "select check_name, provider, metric, status, since_metric_date, last_metric_date, last_emitted_at, "
            "anomaly_events from ops.metric_alert_state for update"
        )
    ).mappings()
    return {
        (row["check_name"], row["provider"]): _State(
            row["status"],
            row["since_metric_date"],
            row["last_metric_date"],
            row["last_emitted_at"],
            row["anomaly_events"],
            row["metric"],
        )
        for row in rows
        if (row["check_name"], row["provider"]) in keys
    }


def _transition(state: _State | None, evaluation: Evaluation, now: datetime) -> tuple[_State | None, Alert | None]:
    """The new state of one (check, provider) after ``evaluation``, and what to announce (see the module doc)."""
    day, verdict = evaluation.metric_date, evaluation.result.verdict
    if verdict not in ("ok", "anomaly") or (state is not None and day < state.last_metric_date):
        return state, None
    metric = evaluation.check.metric
    if verdict == "ok":
        if state is not None and state.status == "anomaly":
            recovered = _State("ok", day, day, state.last_emitted_at, state.anomaly_events, metric)
            return recovered, Alert("recovered", evaluation, state.since)
        since = state.since if state is not None else day
        events = state.anomaly_events if state else 0
        return _State("ok", since, day, state.last_emitted_at if state else None, events, metric), None
    if state is None or state.status == "ok":
        events = state.anomaly_events if state else 0
        return _State("anomaly", day, day, now, events + 1, metric), Alert("anomaly", evaluation, day)
    window = timedelta(hours=evaluation.check.suppress_hours)
    if state.last_emitted_at is None or now - state.last_emitted_at >= window:
        reminded = _State("anomaly", state.since, day, now, state.anomaly_events + 1, metric)
        return reminded, Alert("anomaly", evaluation, state.since)
    return _State("anomaly", state.since, day, state.last_emitted_at, state.anomaly_events, metric), None


_SAVE_STATE = text(
    """
    insert into ops.metric_alert_state (
        check_name, provider, metric, status, since_metric_date, last_metric_date, last_emitted_at, anomaly_events,
        updated_at
    ) values (:check_name, :provider, :metric, :status, :since, :last, :emitted, :events, :now)
    on conflict (check_name, provider) do update set
        metric = excluded.metric, status = excluded.status, since_metric_date = excluded.since_metric_date,
        last_metric_date = excluded.last_metric_date, last_emitted_at = excluded.last_emitted_at,
        anomaly_events = excluded.anomaly_events, updated_at = excluded.updated_at
    """
)


def record(
    engine: Engine, evaluations: Sequence[Evaluation], now: datetime, flow_run_id: uuid.UUID | None = None
) -> list[Alert]:
    """Upsert every evaluation and advance the alert state, in one transaction; return what to announce."""
    if not evaluations:
        return []
    alerts: list[Alert] = []
    with engine.begin() as conn:
        conn.execute(text("select pg_advisory_xact_lock(hashtext(:key))"), {"key": _LOCK_KEY})
        conn.execute(_UPSERT, [_row(evaluation, flow_run_id, now) for evaluation in evaluations])
        keys = {(e.check.name, e.provider) for e in evaluations}
        states = _load_states(conn, keys)
        changed: set[tuple[str, str]] = set()
        for evaluation in sorted(evaluations, key=lambda e: e.metric_date):
            key = (evaluation.check.name, evaluation.provider)
            state, alert = _transition(states.get(key), evaluation, now)
            if state is not None and state is not states.get(key):
                states[key] = state
                changed.add(key)
            if alert is not None:
                alerts.append(alert)
        if changed:
            conn.execute(
                _SAVE_STATE,
                [
                    {
                        "check_name": name,
                        "provider": provider,
                        "metric": states[(name, provider)].metric,
                        "status": states[(name, provider)].status,
                        "since": states[(name, provider)].since,
                        "last": states[(name, provider)].last_metric_date,
                        "emitted": states[(name, provider)].last_emitted_at,
                        "events": states[(name, provider)].anomaly_events,
                        "now": now,
                    }
                    for name, provider in sorted(changed)
                ],
            )
    return alerts
