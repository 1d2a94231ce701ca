"""Prefect events that automations match on (names and resources are a contract, see DESIGN.md)."""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event

from vodflow.ingest.load import LoadCounts
from vodflow.ingest.validate import ValidatedBatch


def provider_resource(provider: str) -> dict[str, str]:
    """The event resource for a provider."""
    return {"prefect.resource.id": f"vodflow.provider.{provider}", "prefect.resource.name": provider}


def _top_reasons(batch: ValidatedBatch, limit: int = 5) -> list[dict[str, Any]]:
    counts: dict[str, int] = {}
    for row in batch.quarantined:
        for reason in {r.check for r in row.reasons}:
            counts[reason] = counts.get(reason, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [{"check": check, "rows": rows} for check, rows in ranked]


def emit_ingest_events(provider: str, load_id: str, counts: LoadCounts, batch: ValidatedBatch) -> None:
    """``vodflow.ingest.completed`` always; ``vodflow.ingest.quarantined`` when rows were quarantined."""
    resource = provider_resource(provider)
    emit_event(
        event="vodflow.ingest.completed",
        resource=resource,
        payload={"load_id": load_id, **counts.as_dict(), "loaded": counts.inserted + counts.updated},
    )
    if counts.quarantined:
        emit_event(
            event="vodflow.ingest.quarantined",
            resource=resource,
            payload={
                "load_id": load_id,
                "quarantined": counts.quarantined,
                "received": counts.received,
                "share": round(counts.quarantined / counts.received, 4) if counts.received else 0.0,
                "top_reasons": _top_reasons(batch),
            },
        )
    if batch.field_drift:
        emit_event(
            event="vodflow.ingest.schema_drift", resource=resource, payload={"load_id": load_id, **batch.field_drift}
        )
