"""The Python API for manual runs: trigger a provider's ingestion and, optionally, wait for its result.

Built on ``prefect.deployments.run_deployment``, so a run started here is the same as one started from the
Prefect UI or a schedule: it runs on the deployment's work pool and shows in the UI.

    >>> from vodflow.api import trigger_ingestion
    >>> run = trigger_ingestion("lumina", wait=True, timeout=600)
    >>> run.state, run.counts["inserted"]
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from sqlalchemy import text

from vodflow.db.engine import get_engine
from vodflow.providers import check_ingestible


class DeploymentNotFoundError(LookupError):
    """The deployment to run does not exist on the server; the message lists those that do."""


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


def trigger_ingestion(
    provider: str,
    *,
    wait: bool = False,
    timeout: float = 900,
    on_state: Callable[[str], None] | None = None,
    idempotency_key: str | None = None,
    **params: Any,
) -> IngestionRun:
    """Start ``ingest-<provider>`` with ``params`` (e.g. ``start``, ``end``); with ``wait``, return when it ends."""
    check_ingestible(provider)
    name = deployment_name(provider)
    try:
        flow_run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync context: never a coroutine
            name, parameters=params or None, timeout=0, idempotency_key=idempotency_key, as_subflow=False
        )
    except ObjectNotFound:
        existing = ", ".join(_existing_deployments()) or "none"
        raise DeploymentNotFoundError(f"deployment {name} does not exist; deployed: {existing}") from None
    if not wait:
        state = (flow_run.state.name if flow_run.state else None) or "Scheduled"
        return IngestionRun(flow_run.id, flow_run.name or "", name, state, parameters=params)
    return wait_for_run(flow_run, name, timeout=timeout, on_state=on_state)
