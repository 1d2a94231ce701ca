"""The Python API for manual runs: trigger a provider's ingestion or a backfill and, optionally, wait for it.

Built on ``prefect.deployments.run_deployment``, so a run started here is the same as one started from the
Prefect UI or a schedule: it runs on the deployment's work pool and shows in the UI. Bad requests (an unknown
provider or parameter, a backfill range the wrong way round) are refused before any run is created.

    >>> from vodflow.api import backfill, trigger_ingestion
    >>> run = trigger_ingestion("lumina", wait=True, timeout=600)
    >>> run.state, run.counts["inserted"]
    >>> job = backfill("lumina", "2026-03-01", "2026-03-08", chunk="1d", wait=True)
    >>> job.state, job.windows_done, job.windows_total
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from sqlalchemy import text

from vodflow.db.engine import get_engine
from vodflow.orchestration.progress import WindowProgress, window_progress
from vodflow.orchestration.runs import start_or_reuse
from vodflow.orchestration.windows import BackfillPlan, plan_backfill
from vodflow.providers import check_ingestible


class DeploymentNotFoundError(LookupError):
    """The deployment to run does not exist on the server; the message lists those that do."""


class UnknownParameterError(ValueError):
    """A parameter the deployment's flow does not take; the message lists those it does."""


@dataclass
class IngestionRun:
    """A provider flow run as seen from outside: id, state and, once finished, the load's counts."""

    flow_run_id: uuid.UUID
    name: str
    deployment: str
    state: str
    counts: dict[str, Any] | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        """Whether the run has finished (successfully or not)."""
        return self.state in {"Completed", "Failed", "Crashed", "Cancelled"}


def deployment_name(provider: str) -> str:
    """``<flow>/<deployment>`` of a provider's ingestion (contract: deployments are named ``ingest-<provider>``)."""
    return f"ingest-{provider}/ingest-{provider}"


BACKFILL_DEPLOYMENT = "backfill/backfill"
ANOMALY_CHECK_DEPLOYMENT = "anomaly-check/anomaly-check"


def _existing_deployments() -> list[str]:
    from prefect.client.orchestration import get_client as sync_client

    with sync_client(sync_client=True) as client:
        deployments = client.read_deployments()
        flows = {f.id: f.name for f in client.read_flows()}
    return sorted(f"{flows.get(d.flow_id, '?')}/{d.name}" for d in deployments)


def load_counts(flow_run_id: uuid.UUID) -> dict[str, Any] | None:
    """The audit row a flow run wrote (ops.loads), or None if it wrote none."""
    with get_engine().connect() as conn:
        row = (
            conn.execute(
                text(
                    "select status, served, received, inserted, updated, unchanged, stale, quarantined, error "
                    "from ops.loads where flow_run_id = :id order by finished_at desc limit 1"
                ),
                {"id": flow_run_id},
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def _read_state(flow_run_id: uuid.UUID) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def wait_for_run(
    flow_run: FlowRun,
    deployment: str,
    *,
    timeout: float,
    poll_interval: float = 1.0,
    on_state: Callable[[str], None] | None = None,
) -> IngestionRun:
    """Poll a flow run until it is final or ``timeout`` seconds pass; ``on_state`` hears every state change."""
    deadline = time.monotonic() + timeout
    last_state = ""
    current = flow_run
    while True:
        state = (current.state.name if current.state else None) or "Unknown"
        if state != last_state and on_state is not None:
            on_state(state)
        last_state = state
        run = IngestionRun(current.id, current.name or "", deployment, state, parameters=dict(current.parameters))
        if run.is_final or time.monotonic() > deadline:
            if run.is_final:
                run.counts = load_counts(current.id)
            return run
        time.sleep(poll_interval)
        current = _read_state(current.id)


def check_deployment(name: str, params: dict[str, Any]) -> None:
    """Refuse a deployment that does not exist, or a parameter its flow does not take, before any run is made."""
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound:
            existing = ", ".join(_existing_deployments()) or "none"
            raise DeploymentNotFoundError(f"deployment {name} does not exist; deployed: {existing}") from None
    accepted = sorted((deployment.parameter_openapi_schema or {}).get("properties", {}))
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise UnknownParameterError(
            f"{name} has no parameter {', '.join(repr(u) for u in unknown)}; it takes: {', '.join(accepted) or 'none'}"
        )


def trigger_ingestion(
    provider: str,
    *,
    wait: bool = False,
    timeout: float = 900,
    on_state: Callable[[str], None] | None = None,
    idempotency_key: str | None = None,
    **params: Any,
) -> IngestionRun:
    """Start ``ingest-<provider>`` with ``params`` (e.g. ``start``, ``end``); with ``wait``, return when it ends.

    Raises:
        UnknownProviderError: no such provider (the message lists the known ones).
        DeploymentNotFoundError: the provider's deployment is not on the server (the message lists what is).
        UnknownParameterError: a parameter the flow does not take (the message lists those it does).
    """
    check_ingestible(provider)
    return _start(deployment_name(provider), params, wait, timeout, on_state, idempotency_key)


def _start(
    name: str,
    params: dict[str, Any],
    wait: bool,
    timeout: float,
    on_state: Callable[[str], None] | None,
    idempotency_key: str | None = None,
) -> IngestionRun:
    """Check, create the run of deployment ``name``, and with ``wait`` follow it to its end."""
    check_deployment(name, params)
    flow_run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync context: never a coroutine
        name, parameters=params or None, timeout=0, idempotency_key=idempotency_key, as_subflow=False
    )
    if not wait:
        state = (flow_run.state.name if flow_run.state else None) or "Scheduled"
        return IngestionRun(flow_run.id, flow_run.name or "", name, state, parameters=params)
    return wait_for_run(flow_run, name, timeout=timeout, on_state=on_state)


BUSY_MESSAGE = "Deployment concurrency limit reached"
BUSY_RETRY_PAUSE_S = 3.0


def _cancelled_as_busy(flow_run_id: uuid.UUID) -> bool:
    """Whether the server cancelled the run because another run of its deployment held the only slot."""
    state = _read_state(flow_run_id).state
    return state is not None and state.name == "Cancelled" and BUSY_MESSAGE in (state.message or "")


def _start_when_free(
    name: str,
    params: dict[str, Any],
    timeout: float,
    on_state: Callable[[str], None] | None,
) -> IngestionRun:
    """Start and follow a run of a one-at-a-time (``CANCEL_NEW``) deployment until it really runs.

    Such a deployment cancels a run created while another is in flight (the anomaly check started by a dbt
    build's completion, say). A run asked for by hand must still happen, so a run cancelled for that reason
    is started again once the slot is free, until ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        run = _start(name, params, True, max(deadline - time.monotonic(), 1.0), on_state)
        if run.state != "Cancelled" or not _cancelled_as_busy(run.flow_run_id) or time.monotonic() >= deadline:
            return run
        time.sleep(BUSY_RETRY_PAUSE_S)


def trigger_anomaly_check(
    *,
    as_of: date | None = None,
    days: int = 1,
    wait: bool = False,
    timeout: float = 900,
    on_state: Callable[[str], None] | None = None,
) -> IngestionRun:
    """Run the ``anomaly-check`` deployment for the ``days`` days ending on ``as_of`` (default: yesterday, UTC).

    The deployment runs one check at a time; with ``wait``, a run the server cancelled because another check
    was running is started again once that one ends, so the check asked for is the one that runs.
    """
    params: dict[str, Any] = {"days": days}
    if as_of is not None:
        params["as_of"] = as_of.isoformat()
    if wait:
        return _start_when_free(ANOMALY_CHECK_DEPLOYMENT, params, timeout, on_state)
    return _start(ANOMALY_CHECK_DEPLOYMENT, params, wait, timeout, on_state)


@dataclass
class BackfillRun:
    """A backfill as seen from outside: its run, its state and how many of its windows are done."""

    flow_run_id: uuid.UUID
    name: str
    state: str
    windows: list[WindowProgress]
    reused: bool = False
    counts: dict[str, int] | None = None

    @property
    def windows_total(self) -> int:
        """How many windows the backfill has."""
        return len(self.windows)

    @property
    def windows_done(self) -> int:
        """Windows whose run completed."""
        return sum(1 for w in self.windows if w.state == "Completed")

    @property
    def windows_failed(self) -> int:
        """Windows whose newest run ended Failed, Crashed or Cancelled."""
        return sum(1 for w in self.windows if w.state in {"Failed", "Crashed", "Cancelled"})

    @property
    def is_final(self) -> bool:
        """Whether the backfill run has finished (successfully or not)."""
        return self.state in {"Completed", "Failed", "Crashed", "Cancelled"}


def backfill(
    provider: str,
    start: datetime | str,
    end: datetime | str,
    *,
    chunk: str | timedelta = "1d",
    max_concurrency: int = 2,
    full_refresh: bool = False,
    wait: bool = False,
    timeout: float = 6 * 3600,
    poll_interval: float = 2.0,
    on_progress: Callable[[BackfillRun], None] | None = None,
) -> BackfillRun:
    """Run the ``backfill`` deployment for ``provider`` over ``[start, end)`` in ``chunk`` windows.

    The same request twice gives the same backfill run while it runs or once it completed (an idempotency key of
    its parameters); after a failure it starts a new one, which reuses every completed window and retries the
    others. With ``wait``, polls until the backfill ends (or ``timeout``), calling ``on_progress`` each time.

    Raises:
        BackfillRequestError: start not before end, a chunk larger than the provider serves, a provider with no
            windows (file drops), too many windows; nothing is created.
        UnknownProviderError, DeploymentNotFoundError: as for :func:`trigger_ingestion`.
    """
    plan = plan_backfill(provider, start, end, chunk, max_concurrency=max_concurrency, full_refresh=full_refresh)
    params: dict[str, Any] = {
        "provider": plan.provider,
        "start": plan.start.isoformat(),
        "end": plan.end.isoformat(),
        "chunk": f"{int(plan.chunk.total_seconds())}s" if isinstance(chunk, timedelta) else str(chunk),
        "max_concurrency": plan.max_concurrency,
        "full_refresh": plan.full_refresh,
    }
    check_deployment(deployment_name(provider), {})
    check_deployment(BACKFILL_DEPLOYMENT, params)
    started = start_or_reuse(
        BACKFILL_DEPLOYMENT,
        plan.idempotency_base(),
        params,
        flow_run_name=f"backfill/{plan.label}",
        tags=["vodflow", "backfill", f"provider:{plan.provider}"],
        as_subflow=False,
    )
    run = _backfill_snapshot(started.flow_run, plan, reused=started.reused)
    deadline = time.monotonic() + timeout
    while wait:
        if on_progress is not None:
            on_progress(run)
        if run.is_final or time.monotonic() > deadline:
            break
        time.sleep(poll_interval)
        run = _backfill_snapshot(_read_state(run.flow_run_id), plan, reused=started.reused)
    return run


def _backfill_snapshot(flow_run: FlowRun, plan: BackfillPlan, *, reused: bool) -> BackfillRun:
    state = (flow_run.state.name if flow_run.state else None) or "Scheduled"
    run = BackfillRun(flow_run.id, flow_run.name or "", state, window_progress(plan), reused=reused)
    if run.is_final:
        run.counts = backfill_counts(run.windows)
    return run


def backfill_counts(windows: list[WindowProgress]) -> dict[str, int]:
    """Rows received, inserted, updated, unchanged and quarantined, summed over the windows' loads."""
    totals = dict.fromkeys(("received", "inserted", "updated", "unchanged", "quarantined"), 0)
    for window in windows:
        counts = load_counts(window.flow_run_id) if window.flow_run_id else None
        for key in totals:
            totals[key] += int((counts or {}).get(key) or 0)
    return totals
