"""Freshness per source against the dbt project's thresholds, and the lag from provider to the marts.

Freshness is the age, at the report's end, of the newest row each source received. For a provider's slice of
``raw.assets`` that is the newest ``loaded_at``, or the newest audit row of a run that wrote rows, whichever is
later: ``loaded_at`` moves when a row is rewritten, so for a past day only the audit (never changed after it is
written) still remembers the earlier loads.

Lag: ``fct_ingest_runs.ingest_lag_seconds`` of the runs that wrote rows in the last 24 hours before the end (the
newest change a run received to its commit); the marts are built by the same run's dbt sub-flow right after, so
the last dbt build's duration is shown beside it (dbt records no per-run build time in the database).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection

from vodflow.health.db import fetch, num
from vodflow.health.model import Section, Window, quantile
from vodflow.health.sources import FreshnessRule


@dataclass(frozen=True)
class Freshness:
    """One source's freshness at the report's end."""

    label: str
    last_loaded_at: datetime | None
    age: timedelta | None
    warn_after: timedelta | None
    error_after: timedelta | None

    @property
    def status(self) -> str:
        """``ok``, ``warn``, ``error``, or ``never loaded`` (no row before the end)."""
        if self.age is None:
            return "never loaded"
        if self.error_after is not None and self.age > self.error_after:
            return "error"
        if self.warn_after is not None and self.age > self.warn_after:
            return "warn"
        return "ok"


@dataclass(frozen=True)
class Lag:
    """A provider's ingest lag over the last day (seconds)."""

    provider: str
    runs: int
    p50: float | None
    p95: float | None


@dataclass
class FreshnessSection(Section):
    """Freshness rows (one per source table with thresholds) and lag rows (one per provider)."""

    sources: list[Freshness] = field(default_factory=list)
    lags: list[Lag] = field(default_factory=list)


def _newest(conn: Connection, rule: FreshnessRule, window: Window) -> datetime | None:
    where = f"{rule.loaded_at_field} < :end" + (f" and ({rule.filter})" if rule.filter else "")
    # Identifiers are checked in vodflow.health.sources; the filter is the dbt project's own SQL.
    sql = f"select max({rule.loaded_at_field}) as newest from {rule.schema}.{rule.identifier} where {where}"
    newest: datetime | None = fetch(conn, sql, end=window.end)[0]["newest"]
    if rule.provider and (rule.schema, rule.identifier) == ("raw", "assets"):
        audit = fetch(
            conn,
            "select max(finished_at) as newest from ops.loads where provider = :provider and status = 'succeeded' "
            "and inserted + updated > 0 and finished_at < :end",
            provider=rule.provider,
            end=window.end,
        )[0]["newest"]
        newest = max((stamp for stamp in (newest, audit) if stamp is not None), default=None)
    return newest


def read_freshness(conn: Connection, rules: list[FreshnessRule], window: Window) -> list[Freshness]:
    """Each rule's newest row before the end and its age then."""
    result = []
    for rule in rules:
        newest = _newest(conn, rule, window)
        result.append(
            Freshness(
                label=rule.label,
                last_loaded_at=newest,
                age=None if newest is None else window.end - newest,
                warn_after=rule.warn_after,
                error_after=rule.error_after,
            )
        )
    return result


def read_lags(conn: Connection, providers: list[str], window: Window) -> list[Lag]:
    """p50/p95 of the ingest lag of the runs that finished in the last 24 hours before the end, per provider."""
    rows = fetch(
        conn,
        "select provider, ingest_lag_seconds as lag from marts.fct_ingest_runs "
        "where finished_at >= :since and finished_at < :end and ingest_lag_seconds is not null",
        since=window.last_day_start,
        end=window.end,
    )
    by_provider: dict[str, list[float]] = {provider: [] for provider in providers}
    for row in rows:
        lag = num(row["lag"])
        if lag is not None:
            by_provider.setdefault(row["provider"], []).append(lag)
    return [
        Lag(provider, len(values), quantile(values, 0.5), quantile(values, 0.95))
        for provider, values in sorted(by_provider.items())
    ]
