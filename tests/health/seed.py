"""Known inputs for the health report: raw rows, audit rows, quarantine, events, verdicts, then a real dbt build.

Days are relative to today (UTC), T. The report under test is mostly the one for ``Days.past`` = T-2 over 7 days, so
its figures do not depend on the hour the tests run:

* lumina: one run a day from T-8 to T-1, 20 new films each, every field and a provided EIDR ID, except T-5 (no
  run: a day with no data). Its T-1 run (after T-2) quarantines 25 of 50 rows for an implausible year.
* harbor: one run on T-3 that received 100 rows: 88 films loaded without a runtime or EIDR ID, 12 quarantined
  for a blank title (12 %). 5 of its films wait for EIDR review since T-12.
* atlas: on T-4 a failed run (HTTP 503) and a run that loaded 10 series: 1 of 2 runs failed.
* meridian: nothing at all (no history).
* the events feed: on T-3, 12 lumina deliveries, 2 failing QC (audio_sync), 10 published 2 to 11 hours later,
  and one event for an asset nobody sent (a dbt warning).
* anomaly verdicts: lumina deliveries_drop anomalous on T-3 (judged T-2), on T-1 (judged T-1, after T-2).
"""

from __future__ import annotations

import hashlib
import json
import time as pytime
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from vodflow.eidr.ids import format_id

#: The package's tests run within this long of the seeding (about 45 s on two busy cores).
_TESTS_LAST = timedelta(minutes=3)


@dataclass(frozen=True)
class Days:
    """T and the days the history is laid out on.

    Fixed when the package's fixture seeds, not when the module is imported: ``make test`` imports every module
    at its start and may reach these tests 25 minutes later, on the next day (UTC), while the report's own clock,
    the events it counts and the dbt build it reads are all real.
    """

    today: date

    @property
    def past(self) -> date:
        """T-2: the day of the report most tests read."""
        return self.today - timedelta(days=2)

    @property
    def gap_day(self) -> date:
        """T-5: lumina did not run."""
        return self.today - timedelta(days=5)

    def at(self, days_ago: int, hour: int = 10) -> datetime:
        """``hour`` o'clock UTC, ``days_ago`` days before T."""
        return datetime.combine(self.today - timedelta(days=days_ago), time(hour), tzinfo=UTC)

    @classmethod
    def from_now(
        cls, clock: Callable[[], datetime] = lambda: datetime.now(UTC), sleep: Callable[[float], None] = pytime.sleep
    ) -> Days:
        """Today (UTC); first waiting for midnight to pass if it would fall while the package's tests run."""
        now = clock()
        midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
        if midnight - now < _TESTS_LAST:
            sleep((midnight - now).total_seconds() + 1)
            now = clock()
        return cls(now.date())


@dataclass
class Load:
    """One ops.loads row and what it wrote."""

    provider: str
    finished_at: datetime
    received: int
    inserted: int
    quarantined: int = 0
    status: str = "succeeded"
    error: str | None = None
    load_id: uuid.UUID | None = None

    def insert(self, conn: Connection) -> uuid.UUID:
        self.load_id = uuid.uuid4()
        conn.execute(
            text(
                "insert into ops.loads (load_id, provider, status, started_at, finished_at, cursor_before, "
                "cursor_after, served, received, inserted, quarantined, error) values (:load_id, :provider, :status, "
                ":started, :finished, :cursor_before, :cursor_after, :received, :received, :inserted, :quarantined, "
                ":error)"
            ),
            {
                "load_id": self.load_id,
                "provider": self.provider,
                "status": self.status,
                "started": self.finished_at - timedelta(seconds=30),
                "finished": self.finished_at,
                "cursor_before": self.finished_at - timedelta(days=1),
                "cursor_after": self.finished_at - timedelta(minutes=20) if self.status == "succeeded" else None,
                "received": self.received if self.status == "succeeded" else 0,
                "inserted": self.inserted,
                "quarantined": self.quarantined,
                "error": self.error,
            },
        )
        return self.load_id


def _asset(conn: Connection, load: Load, asset_id: str, **fields: Any) -> None:
    row: dict[str, Any] = {
        "provider": load.provider,
        "provider_asset_id": asset_id,
        "asset_type": "movie",
        "title": f"Film {asset_id}",
        "release_year": 2001,
        "runtime_minutes": 101,
        "language": "en",
        "eidr_id": None,
        "provider_updated_at": load.finished_at - timedelta(minutes=20),
        "loaded_at": load.finished_at - timedelta(seconds=30),
        "load_id": load.load_id,
        **fields,
    }
    row["row_hash"] = hashlib.sha256(json.dumps(row, default=str, sort_keys=True).encode()).hexdigest()
    conn.execute(
        text(
            "insert into raw.assets (provider, provider_asset_id, asset_type, title, release_year, runtime_minutes, "
            "language, eidr_id, provider_updated_at, payload, row_hash, load_id, extracted_at, first_loaded_at, "
            "loaded_at) values (:provider, :provider_asset_id, :asset_type, :title, :release_year, "
            ":runtime_minutes, :language, :eidr_id, :provider_updated_at, '{}'::jsonb, :row_hash, :load_id, "
            ":loaded_at, :loaded_at, :loaded_at)"
        ),
        row,
    )


def _quarantine(conn: Connection, load: Load, asset_id: str, check: str, column: str) -> None:
    assert load.load_id is not None
    conn.execute(
        text(
            "insert into ops.quarantine (provider, provider_asset_id, row_hash, reasons, raw_row, first_load_id, "
            "last_load_id, first_seen_at, last_seen_at) values (:provider, :id, :hash, cast(:reasons as jsonb), "
            "'{}'::jsonb, :load_id, :load_id, :seen, :seen)"
        ),
        {
            "provider": load.provider,
            "id": asset_id,
            "hash": hashlib.sha256(f"{load.provider}/{asset_id}".encode()).hexdigest(),
            "reasons": json.dumps([{"check": check, "column": column, "value": None}]),
            "load_id": load.load_id,
            "seen": load.finished_at,
        },
    )


def _event(conn: Connection, load: Load, asset_id: str, event_type: str, occurred: datetime, **extra: Any) -> None:
    conn.execute(
        text(
            "insert into raw.supply_chain_events (event_id, source, provider, provider_asset_id, event_type, reason, "
            "platform, occurred_at, payload, load_id, extracted_at, loaded_at) values (:event_id, 'events', "
            ":provider, :asset_id, :event_type, :reason, :platform, :occurred, '{}'::jsonb, :load_id, :loaded, "
            ":loaded)"
        ),
        {
            "event_id": uuid.uuid4(),
            "provider": extra.get("provider", "lumina"),
            "asset_id": asset_id,
            "event_type": event_type,
            "reason": extra.get("reason"),
            "platform": extra.get("platform"),
            "occurred": occurred,
            "load_id": load.load_id,
            "loaded": load.finished_at - timedelta(seconds=30),
        },
    )


def _lumina(conn: Connection, days: Days) -> None:
    for days_ago in range(8, 0, -1):
        if days.today - timedelta(days=days_ago) == days.gap_day:
            continue
        if days_ago == 1:
            load = Load("lumina", days.at(1), received=50, inserted=25, quarantined=25)
        else:
            load = Load("lumina", days.at(days_ago), received=20, inserted=20)
        load.insert(conn)
        for n in range(load.inserted):
            asset_id = f"lum-{days_ago}-{n}"
            _asset(conn, load, asset_id, eidr_id=format_id(hashlib.sha1(asset_id.encode()).hexdigest()[:20]))
        for n in range(load.quarantined):
            _quarantine(conn, load, f"lum-bad-{n}", "release_year_plausible", "release_year")


def _harbor(conn: Connection, days: Days) -> None:
    load = Load("harbor", days.at(3), received=100, inserted=88, quarantined=12)
    load.insert(conn)
    for n in range(88):
        _asset(conn, load, f"hb-{n}", runtime_minutes=None)
    for n in range(12):
        _quarantine(conn, load, f"hb-bad-{n}", "title_not_blank", "title")
    for n in range(5):
        conn.execute(
            text(
                "insert into raw.eidr_matches (provider, provider_asset_id, outcome, score, method, reason, "
                "matched_at, decided_by) values ('harbor', :id, 'potential', 0.8, 'title_year', 'close title', "
                ":at, 'matcher')"
            ),
            {"id": f"hb-{n}", "at": days.at(12)},
        )
        conn.execute(
            text(
                "insert into ops.eidr_review (provider, provider_asset_id, score, created_at, updated_at) "
                "values ('harbor', :id, 0.8, :at, :at)"
            ),
            {"id": f"hb-{n}", "at": days.at(12)},
        )


def _atlas(conn: Connection, days: Days) -> None:
    failed = Load("atlas", days.at(4, 9), received=0, inserted=0, status="failed", error="HTTP 503 from atlas page 3")
    failed.insert(conn)
    load = Load("atlas", days.at(4), received=10, inserted=10)
    load.insert(conn)
    for n in range(10):
        _asset(conn, load, f"at-{n}", asset_type="series", title=f"Series {n}", runtime_minutes=None)


def _events(conn: Connection, days: Days) -> None:
    load = Load("events", days.at(3, 23), received=35, inserted=35)
    load.insert(conn)
    for n in range(12):
        delivered = days.at(3, 1 + n)
        asset_id = f"lum-8-{n}"
        _event(conn, load, asset_id, "delivered", delivered)
        if n < 2:
            _event(conn, load, asset_id, "qc_failed", delivered + timedelta(minutes=30), reason="audio_sync")
        else:
            _event(conn, load, asset_id, "qc_passed", delivered + timedelta(minutes=30))
            _event(conn, load, asset_id, "published", delivered + timedelta(hours=n), platform="web")
    _event(conn, load, "nobody-sent-this", "delivered", days.at(3, 22))


def _verdicts(conn: Connection, days: Days) -> None:
    judged_on = {days.today - timedelta(days=3): days.at(2, 6), days.today - timedelta(days=1): days.at(1, 12)}
    for day, judged in judged_on.items():
        conn.execute(
            text(
                "insert into ops.metric_evaluations (check_name, provider, metric_date, metric, method, direction, "
                "value, expected, expected_low, expected_high, score, history_points, verdict, severity, channel, "
                "evaluated_at) values ('deliveries_drop', 'lumina', :day, 'deliveries', 'seasonal_robust', 'drop', "
                "1, 40, 30, 50, -6.5, 14, 'anomaly', 'critical', 'slack', :judged)"
            ),
            {"day": day, "judged": judged},
        )


def seed(engine: Engine, days: Days) -> None:
    """Write every input described in the module's docstring."""
    with engine.begin() as conn:
        _lumina(conn, days)
        _harbor(conn, days)
        _atlas(conn, days)
        _events(conn, days)
        _verdicts(conn, days)


__all__ = ["Days", "seed"]
