"""Read-only questions to the local Prefect server over its REST API, with plain httpx.

Why not the Prefect client here: ``vodflow status`` should answer in well under a second, and importing the client
alone takes about 1.5 s. These calls use documented REST endpoints (``/flow_runs/filter`` and friends).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from vodflow.prefect_auth import prefect_api_headers
from vodflow.settings import Settings

_TIMEOUT = 5.0


def post_json(settings: Settings, path: str, body: dict[str, Any]) -> Any:
    """POST a filter query to the stack's REST API and return the decoded answer."""
    return post_to(settings.prefect_api_url, path, body)


def post_to(api_url: str, path: str, body: dict[str, Any]) -> Any:
    """POST a filter query to the REST API at ``api_url``: one try, a 5 s timeout, the client's credentials.

    ``trust_env=False``: a proxy from the environment must never sit between us and a loopback server.
    """
    response = httpx.post(
        f"{api_url}{path}",
        json=body,
        timeout=_TIMEOUT,
        trust_env=False,
        headers=prefect_api_headers(),
    )
    response.raise_for_status()
    return response.json()


def worker_online(settings: Settings, worker_name: str, since: float | None = None) -> bool:
    """Whether a worker called ``worker_name`` is ONLINE in the stack's pool, with a heartbeat after ``since``.

    ``since`` (epoch seconds, the worker process's create time) keeps the ONLINE status a worker we just killed
    still has on the server from passing for the new one.
    """
    try:
        workers = post_json(settings, f"/work_pools/{settings.work_pool}/workers/filter", {"limit": 200})
    except (httpx.HTTPError, ValueError):
        return False
    for found in workers:
        if found.get("name") != worker_name or found.get("status") != "ONLINE":
            continue
        beat = found.get("last_heartbeat_time")
        if since is None:
            return True
        if beat and datetime.fromisoformat(beat).timestamp() >= since - 1.0:
            return True
    return False


@dataclass(frozen=True)
class FlowRunRow:
    """One line of the "recent flow runs" table."""

    name: str
    flow: str | None
    deployment: str | None
    state: str | None
    start_time: str | None


def _names_by_id(settings: Settings, kind: str, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = post_json(settings, f"/{kind}/filter", {kind: {"id": {"any_": sorted(ids)}}, "limit": len(ids)})
    return {row["id"]: row["name"] for row in rows}


def recent_flow_runs(settings: Settings, limit: int = 10) -> list[FlowRunRow]:
    """The latest ``limit`` flow runs that were due by now, newest first.

    Filtering on "expected start before now" keeps the scheduler's future runs (it creates many ahead of time)
    from hiding what actually ran.
    """
    now = datetime.now(UTC).isoformat()
    runs = post_json(
        settings,
        "/flow_runs/filter",
        {
            "sort": "EXPECTED_START_TIME_DESC",
            "limit": limit,
            "flow_runs": {"expected_start_time": {"before_": now}},
        },
    )
    deployments = _names_by_id(settings, "deployments", {r["deployment_id"] for r in runs if r.get("deployment_id")})
    flows = _names_by_id(settings, "flows", {r["flow_id"] for r in runs if r.get("flow_id")})
    return [
        FlowRunRow(
            name=run["name"],
            flow=flows.get(run.get("flow_id") or ""),
            deployment=deployments.get(run.get("deployment_id") or ""),
            state=run.get("state_name") or (run.get("state") or {}).get("name"),
            start_time=run.get("start_time") or run.get("expected_start_time"),
        )
        for run in runs
    ]
