"""Start a deployment's run once per piece of work, across re-runs: reuse what ran or runs, retry what failed.

Prefect's ``idempotency_key`` makes ``run_deployment`` return the existing run for a key it has seen, which is
exactly right for a window that completed or is still running, and exactly wrong for one that failed (it would
be returned Failed forever). So each piece of work has a base key and numbered attempts (``<base>#1``, ``#2``…):
the newest attempt is reused unless it ended Failed, Crashed or Cancelled, in which case the next attempt is
created. Two backfills racing for the same window compute the same next attempt and get the same run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterIdempotencyKey
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment

from vodflow.orchestration.windows import MAX_ATTEMPTS, READ_LIMIT, attempt_key

RETRYABLE_STATES = frozenset({StateType.FAILED, StateType.CRASHED, StateType.CANCELLED})
FINAL_STATES = RETRYABLE_STATES | {StateType.COMPLETED}


class TooManyAttemptsError(RuntimeError):
    """The same piece of work failed :data:`MAX_ATTEMPTS` times."""


@dataclass(frozen=True)
class StartedRun:
    """A run for a piece of work: created now (``reused`` false) or found from an earlier attempt."""

    flow_run: FlowRun
    attempt: int
    reused: bool


def _attempt_of(key: str | None) -> int:
    try:
        return int((key or "").rsplit("#", 1)[1])
    except (IndexError, ValueError):
        return 0


def latest_attempts(client: SyncPrefectClient, bases: Iterable[str]) -> dict[str, tuple[int, FlowRun]]:
    """The newest attempt's run for each base key that has one (one query for all of them)."""
    keys = [attempt_key(base, n) for base in bases for n in range(1, MAX_ATTEMPTS + 1)]
    found: dict[str, tuple[int, FlowRun]] = {}
    for offset in range(0, len(keys), READ_LIMIT):
        chunk = keys[offset : offset + READ_LIMIT]  # a key names at most one run: the chunk bounds the answer
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(idempotency_key=FlowRunFilterIdempotencyKey(any_=chunk)),
            limit=len(chunk),
        )
        for run in runs:
            base = (run.idempotency_key or "").rsplit("#", 1)[0]
            attempt = _attempt_of(run.idempotency_key)
            if base not in found or attempt > found[base][0]:
                found[base] = (attempt, run)
    return found


def is_final(run: FlowRun) -> bool:
    """Whether the run has ended (successfully or not)."""
    return run.state_type in FINAL_STATES


def start_or_reuse(
    deployment: str,
    base: str,
    parameters: dict[str, Any],
    *,
    flow_run_name: str | None = None,
    tags: Iterable[str] = (),
    as_subflow: bool = True,
    latest: tuple[int, FlowRun] | None = None,
) -> StartedRun:
    """The run for ``base``: the newest attempt unless it failed, else a new attempt of ``deployment``.

    ``latest`` is the newest attempt if the caller already looked it up (:func:`latest_attempts`).
    """
    if latest is None:
        with get_client(sync_client=True) as client:
            latest = latest_attempts(client, [base]).get(base)
    attempt = 0
    if latest is not None:
        attempt, run = latest
        if run.state_type not in RETRYABLE_STATES:
            return StartedRun(run, attempt, reused=True)
    if attempt >= MAX_ATTEMPTS:
        raise TooManyAttemptsError(f"{base} failed {attempt} times; look at its runs before retrying")
    created: FlowRun = run_deployment(  # type: ignore[assignment]  # sync context: never a coroutine
        deployment,
        parameters=parameters,
        timeout=0,
        idempotency_key=attempt_key(base, attempt + 1),
        flow_run_name=flow_run_name,
        tags=list(tags),
        as_subflow=as_subflow,
    )
    return StartedRun(created, attempt + 1, reused=False)
