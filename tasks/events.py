"""Prefect events that automations match on (names and resources are a contract, see DESIGN.md)."""

from __future__ import annotations

import os
from typing import Any

from prefect.events import emit_event
from sqlalchemy import text

from vodflow.db.engine import get_engine
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


def quarantine_alert_limit() -> float:
    """The quarantined share above which a run alerts (the same variable the automation's message reads)."""
    return float(os.environ.get("VODFLOW_ALERT_QUARANTINE_SHARE", "") or 0.05)


def quarantine_alert_level(provider: str, load_id: str, share: float) -> str:
    """Where this run stands against the alert share: ``new``, ``ongoing`` or ``below``.

    ``new`` when this run is above the share and the provider's previous run was not, ``ongoing`` when both
    were. The automation announces ``new`` only, so a provider stuck above the share is one message, not one per
    run, and a provider that recovers and relapses is announced again.
    """
    limit = quarantine_alert_limit()
    if share < limit:
        return "below"
    with get_engine().connect() as conn:
        previous = conn.execute(
            text(
                "select quarantined::float / nullif(received, 0) from ops.loads "
                "where provider = :p and status = 'succeeded' and load_id <> :id "
                "order by finished_at desc limit 1"
            ),
            {"p": provider, "id": load_id},
        ).scalar()
    return "ongoing" if previous is not None and previous >= limit else "new"


def emit_ingest_events(provider: str, load_id: str, counts: LoadCounts, batch: ValidatedBatch) -> None:
    """``vodflow.ingest.completed`` always; ``vodflow.ingest.quarantined`` when rows were quarantined."""
    resource = provider_resource(provider)
    emit_event(
        event="vodflow.ingest.completed",
        resource=resource,
        payload={"load_id": load_id, **counts.as_dict(), "loaded": counts.inserted + counts.updated},
    )
    if counts.quarantined:
        share = round(counts.quarantined / counts.received, 4) if counts.received else 0.0
        emit_event(
            event="vodflow.ingest.quarantined",
            resource={**resource, "vodflow.quarantine-alert": quarantine_alert_level(provider, load_id, share)},
            payload={
                "load_id": load_id,
                "quarantined": counts.quarantined,
                "received": counts.received,
                "share": share,
                "top_reasons": _top_reasons(batch),
            },
        )
    if batch.field_drift:
        emit_event(
            event="vodflow.ingest.schema_drift", resource=resource, payload={"load_id": load_id, **batch.field_drift}
        )
