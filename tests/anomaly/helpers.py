"""A ``marts.metrics_daily`` for tests: the mart's own columns and types (its dbt contract), filled by hand."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, text

COLUMNS = {
    "provider": "text not null",
    "metric_date": "date not null",
    "deliveries": "integer not null",
    "redeliveries": "integer not null",
    "qc_decisions": "integer not null",
    "qc_failures": "integer not null",
    "qc_failure_rate": "numeric(7,4)",
    "published_deliveries": "integer not null",
    "median_lead_time_hours": "numeric(14,3)",
    "ingest_runs": "integer not null",
    "failed_runs": "integer not null",
    "received_rows": "integer",
    "new_assets": "integer",
    "updated_assets": "integer",
    "quarantined_rows": "integer",
    "quarantine_share": "numeric(7,4)",
    "ingest_lag_seconds": "numeric(14,3)",
    "first_loaded_assets": "integer not null",
    "eidr_match_rate": "numeric(7,4)",
    "eidr_coverage_rate": "numeric(7,4)",
    "inputs_changed_at": "timestamptz",
}


def create_mart(engine: Engine) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    with engine.begin() as conn:
        conn.execute(text("create schema if not exists marts"))
        conn.execute(
            text(f"create table if not exists marts.metrics_daily ({columns}, primary key (provider, metric_date))")
        )


def normal_row(day: date, jitter: int = 0) -> dict[str, Any]:
    """A plausible day: weekday volumes higher than weekends, rates steady, small deterministic jitter."""
    weekend = day.weekday() >= 5
    deliveries = (40 if weekend else 100) + jitter
    return {
        "deliveries": deliveries,
        "redeliveries": 3,
        "qc_decisions": deliveries,
        "qc_failures": 5,
        "qc_failure_rate": round(5 / deliveries, 4),
        "published_deliveries": deliveries - 5,
        "median_lead_time_hours": 20 + jitter / 10,
        "ingest_runs": 24,
        "failed_runs": 0,
        "received_rows": 500 + jitter,
        "new_assets": (20 if weekend else 60) + jitter,
        "updated_assets": 30,
        "quarantined_rows": 5,
        "quarantine_share": round(5 / (500 + jitter), 4),
        "ingest_lag_seconds": 90 + jitter,
        "first_loaded_assets": 120,
        "eidr_match_rate": 0.97 + jitter / 1000,
        "eidr_coverage_rate": 0.99,
    }


def normal_days(last: date, count: int) -> dict[date, dict[str, Any]]:
    jitters = (0, 3, -2, 4, -4, 1, -1, 2, -3)
    return {
        last - timedelta(days=n): normal_row(last - timedelta(days=n), jitters[n % len(jitters)]) for n in range(count)
    }


def insert(engine: Engine, provider: str, rows: Mapping[date, Mapping[str, Any]]) -> None:
    names = [name for name in COLUMNS if name not in ("provider", "metric_date", "inputs_changed_at")]
    statement = text(
        f"insert into marts.metrics_daily (provider, metric_date, {', '.join(names)}) "
        f"values (:provider, :metric_date, {', '.join(':' + n for n in names)}) "
        f"on conflict (provider, metric_date) do update set " + ", ".join(f"{n} = excluded.{n}" for n in names)
    )
    with engine.begin() as conn:
        conn.execute(statement, [{"provider": provider, "metric_date": day, **row} for day, row in rows.items()])
