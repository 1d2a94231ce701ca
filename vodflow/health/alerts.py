"""Anomaly verdicts of the period (``ops.metric_evaluations``) and the alerts the Prefect server recorded.

Verdicts: every day of the window judged before the report's end (a day re-judged later shows its newer verdict
only in later reports). Alerts: the server's events over the window, counted by name through its REST API
(``POST /events/count-by/event``, plain httpx like :mod:`vodflow.alerts.failures`), and the failed deliveries
listed. The server keeps events for its retention period (``PREFECT_EVENTS_RETENTION_PERIOD``, 7 days by default):
older periods show fewer. If the server cannot be asked the section says so and the report still renders.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
from sqlalchemy import Connection

from vodflow.health.db import fetch, num
from vodflow.health.model import Section, Window
from vodflow.prefect_auth import prefect_api_headers

#: The events the report counts, and how it names them.
ALERT_EVENTS = {
    "vodflow.metric.anomaly": "metric anomalies announced",
    "vodflow.metric.recovered": "metric recoveries announced",
    "vodflow.ingest.quarantined": "runs with quarantined rows",
    "vodflow.dbt.test_failed": "dbt test failures and warnings",
    "prefect.automation.action.triggered": "alert actions triggered",
    "prefect.automation.action.executed": "alert actions delivered",
    "prefect.automation.action.failed": "alert deliveries failed",
}
FAILED_ACTION = "prefect.automation.action.failed"


@dataclass(frozen=True)
class Anomaly:
    """One anomaly verdict."""

    metric_date: date
    check: str
    provider: str
    metric: str
    value: float | None
    expected_low: float | None
    expected_high: float | None
    severity: str


@dataclass(frozen=True)
class FailedDelivery:
    """An alert the server could not deliver."""

    occurred: datetime
    automation: str
    reason: str


@dataclass
class AnomalySection(Section):
    """Verdict counts, the anomalies and data gaps of the window."""

    verdicts: dict[str, int] = field(default_factory=dict)
    anomalies: list[Anomaly] = field(default_factory=list)
    gaps: dict[str, int] = field(default_factory=dict)
    """Provider → data-gap verdicts in the window."""


@dataclass
class AlertSection(Section):
    """Alert-related events on the server over the window."""

    counts: dict[str, int] = field(default_factory=dict)
    failed: list[FailedDelivery] = field(default_factory=list)


def read_anomalies(conn: Connection, window: Window) -> AnomalySection:
    """Verdicts on the window's days, written before its end."""
    rows = fetch(
        conn,
        "select metric_date, check_name, provider, metric, verdict, value, expected_low, expected_high, severity "
        "from ops.metric_evaluations where metric_date between :first and :last and evaluated_at < :end "
        "order by metric_date desc, check_name, provider",
        first=window.first_day,
        last=window.as_of,
        end=window.end,
    )
    section = AnomalySection(verdicts=dict(Counter(str(row["verdict"]) for row in rows)))
    section.gaps = dict(Counter(str(row["provider"]) for row in rows if row["verdict"] == "data_gap"))
    section.anomalies = [
        Anomaly(
            metric_date=row["metric_date"],
            check=row["check_name"],
            provider=row["provider"],
            metric=row["metric"],
            value=num(row["value"]),
            expected_low=num(row["expected_low"]),
            expected_high=num(row["expected_high"]),
            severity=row["severity"],
        )
        for row in rows
        if row["verdict"] == "anomaly"
    ]
    return section


def _occurred(window: Window) -> dict[str, str]:
    return {"since": window.start.isoformat(), "until": window.end.isoformat()}


def read_alerts(api_url: str, window: Window, timeout: float = 5.0) -> AlertSection:
    """Count the alert events of the window on the Prefect server at ``api_url``; never raises for a dead server."""
    url = api_url.rstrip("/")
    count_body: dict[str, Any] = {
        "filter": {"occurred": _occurred(window), "event": {"name": list(ALERT_EVENTS)}},
        "time_unit": "day",
    }
    failed_body: dict[str, Any] = {
        "filter": {"occurred": _occurred(window), "event": {"name": [FAILED_ACTION]}, "order": "DESC"},
        "limit": 10,
    }
    try:
        headers = prefect_api_headers()
        counted = httpx.post(f"{url}/events/count-by/event", json=count_body, timeout=timeout, headers=headers)
        counted.raise_for_status()
        failed = httpx.post(f"{url}/events/filter", json=failed_body, timeout=timeout, headers=headers)
        failed.raise_for_status()
    except httpx.HTTPError as exc:
        # The URL names a server, not a secret; the exception text is left out (it can be long and noisy).
        return AlertSection(unavailable=f"the Prefect server could not be asked ({type(exc).__name__})")
    counts = {name: 0 for name in ALERT_EVENTS}
    for item in counted.json():
        counts[str(item["value"])] = counts.get(str(item["value"]), 0) + int(item["count"])
    return AlertSection(
        counts=counts,
        failed=[
            FailedDelivery(
                occurred=datetime.fromisoformat(str(event["occurred"]).replace("Z", "+00:00")),
                automation=str((event.get("resource") or {}).get("prefect.resource.name", "?")),
                reason=str((event.get("payload") or {}).get("reason", "")),
            )
            for event in failed.json().get("events", [])
        ],
    )
