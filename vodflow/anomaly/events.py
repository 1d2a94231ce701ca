"""The Prefect events automations match on: ``vodflow.metric.anomaly`` and ``vodflow.metric.recovered``.

Resource ``vodflow.metric.<metric>`` (a contract, DESIGN.md), labelled with the provider, check, severity and
channel so an automation can route by any of them without reading the payload; the provider is also a related
resource (``vodflow.provider.<name>``, the id the ingestion events use), so one automation can follow a provider
across ingestion and metric events.
"""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event

from vodflow.anomaly.store import Alert

ANOMALY = "vodflow.metric.anomaly"
RECOVERED = "vodflow.metric.recovered"


def payload(alert: Alert) -> dict[str, Any]:
    """What an alert says: the metric, provider and day, the value against its expected range, and the routing."""
    evaluation = alert.evaluation
    check, result = evaluation.check, evaluation.result
    return {
        "metric": check.metric,
        "provider": evaluation.provider,
        "metric_date": evaluation.metric_date.isoformat(),
        "value": result.value,
        "expected": result.expected,
        "expected_low": result.expected_low,
        "expected_high": result.expected_high,
        "score": None if result.score is None else round(result.score, 3),
        "severity": check.severity,
        "check": check.name,
        "channel": check.channel,
        "direction": check.direction,
        "method": check.method,
        "anomaly_since": alert.since.isoformat(),
        "description": check.description,
    }


def emit_alert(alert: Alert) -> str | None:
    """Send one alert as a Prefect event; its id, or None when no events client is configured."""
    evaluation = alert.evaluation
    check, provider = evaluation.check, evaluation.provider
    event = emit_event(
        event=ANOMALY if alert.kind == "anomaly" else RECOVERED,
        resource={
            "prefect.resource.id": f"vodflow.metric.{check.metric}",
            "prefect.resource.name": check.metric,
            "vodflow.provider": provider,
            "vodflow.check": check.name,
            "vodflow.severity": check.severity,
            "vodflow.channel": check.channel,
        },
        related=[
            {"prefect.resource.id": f"vodflow.provider.{provider}", "prefect.resource.role": "provider"},
            {"prefect.resource.id": f"vodflow.check.{check.name}", "prefect.resource.role": "check"},
        ],
        payload=payload(alert),
    )
    return None if event is None else str(event.id)
