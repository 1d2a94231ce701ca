"""The late-run policy: after a worker outage, scheduled runs do not pile up.

Prefect OSS has no "skip late runs" setting: when a worker comes back it starts every run that came due while it
was away, one after another. For an incremental ingestion that is pure waste (each run reads from the cursor, so
the newest one alone does the work) and it delays the runs that matter. So a *scheduled* run that starts after the
next run of its own schedule came due skips itself: it ends ``Completed`` with the state name ``Skipped`` and a
message saying which run supersedes it. Nothing is lost: the cursor has not moved, and the newer run reads from it.
Runs started by hand, by an event or by a backfill are never skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from prefect.client.schemas.objects import DeploymentSchedule, State
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.states import Completed

SKIPPED_STATE_NAME = "Skipped"


def next_fire_after(schedule: DeploymentSchedule, moment: datetime) -> datetime | None:
    """When ``schedule`` fires next after ``moment`` (a run it created at ``moment``); None if not knowable."""
    spec = schedule.schedule
    if isinstance(spec, IntervalSchedule):
        return moment + spec.interval
    if isinstance(spec, CronSchedule):
        # The cron dialect the Prefect scheduler itself uses (vendored with Prefect, untyped).
        from prefect._vendor.croniter.croniter import croniter

        zone = ZoneInfo(spec.timezone or "UTC")
        following: datetime = croniter(spec.cron, moment.astimezone(zone)).get_next(datetime)  # type: ignore[no-untyped-call]
        return following.astimezone(UTC)
    return None  # RRule schedules: no policy (none in prefect.yaml)


def superseded_at(scheduled_start: datetime, schedules: Iterable[DeploymentSchedule]) -> datetime | None:
    """When the next scheduled run after ``scheduled_start`` comes due: the earliest next fire of any schedule."""
    fires = [
        fire
        for schedule in schedules
        if schedule.active and (fire := next_fire_after(schedule, scheduled_start)) is not None
    ]
    return min(fires, default=None)


def skip_reason(
    *, auto_scheduled: bool, scheduled_start: datetime | None, schedules: Iterable[DeploymentSchedule], now: datetime
) -> str | None:
    """Why a run should skip itself under the policy, or None to run."""
    if not auto_scheduled or scheduled_start is None:
        return None
    superseded = superseded_at(scheduled_start, schedules)
    if superseded is None or now < superseded:
        return None
    late_by = (now - scheduled_start).total_seconds()
    return (
        f"late-run policy: scheduled for {scheduled_start:%Y-%m-%d %H:%M:%S} UTC, started {late_by:.0f} s late, "
        f"after the next scheduled run came due ({superseded:%H:%M:%S} UTC); that run reads from the cursor"
    )


def superseded_reason(flow_run_id: str, now: datetime | None = None) -> str | None:
    """Ask the server whether this run is a scheduled run the policy skips; the reason if so, else None."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(uuid.UUID(flow_run_id))
        if not run.auto_scheduled or run.deployment_id is None:
            return None
        deployment = client.read_deployment(run.deployment_id)
    return skip_reason(
        auto_scheduled=run.auto_scheduled,
        scheduled_start=run.expected_start_time,
        schedules=deployment.schedules or [],
        now=now or datetime.now(UTC),
    )


def skip_if_superseded(flow_run_id: str | None) -> State[Any] | None:
    """The ``Skipped`` state for a scheduled run the policy skips, else None (also outside a deployment)."""
    if not flow_run_id:
        return None
    reason = superseded_reason(flow_run_id)
    if reason is None:
        return None
    from prefect import get_run_logger

    get_run_logger().warning("%s", reason)
    return Completed(name=SKIPPED_STATE_NAME, message=reason)
