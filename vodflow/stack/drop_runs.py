"""Which waiting drop files a run is already handling, as the Prefect server knows it.

The watcher's periodic scan re-announces files still waiting: the safety net for an event that was lost or a run
that crashed. A file can also be waiting because its run is busy: twenty large drops at once load one after
another (a provider's loads serialise), so the last waits minutes. Re-announcing those would start a run per
file per scan that only finds the file claimed; with 50,000-row files that grew to hundreds of flow run processes
and left the local Prefect server (SQLite) timing out requests. So the scan skips a file while a run that will
handle it is in flight: due but not started (Scheduled, Late, AwaitingConcurrencySlot), Pending, Running or
Cancelling. A run ends (Completed, Failed, Crashed, Cancelled) and the next scan announces what it left; a run
lost with its worker is marked Crashed by the "flow run lost" automation, and then the file is announced again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from vodflow.stack.api import post_to

logger = logging.getLogger("vodflow.watcher")

IN_FLIGHT_LIMIT = 200
"""Runs read per provider and scan; more in flight than this is an overload the scan should not add to."""


@dataclass(frozen=True)
class InFlight:
    """The runs of one provider's ingestion that have not ended: the files they name, and whether one sweeps."""

    names: frozenset[str] = frozenset()
    sweep: bool = False
    """A run with no ``path`` is in flight: it handles every file waiting when it starts, so it covers them all
    (a file that lands after it started waits for that run to end, then the next scan announces it)."""
    saturated: bool = False
    """:data:`IN_FLIGHT_LIMIT` runs or more are in flight: announcing more would only add to the queue."""

    def covers(self, name: str) -> bool:
        """Whether a run in flight will handle (or is handling) ``name``."""
        return self.sweep or self.saturated or name in self.names


RunsInFlight = Callable[[str], InFlight | None]
"""Asked once per provider and scan; ``None`` when it cannot tell (the scan then announces, as it always could)."""


def _paths(parameters: dict[str, object]) -> list[str] | None:
    """The files a run's ``path`` parameter names; ``None`` for a sweep (no path, or the whole folder)."""
    path = parameters.get("path")
    if isinstance(path, str) and path.strip() not in ("", "."):
        return [path]
    if isinstance(path, list) and path:
        return [str(p) for p in path]
    return None


def in_flight_from_parameters(runs: list[dict[str, object]], limit: int = IN_FLIGHT_LIMIT) -> InFlight:
    """What the parameters of the runs in flight say (one dict of parameters per run)."""
    names: set[str] = set()
    for parameters in runs:
        paths = _paths(parameters)
        if paths is None:
            return InFlight(sweep=True)
        names.update(paths)
    return InFlight(frozenset(names), saturated=len(runs) >= limit)


def prefect_runs_in_flight(provider: str) -> InFlight | None:
    """Ask the Prefect server (``PREFECT_API_URL``) for the unfinished, due runs of ``ingest-<provider>``.

    Through ``vodflow.stack.api`` (plain httpx, 5 s timeout, no retries), not the Prefect client (which retries for
    about a minute): the watcher's loop, and its heartbeat, must not stall while the server restarts.
    """
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    if not api_url:
        return None
    body = {
        "flows": {"name": {"any_": [f"ingest-{provider}"]}},
        "flow_runs": {
            "state": {"type": {"any_": ["SCHEDULED", "PENDING", "RUNNING", "CANCELLING"]}},
            # The schedule's future runs are not in flight: only those that came due.
            "expected_start_time": {"before_": datetime.now(UTC).isoformat()},
        },
        "limit": IN_FLIGHT_LIMIT,
    }
    try:
        runs = post_to(api_url, "/flow_runs/filter", body)
    except (httpx.HTTPError, ValueError) as exc:  # cannot tell: announce, as before
        logger.warning("%s: could not read the runs in flight (%s); announcing waiting files anyway", provider, exc)
        return None
    return in_flight_from_parameters([dict(run.get("parameters") or {}) for run in runs])
