"""Provider ingestion flows: one Prefect flow per provider, all sharing one body.

extract (httpx, cursor or backfill window) → validate (pandera; bad rows to quarantine) → load (one transaction:
rows, quarantine, cursor, audit) → events → dbt sub-flow for what depends on this provider's source.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run

from tasks.eidr import match_eidr
from tasks.events import emit_ingest_events
from tasks.extract import extract
from tasks.load import load
from tasks.validate import validate
from vodflow.db.build_state import marts_are_current, raw_loaded_through, record_build
from vodflow.db.engine import get_engine
from vodflow.dbt.selection import selection_for
from vodflow.ingest.load import LoadContext, read_cursor, record_failed_load
from vodflow.ingest.validate import ValidatedBatch
from vodflow.orchestration.late_runs import skip_if_superseded
from vodflow.orchestration.windows import window_label
from vodflow.providers.base import Window

INGEST_TIMEOUT_S = 3600


class RejectRatioExceededError(RuntimeError):
    """Too large a share of a batch failed validation: the feed is broken, so nothing of it is loaded."""


def _float_env(name: str, default: float) -> float:
    return float(os.environ.get(name, "") or default)


def resolve_window(
    provider: str, start: datetime | None, end: datetime | None, lookback: timedelta | None = None
) -> Window:
    """The extraction window: the given dates (backfill) or the cursor minus a look-back (incremental).

    The look-back (default ``VODFLOW_CURSOR_LOOKBACK_SECONDS``, 300) re-reads rows the provider committed late
    with an older timestamp; re-read rows are counted unchanged, never duplicated.
    """
    if start is not None and end is not None and start >= end:
        raise ValueError(f"start ({start.isoformat()}) must be before end ({end.isoformat()})")
    if start is not None or end is not None:
        return Window(start, end)
    cursor = read_cursor(get_engine(), provider)
    if cursor is None:
        return Window(None, None)
    if lookback is None:
        lookback = timedelta(seconds=_float_env("VODFLOW_CURSOR_LOOKBACK_SECONDS", 300))
    return Window(cursor - lookback, None)


def ingest_run_name() -> str:
    """Flow-run names that read well in the UI: ``lumina/2026-03-01..2026-03-02`` or ``lumina/incremental-<time>``.

    A backfill names its windows the same way, so a window's run reads the same from a backfill or by hand.
    """
    provider = str(flow_run.flow_name or "ingest").removeprefix("ingest-")
    params = flow_run.parameters or {}
    start, end = params.get("start"), params.get("end")
    if start and end:
        try:
            return f"{provider}/{window_label(start, end)}"
        except ValueError:
            pass
    if start or end:
        return f"{provider}/{str(start or '…')[:19]}..{str(end or '…')[:19]}"
    return f"{provider}/incremental-{datetime.now(UTC):%Y-%m-%dT%H:%M}"


def _check_reject_ratio(batch: ValidatedBatch) -> None:
    limit = _float_env("VODFLOW_MAX_REJECT_RATIO", 0.2)
    minimum = int(_float_env("VODFLOW_REJECT_RATIO_MIN_ROWS", 20))
    if batch.received >= minimum and batch.reject_ratio > limit:
        raise RejectRatioExceededError(
            f"{batch.provider}: {len(batch.quarantined)} of {batch.received} rows failed validation "
            f"({batch.reject_ratio:.0%} > {limit:.0%}); rows quarantined, nothing loaded"
        )


def run_ingestion(provider: str, start: datetime | None, end: datetime | None, transform: bool) -> dict[str, Any]:
    """The body every provider flow shares."""
    logger = get_run_logger()
    window = resolve_window(provider, start, end)
    run_id = flow_run.id
    started_at = datetime.now(UTC)
    ctx = LoadContext(
        provider=provider,
        load_id=uuid.uuid4(),
        started_at=started_at,
        extracted_at=started_at,
        flow_run_id=uuid.UUID(run_id) if run_id else None,
        window_start=window.since,
        window_end=window.until,
    )
    batch: ValidatedBatch | None = None
    try:
        extracted = extract(provider, window)
        batch = validate(provider, extracted)
        _check_reject_ratio(batch)
        counts = load(batch, ctx)
    except Exception as exc:
        try:
            record_failed_load(get_engine(), ctx, f"{type(exc).__name__}: {exc}", batch)
        except Exception as audit_exc:  # the database itself may be what failed
            logger.error("%s: could not record the failed load: %s", provider, type(audit_exc).__name__)
        raise
    if counts.received != counts.inserted + counts.updated + counts.unchanged + counts.quarantined:
        raise AssertionError(f"{provider}: counts do not add up: {counts.as_dict()}")
    emit_ingest_events(provider, str(ctx.load_id), counts, batch)
    create_table_artifact(
        key=f"ingest-{provider}",
        table=[{"provider": provider, "load_id": str(ctx.load_id), **counts.as_dict()}],
        description=f"{provider}: rows received, written and quarantined by this run",
    )
    result: dict[str, Any] = {"provider": provider, "load_id": str(ctx.load_id), **counts.as_dict()}
    if counts.inserted or counts.updated:
        result["eidr"] = match_eidr(provider, ctx.started_at)
    if transform:
        result["dbt"] = transform_provider(provider)
    return result


#: An ingestion's build tests only the mart rows it could have changed (dbt_models/macros/get_where_subquery.sql);
#: the scheduled ``transform`` tests every row.
PIPELINE_DBT_VARS = {"test_scope": "recent"}


def transform_provider(provider: str) -> dict[str, Any]:
    """Build what depends on this provider's source and the load audit, unless nothing needs it.

    dbt is skipped when the marts provably hold every row the provider loaded or quarantined: a run that changed
    nothing then costs no build. Its audit row reaches fct_ingest_runs with the next build (any provider's, or the
    scheduled ``transform``). The same question is asked again once the build holds the dbt slot: of twenty
    files dropped at once, the runs that waited while another build covered their rows skip theirs.
    """
    engine = get_engine()
    if marts_are_current(engine, provider):
        get_run_logger().info("%s: nothing newer than the last successful dbt build; dbt skipped", provider)
        return {"skipped": "marts already hold every raw and quarantined row"}
    from flows.transform import transform as dbt_transform

    loaded_through = raw_loaded_through(engine, provider)
    summary = dbt_transform(select=selection_for(provider), vars=PIPELINE_DBT_VARS, unless_current=provider)
    if summary.covered_by_earlier_build:
        return {"skipped": "a build that ran while this one waited covered its rows"}
    record_build(engine, provider, loaded_through)
    return {"counts": summary.counts, "selected": summary.selected, "seconds": summary.elapsed_seconds}


@flow(name="ingest-lumina", flow_run_name=ingest_run_name, timeout_seconds=INGEST_TIMEOUT_S, retries=0)
def ingest_lumina(
    start: datetime | None = None, end: datetime | None = None, transform: bool = True
) -> dict[str, Any] | State[Any]:
    """Ingest lumina's film catalogue (JSON API): incremental from the cursor, or a backfill window.

    Args:
        start: Window start (inclusive, provider time); with ``end``, a backfill window. Empty: from the cursor.
        end: Window end (exclusive).
        transform: Build what depends on this provider in dbt after the load.
    """
    if (skipped := skip_if_superseded(flow_run.id)) is not None:
        return skipped
    return run_ingestion("lumina", start, end, transform)


@flow(name="ingest-atlas", flow_run_name=ingest_run_name, timeout_seconds=INGEST_TIMEOUT_S, retries=0)
def ingest_atlas(
    start: datetime | None = None, end: datetime | None = None, transform: bool = True
) -> dict[str, Any] | State[Any]:
    """Ingest atlas's series catalogue (JSON API, series → seasons → episodes): incremental or a backfill window.

    Args:
        start: Window start (inclusive, provider time); with ``end``, a backfill window. Empty: from the cursor.
        end: Window end (exclusive).
        transform: Build what depends on this provider in dbt after the load.
    """
    if (skipped := skip_if_superseded(flow_run.id)) is not None:
        return skipped
    return run_ingestion("atlas", start, end, transform)
