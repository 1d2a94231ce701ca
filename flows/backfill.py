"""Flow ``backfill``: re-read one provider over a date range, window by window, through its own deployment.

Each window is one run of ``ingest-<provider>`` with ``start``/``end`` (so it shows in the UI as
``lumina/2026-03-01..2026-03-02``, a child of the backfill), started at most ``max_concurrency`` at a time with an
idempotency key per window: re-running the same backfill reuses every window that completed or is still running
and retries only those that failed. Windows load without dbt; one dbt build over the whole range follows, with
the range as the incremental marts' backfill window (or a full refresh). Progress is a Prefect progress artifact
and one log line per window.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from datetime import datetime
from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.runtime import flow_run
from pydantic import Field

from vodflow.api import deployment_name, load_counts
from vodflow.dbt.selection import selection_for
from vodflow.orchestration.runs import StartedRun, is_final, latest_attempts, start_or_reuse
from vodflow.orchestration.windows import BackfillPlan, BackfillWindow, plan_backfill, window_label

BACKFILL_TIMEOUT_S = 24 * 3600
POLL_SECONDS = 2.0

BackfillSource = Literal["lumina", "atlas", "meridian", "events"]


class BackfillWindowsFailedError(RuntimeError):
    """Some windows ended Failed, Crashed or Cancelled; re-running the same backfill retries only those."""


def backfill_run_name() -> str:
    """``backfill/lumina/2026-03-01..2026-03-08``."""
    params = flow_run.parameters or {}
    try:
        window = window_label(params["start"], params["end"])
    except (KeyError, TypeError, ValueError):
        window = "?"
    return f"backfill/{params.get('provider', '?')}/{window}"


def _window_row(window: BackfillWindow, run: FlowRun, started: StartedRun) -> dict[str, Any]:
    counts = load_counts(run.id) or {}
    return {
        "window": window.label,
        "state": run.state_name or str(run.state_type),
        "flow_run": run.name,
        "attempt": started.attempt,
        "reused": started.reused,
        **{k: counts.get(k) for k in ("received", "inserted", "updated", "unchanged", "quarantined")},
    }


def run_windows(plan: BackfillPlan) -> list[dict[str, Any]]:
    """Run every window of ``plan`` (at most ``max_concurrency`` in flight); one row per window, in order."""
    logger = get_run_logger()
    deployment = deployment_name(plan.provider)
    total = len(plan.windows)
    progress_id: uuid.UUID = create_progress_artifact(  # type: ignore[assignment]  # sync context
        0.0, key=f"backfill-{plan.provider}", description=f"backfill {plan.label}: 0 of {total} windows done"
    )
    with get_client(sync_client=True) as client:
        latest = latest_attempts(client, [w.idempotency_base(plan.provider) for w in plan.windows])
    pending = deque(plan.windows)
    in_flight: dict[uuid.UUID, tuple[BackfillWindow, StartedRun]] = {}
    rows: dict[BackfillWindow, dict[str, Any]] = {}

    def finished(window: BackfillWindow, run: FlowRun, started: StartedRun) -> None:
        rows[window] = _window_row(window, run, started)
        done = len(rows)
        logger.info(
            "window %s: %s (%s%s); %d of %d done",
            window.label,
            rows[window]["state"],
            run.name,
            ", reused" if started.reused else "",
            done,
            total,
        )
        update_progress_artifact(
            progress_id, 100.0 * done / total, description=f"backfill {plan.label}: {done} of {total} windows done"
        )

    while pending or in_flight:
        while pending and len(in_flight) < plan.max_concurrency:
            window = pending.popleft()
            base = window.idempotency_base(plan.provider)
            started = start_or_reuse(
                deployment,
                base,
                window.parameters(),
                flow_run_name=f"{plan.provider}/{window.label}",
                tags=["vodflow", "backfill", f"provider:{plan.provider}"],
                latest=latest.get(base),
            )
            if started.reused and is_final(started.flow_run):
                finished(window, started.flow_run, started)
            else:
                in_flight[started.flow_run.id] = (window, started)
        if not in_flight:
            continue
        time.sleep(POLL_SECONDS)
        with get_client(sync_client=True) as client:
            current = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(in_flight))))
        for run in current:
            if is_final(run):
                window, started = in_flight.pop(run.id)
                finished(window, run, started)
    return [rows[window] for window in plan.windows]


@flow(name="backfill", flow_run_name=backfill_run_name, timeout_seconds=BACKFILL_TIMEOUT_S, retries=0)
def backfill(
    provider: BackfillSource,
    start: datetime,
    end: datetime,
    chunk: str = "1d",
    max_concurrency: Annotated[int, Field(ge=1, le=4)] = 2,
    full_refresh: bool = False,
    transform: bool = True,
) -> dict[str, Any]:
    """Re-read ``provider`` over ``[start, end)`` in ``chunk`` windows, then build its marts once.

    Re-running the same backfill creates no run for a window that completed or is running; failed windows are
    retried. The run fails, after the dbt build of what did load, if any window failed.

    Args:
        provider: The provider (or feed) to re-read; harbor delivers files and has no windows.
        start: Start of the range (inclusive); a time without an offset is UTC.
        end: End of the range (exclusive).
        chunk: Window size: 30m, 6h, 1d, 2w or an ISO 8601 duration (at most 31 days, 7 for meridian/events).
        max_concurrency: Windows running at once (1-4).
        full_refresh: Rebuild the provider's marts from scratch afterwards instead of an incremental build.
        transform: Run the dbt build over the range after the windows.
    """
    plan = plan_backfill(provider, start, end, chunk, max_concurrency=max_concurrency, full_refresh=full_refresh)
    logger = get_run_logger()
    logger.info(
        "backfill %s: %d windows of %s, %d at a time", plan.label, len(plan.windows), plan.chunk, max_concurrency
    )
    rows = run_windows(plan)
    create_table_artifact(
        key=f"backfill-{provider}-windows",
        table=rows,
        description=f"backfill {plan.label}: each window's run and what it loaded",
    )
    completed = [row for row in rows if row["state"] == "Completed"]
    failed = [row for row in rows if row["state"] != "Completed"]
    result: dict[str, Any] = {
        "provider": provider,
        "windows": len(rows),
        "completed": len(completed),
        "failed": [row["window"] for row in failed],
        "created": sum(1 for row in rows if not row["reused"]),
        **{k: sum(row[k] or 0 for row in rows) for k in ("received", "inserted", "updated", "quarantined")},
    }
    if transform and completed:
        from flows.transform import transform as dbt_transform

        summary = dbt_transform(
            select=selection_for(provider), full_refresh=full_refresh, start=plan.start, end=plan.end
        )
        result["dbt"] = {"counts": summary.counts, "seconds": summary.elapsed_seconds}
    if failed:
        states = ", ".join(f"{row['window']} {row['state']}" for row in failed[:10])
        raise BackfillWindowsFailedError(
            f"{len(failed)} of {len(rows)} windows did not complete ({states}); "
            "run the same backfill again to retry only those"
        )
    return result
