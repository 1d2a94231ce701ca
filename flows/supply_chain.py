"""Flow ``ingest-events``: the supply-chain event feed into ``raw.supply_chain_events``, idempotently."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run

from flows.ingest import ingest_run_name, resolve_window, transform_provider
from tasks.events import emit_ingest_events
from vodflow.db.engine import get_engine
from vodflow.ingest.load import LoadContext, LoadCounts, record_failed_load
from vodflow.ingest.pagination import Extracted
from vodflow.ingest.validate import ValidatedBatch, validate_items
from vodflow.orchestration.late_runs import skip_if_superseded
from vodflow.providers.base import Window, field_drift
from vodflow.supply_chain import feed
from vodflow.supply_chain.load import load_events


@task(name="extract-events", cache_policy=NO_CACHE, retries=0, timeout_seconds=1800)
def extract_events(window: Window) -> Extracted:
    """Read the feed; retries are bounded inside the HTTP client."""
    logger = get_run_logger()
    result = feed.extract(window, on_page=lambda page, n: logger.info("events: page %d read, %d so far", page, n))
    logger.info("events: %d read (%d repeated)", len(result.items), result.repeated)
    return result


@task(name="validate-events", cache_policy=NO_CACHE, retries=0, timeout_seconds=1800)
def validate_events(extracted: Extracted) -> ValidatedBatch:
    """Validate events with their own schema; bad ones go to quarantine with named reasons."""
    batch = validate_items(
        feed.FEED, extracted.items, feed.map_event, id_of=feed.event_id, repeated=extracted.repeated, kind=feed.EVENTS
    )
    batch.field_drift = field_drift(extracted.items, feed.EXPECTED_FIELDS)
    if batch.field_drift:
        get_run_logger().warning("events: feed fields changed: %s", batch.field_drift)
    return batch


@task(name="load-events", cache_policy=NO_CACHE, retries=0, timeout_seconds=1800)
def load_events_task(batch: ValidatedBatch, ctx: LoadContext) -> LoadCounts:
    """Insert new events (one per event_id) with cursor and audit in one transaction."""
    return load_events(get_engine(), batch, ctx)


@flow(name="ingest-events", flow_run_name=ingest_run_name, timeout_seconds=3600, retries=0)
def ingest_events(
    start: datetime | None = None, end: datetime | None = None, transform: bool = True
) -> dict[str, Any] | State[Any]:
    """Ingest supply-chain events (delivered, QC passed/failed, published): from the cursor, or a window.

    Then, with ``transform``, the dbt sub-flow builds what depends on the events (fct_supply_chain,
    fct_deliveries, metrics_daily) and the load audit.

    Args:
        start: Window start (inclusive, occurred_at); with ``end``, a backfill window. Empty: from the cursor.
        end: Window end (exclusive).
        transform: Build what depends on the events in dbt after the load.
    """
    if (skipped := skip_if_superseded(flow_run.id)) is not None:
        return skipped
    lookback = timedelta(hours=float(os.environ.get("VODFLOW_EVENTS_LOOKBACK_HOURS", "48")))
    window = resolve_window(feed.FEED, start, end, lookback)
    now = datetime.now(UTC)
    run_id = flow_run.id
    ctx = LoadContext(
        feed.FEED, uuid.uuid4(), now, now, uuid.UUID(run_id) if run_id else None, window.since, window.until
    )
    batch: ValidatedBatch | None = None
    try:
        batch = validate_events(extract_events(window))
        counts = load_events_task(batch, ctx)
    except Exception as exc:
        try:
            record_failed_load(get_engine(), ctx, f"{type(exc).__name__}: {exc}", batch)
        except Exception as audit_exc:
            get_run_logger().error("events: could not record the failed load: %s", type(audit_exc).__name__)
        raise
    emit_ingest_events(feed.FEED, str(ctx.load_id), counts, batch)
    create_table_artifact(
        key="ingest-events",
        table=[{"feed": feed.FEED, "load_id": str(ctx.load_id), **counts.as_dict()}],
        description="supply-chain events received, stored and quarantined by this run",
    )
    result: dict[str, Any] = {"feed": feed.FEED, "load_id": str(ctx.load_id), **counts.as_dict()}
    if transform:
        result["dbt"] = transform_provider(feed.FEED)
    return result
