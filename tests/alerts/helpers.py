"""Helpers for the alert tests: events sent to a given server, anomaly alerts shaped by the real detector."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

import vodflow.anomaly.events as anomaly_events
from vodflow.anomaly.checks import Check
from vodflow.anomaly.evaluate import Evaluation
from vodflow.anomaly.methods import Score
from vodflow.anomaly.store import Alert


def emit(api_url: str, events: list[dict[str, Any]]) -> None:
    """Send events to the server at ``api_url`` (not to whatever server this process's settings name)."""
    from prefect.events.clients import PrefectEventsClient
    from prefect.events.schemas.events import Event

    async def send() -> None:
        async with PrefectEventsClient(api_url=api_url) as client:
            for fields in events:
                await client.emit(Event(**fields))

    asyncio.run(send())


def detector_event(
    kind: str = "anomaly",
    *,
    metric: str = "deliveries",
    provider: str = "lumina",
    severity: str = "warning",
    channel: str = "slack",
    value: float = 3.0,
    low: float | None = 40.5,
    high: float | None = 61.0,
    score: float | None = -7.25,
    day: date = date(2026, 1, 5),
) -> dict[str, Any]:
    """The event the anomaly detector emits for such an alert (its own ``emit_alert``, captured, not sent)."""
    check = Check(
        name=f"{metric}_check",
        metric=metric,
        direction="drop",
        severity=severity,
        channel=channel,
        description="Deliveries collapsed for the weekday.",
    )
    result = Score(
        verdict="anomaly" if kind == "anomaly" else "ok",
        value=value,
        expected=50.0,
        expected_low=low,
        expected_high=high,
        score=score,
        history_points=14,
    )
    alert = Alert(
        kind=kind,
        evaluation=Evaluation(check=check, provider=provider, metric_date=day, result=result),
        since=date(2026, 1, 4),
    )  # type: ignore[arg-type]
    captured: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(anomaly_events, "emit_event", lambda **kwargs: captured.update(kwargs))
        anomaly_events.emit_alert(alert)
    return captured
