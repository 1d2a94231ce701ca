"""How far a backfill got: each window's newest run, read from the server by the windows' idempotency keys.

The keys are derived from the plan alone, so progress can be read by anyone who knows the backfill's parameters
(the CLI while it waits, ``vodflow status``), without asking the backfill run itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from prefect.client.orchestration import get_client

from vodflow.orchestration.runs import latest_attempts
from vodflow.orchestration.windows import BackfillPlan


@dataclass(frozen=True)
class WindowProgress:
    """One window of a backfill and its newest run (None before the backfill reached it)."""

    label: str
    state: str | None
    flow_run_name: str | None
    attempt: int
    flow_run_id: uuid.UUID | None = None


def window_progress(plan: BackfillPlan) -> list[WindowProgress]:
    """Every window of ``plan`` with the state of its newest attempt, in order."""
    bases = [window.idempotency_base(plan.provider) for window in plan.windows]
    with get_client(sync_client=True) as client:
        latest = latest_attempts(client, bases)
    rows = []
    for window, base in zip(plan.windows, bases, strict=True):
        attempt, run = latest.get(base, (0, None))
        state = (run.state.name if run.state else run.state_name) if run is not None else None
        if run is None:
            rows.append(WindowProgress(window.label, None, None, 0))
        else:
            rows.append(WindowProgress(window.label, state, run.name, attempt, run.id))
    return rows


def done_of(windows: list[WindowProgress]) -> tuple[int, int]:
    """(completed, total)."""
    return sum(1 for w in windows if w.state == "Completed"), len(windows)
