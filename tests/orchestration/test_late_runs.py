"""The late-run policy: a scheduled run skips itself once the next run of its schedule came due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect.client.schemas.objects import DeploymentSchedule
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

from vodflow.orchestration.late_runs import next_fire_after, skip_reason, superseded_at

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _interval(seconds: int, active: bool = True) -> DeploymentSchedule:
    return DeploymentSchedule(schedule=IntervalSchedule(interval=timedelta(seconds=seconds)), active=active)


def _cron(cron: str, timezone: str = "UTC") -> DeploymentSchedule:
    return DeploymentSchedule(schedule=CronSchedule(cron=cron, timezone=timezone), active=True)


def test_next_fire_of_interval_and_cron_schedules() -> None:
    assert next_fire_after(_interval(900), T0) == T0 + timedelta(minutes=15)
    assert next_fire_after(_cron("7,37 * * * *"), T0.replace(minute=7)) == T0.replace(minute=37)
    # A cron in another zone: 02:30 Paris in winter is 01:30 UTC.
    paris = next_fire_after(_cron("30 2 * * *", "Europe/Paris"), datetime(2026, 1, 10, 1, 30, tzinfo=UTC))
    assert paris == datetime(2026, 1, 11, 1, 30, tzinfo=UTC)


def test_the_earliest_active_schedule_supersedes() -> None:
    schedules = [_interval(3600), _interval(600), _interval(60, active=False)]
    assert superseded_at(T0, schedules) == T0 + timedelta(minutes=10)
    assert superseded_at(T0, []) is None


def test_a_run_late_past_the_next_fire_is_skipped_with_a_reason() -> None:
    reason = skip_reason(
        auto_scheduled=True, scheduled_start=T0, schedules=[_interval(900)], now=T0 + timedelta(minutes=40)
    )
    assert reason is not None
    assert "scheduled for 2026-03-01 12:00:00 UTC, started 2400 s late" in reason
    assert "next scheduled run came due (12:15:00 UTC)" in reason


def test_a_run_within_its_interval_runs() -> None:
    late_but_current = T0 + timedelta(minutes=14, seconds=59)
    assert (
        skip_reason(auto_scheduled=True, scheduled_start=T0, schedules=[_interval(900)], now=late_but_current) is None
    )


def test_runs_by_hand_by_events_and_backfills_are_never_skipped() -> None:
    hours_later = T0 + timedelta(hours=5)
    assert skip_reason(auto_scheduled=False, scheduled_start=T0, schedules=[_interval(900)], now=hours_later) is None
    assert skip_reason(auto_scheduled=True, scheduled_start=None, schedules=[_interval(900)], now=hours_later) is None
