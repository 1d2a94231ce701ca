"""The deployments overview of ``vodflow status``: every deployment's last and next run, and backfills in flight.

Read over the server's REST API with plain httpx, like the rest of ``vodflow status`` (the Prefect client alone
takes about 1.5 s to import). A backfill's progress is read from its windows' idempotency keys, which follow from
its parameters alone (vodflow.orchestration.windows), so no state is kept anywhere but on the Prefect server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vodflow.orchestration.windows import (
    MAX_ATTEMPTS,
    READ_LIMIT,
    BackfillRequestError,
    attempt_key,
    plan_backfill,
)
from vodflow.settings import Settings
from vodflow.stack.api import post_json

#: Reads the load counts of flow runs by id (``ops.loads``); kept out of this module so it needs no database.
CountsReader = Callable[[list[str]], dict[str, dict[str, int]]]

FINAL = ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]
ACTIVE = ["RUNNING", "PENDING", "CANCELLING"]


@dataclass(frozen=True)
class DeploymentRow:
    """One deployment: its schedule, last finished run (with its load counts), next run and runs in flight."""

    deployment: str
    schedule: str
    last_run: str | None
    last_state: str | None
    last_finished: str | None
    counts: dict[str, int] | None
    next_run: str | None
    running: int


@dataclass(frozen=True)
class BackfillRow:
    """A backfill that is still going: how many of its windows completed, failed, or are yet to run."""

    name: str
    state: str
    windows_done: int
    windows_failed: int
    windows_total: int


@dataclass
class Overview:
    """What ``vodflow status`` prints below the components."""

    deployments: list[DeploymentRow] = field(default_factory=list)
    backfills: list[BackfillRow] = field(default_factory=list)


def describe_schedules(schedules: list[dict[str, Any]]) -> str:
    """``every 900 s``, ``cron 7,37 * * * * UTC``; ``-`` for none; inactive ones are marked ``(paused)``."""
    parts = []
    for entry in schedules:
        spec = entry.get("schedule") or {}
        if "interval" in spec:
            text = f"every {float(spec['interval']):.0f} s"
        elif "cron" in spec:
            text = f"cron {spec['cron']} {spec.get('timezone') or 'UTC'}"
        else:
            text = "rrule"
        parts.append(text if entry.get("active", True) else f"{text} (paused)")
    return ", ".join(parts) or "-"


def _runs(settings: Settings, body: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = post_json(settings, "/flow_runs/filter", body)
    return result


def _state(run: dict[str, Any]) -> str:
    return str(run.get("state_name") or (run.get("state") or {}).get("name") or "?")


def _deployment_row(
    settings: Settings, deployment: dict[str, Any], flow_name: str, running: int, now: str
) -> tuple[DeploymentRow, str | None]:
    by_deployment = {"deployments": {"id": {"any_": [deployment["id"]]}}}
    last = _runs(
        settings,
        {**by_deployment, "flow_runs": {"state": {"type": {"any_": FINAL}}}, "sort": "END_TIME_DESC", "limit": 1},
    )
    following = _runs(
        settings,
        {
            **by_deployment,
            "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}, "expected_start_time": {"after_": now}},
            "sort": "EXPECTED_START_TIME_ASC",
            "limit": 1,
        },
    )
    row = DeploymentRow(
        deployment=f"{flow_name}/{deployment['name']}",
        schedule=describe_schedules(deployment.get("schedules") or []),
        last_run=last[0]["name"] if last else None,
        last_state=_state(last[0]) if last else None,
        last_finished=last[0].get("end_time") if last else None,
        counts=None,
        next_run=following[0].get("expected_start_time") if following else None,
        running=running,
    )
    return row, (last[0]["id"] if last else None)


def _backfill_row(settings: Settings, run: dict[str, Any]) -> BackfillRow | None:
    params = run.get("parameters") or {}
    try:
        plan = plan_backfill(
            params["provider"],
            params["start"],
            params["end"],
            params.get("chunk") or "1d",
            max_concurrency=int(params.get("max_concurrency") or 1),
        )
    except (KeyError, TypeError, ValueError, BackfillRequestError):
        return None
    bases = [w.idempotency_base(plan.provider) for w in plan.windows]
    keys = [attempt_key(base, n) for base in bases for n in range(1, MAX_ATTEMPTS + 1)]
    children = [  # a key names at most one run; the server refuses a limit above READ_LIMIT, so ask in chunks
        child
        for offset in range(0, len(keys), READ_LIMIT)
        for child in _runs(
            settings,
            {
                "flow_runs": {"idempotency_key": {"any_": keys[offset : offset + READ_LIMIT]}},
                "limit": len(keys[offset : offset + READ_LIMIT]),
            },
        )
    ]
    newest: dict[str, tuple[int, str]] = {}
    for child in children:
        base, _, attempt = str(child.get("idempotency_key") or "").rpartition("#")
        if base and attempt.isdigit() and int(attempt) >= newest.get(base, (0, ""))[0]:
            newest[base] = (int(attempt), _state(child))
    states = [newest.get(base, (0, ""))[1] for base in bases]
    return BackfillRow(
        name=run["name"],
        state=_state(run),
        windows_done=states.count("Completed"),
        windows_failed=sum(states.count(s) for s in ("Failed", "Crashed", "Cancelled")),
        windows_total=len(bases),
    )


def deployments_overview(settings: Settings, counts_of: CountsReader | None = None) -> Overview:
    """Every deployment with its last and next run, and every backfill not yet finished.

    ``counts_of`` (flow-run ids → load counts, e.g. from ``ops.loads``) adds the rows each last run loaded.
    """
    now = datetime.now(UTC).isoformat()
    deployments: list[dict[str, Any]] = post_json(settings, "/deployments/filter", {"sort": "NAME_ASC", "limit": 200})
    flow_ids = sorted({d["flow_id"] for d in deployments})
    flows = {f["id"]: f["name"] for f in post_json(settings, "/flows/filter", {"flows": {"id": {"any_": flow_ids}}})}
    active = _runs(settings, {"flow_runs": {"state": {"type": {"any_": ACTIVE}}}, "limit": 200})
    running: dict[str, int] = {}
    for run in active:
        if run.get("deployment_id"):
            running[run["deployment_id"]] = running.get(run["deployment_id"], 0) + 1
    rows, last_ids = [], []
    for deployment in deployments:
        row, last_id = _deployment_row(
            settings, deployment, flows.get(deployment["flow_id"], "?"), running.get(deployment["id"], 0), now
        )
        rows.append(row)
        last_ids.append(last_id)
    if counts_of is not None:
        counts = counts_of([i for i in last_ids if i])
        rows = [
            DeploymentRow(**{**row.__dict__, "counts": counts.get(last_id)}) if last_id else row
            for row, last_id in zip(rows, last_ids, strict=True)
        ]
    backfill_ids = [d["id"] for d in deployments if d["name"] == "backfill"]
    backfills: list[BackfillRow] = []
    if backfill_ids:
        pending = _runs(
            settings,
            {
                "deployments": {"id": {"any_": backfill_ids}},
                "flow_runs": {"state": {"type": {"any_": [*ACTIVE, "SCHEDULED", "PAUSED"]}}},
                "limit": 50,
            },
        )
        backfills = [found for run in pending if (found := _backfill_row(settings, run)) is not None]
    return Overview(rows, backfills)
