"""Ingest runs over the window (``marts.fct_ingest_runs``): success rate, duration, rows per run, and per day.

A run belongs to the day it finished (UTC), as in ``metrics_daily``. A day on which a provider has no run is
"no data" in the daily table, not a day with zero rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection

from vodflow.health.db import fetch, num
from vodflow.health.model import Section, Window, quantile, ratio


@dataclass(frozen=True)
class RunSummary:
    """One provider's (or feed's) runs in the window."""

    provider: str
    runs: int
    succeeded: int
    duration_p50: float | None
    duration_p95: float | None
    received_per_run: float | None
    """Median rows received by a succeeded run."""
    written_per_run: float | None
    """Median rows inserted or updated by a succeeded run."""
    received: int
    quarantined: int
    top_error: str | None

    @property
    def success_rate(self) -> float | None:
        """Succeeded runs over runs; None without runs."""
        return ratio(self.succeeded, self.runs)

    @property
    def quarantine_share(self) -> float | None:
        """Rows quarantined over rows received by the succeeded runs."""
        return ratio(self.quarantined, self.received)


@dataclass(frozen=True)
class RunDay:
    """One provider's runs on one UTC day."""

    provider: str
    day: date
    runs: int
    failed: int
    received: int | None
    """Rows received by the day's succeeded runs; None without a succeeded run (no data)."""
    quarantined: int | None


@dataclass
class RunsSection(Section):
    """Per-provider summaries and the daily series."""

    summaries: list[RunSummary] = field(default_factory=list)
    daily: list[RunDay] = field(default_factory=list)
    durations: dict[str, list[float]] = field(default_factory=dict)

    def day(self, provider: str, day: date) -> RunDay | None:
        """The provider's runs on ``day``, None when it had none."""
        return next((row for row in self.daily if row.provider == provider and row.day == day), None)

    @property
    def totals(self) -> tuple[int, int, int, int]:
        """Runs, succeeded runs, rows received, rows quarantined, every provider."""
        return (
            sum(s.runs for s in self.summaries),
            sum(s.succeeded for s in self.summaries),
            sum(s.received for s in self.summaries),
            sum(s.quarantined for s in self.summaries),
        )


def _error_head(error: str | None) -> str | None:
    return None if not error else error.strip().splitlines()[0][:160]


@dataclass(frozen=True)
class _Run:
    provider: str
    day: date
    ok: bool
    duration: float | None
    received: int
    written: int
    quarantined: int
    error: str | None


def _summary(provider: str, runs: list[_Run]) -> RunSummary:
    ok = [run for run in runs if run.ok]
    durations = [run.duration for run in runs if run.duration is not None]
    errors = Counter(_error_head(run.error) for run in runs if not run.ok and run.error)
    return RunSummary(
        provider=provider,
        runs=len(runs),
        succeeded=len(ok),
        duration_p50=quantile(durations, 0.5),
        duration_p95=quantile(durations, 0.95),
        received_per_run=quantile([float(run.received) for run in ok], 0.5),
        written_per_run=quantile([float(run.written) for run in ok], 0.5),
        received=sum(run.received for run in ok),
        quarantined=sum(run.quarantined for run in ok),
        top_error=errors.most_common(1)[0][0] if errors else None,
    )


def _day(provider: str, day: date, runs: list[_Run]) -> RunDay:
    ok = [run for run in runs if run.ok]
    return RunDay(
        provider=provider,
        day=day,
        runs=len(runs),
        failed=len(runs) - len(ok),
        received=sum(run.received for run in ok) if ok else None,
        quarantined=sum(run.quarantined for run in ok) if ok else None,
    )


def read_runs(conn: Connection, window: Window) -> RunsSection:
    """Every run that finished in the window, summarised per provider and per day."""
    rows = fetch(
        conn,
        "select provider, is_success, duration_seconds, received, inserted + updated as written, quarantined, "
        "error, (finished_at at time zone 'UTC')::date as day from marts.fct_ingest_runs "
        "where finished_at >= :start and finished_at < :end order by finished_at",
        start=window.start,
        end=window.end,
    )
    grouped: dict[str, list[_Run]] = {}
    for row in rows:
        run = _Run(
            provider=row["provider"],
            day=row["day"],
            ok=bool(row["is_success"]),
            duration=num(row["duration_seconds"]),
            received=int(row["received"] or 0),
            written=int(row["written"] or 0),
            quarantined=int(row["quarantined"] or 0),
            error=row["error"],
        )
        grouped.setdefault(run.provider, []).append(run)
    section = RunsSection()
    for provider, runs in sorted(grouped.items()):
        section.summaries.append(_summary(provider, runs))
        section.durations[provider] = [run.duration for run in runs if run.duration is not None]
        days: dict[date, list[_Run]] = {}
        for run in runs:
            days.setdefault(run.day, []).append(run)
        section.daily += [_day(provider, day, day_runs) for day, day_runs in sorted(days.items())]
    return section
