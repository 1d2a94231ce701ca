"""Assemble the Data Health Check: every section read for one window, the recommendations and the headline.

:func:`build_report` only reads (the database, dbt's last results, the Prefect server's events) and returns plain
data; :func:`vodflow.health.render.render_html` turns it into the page and :func:`write_report` saves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import ProgrammingError

from vodflow.health import sources
from vodflow.health.alerts import AlertSection, AnomalySection, read_alerts, read_anomalies
from vodflow.health.catalogue import CatalogueSection, read_backlog, read_completeness, read_eidr
from vodflow.health.db import fetch, missing_relation
from vodflow.health.dbt_results import DbtSection, read_dbt
from vodflow.health.freshness import FreshnessSection, read_freshness, read_lags
from vodflow.health.model import NO_DATA, Section, Window, ratio
from vodflow.health.quarantine import QuarantineSection, read_quarantine
from vodflow.health.recommend import Recommendation, recommend
from vodflow.health.runs import RunsSection, read_runs
from vodflow.health.supply import SupplySection, read_supply
from vodflow.settings import Settings

S = TypeVar("S", bound=Section)


@dataclass
class HealthReport:
    """Everything the page shows, for one window."""

    window: Window
    generated_at: datetime
    providers: list[str]
    """Asset providers: those the dbt project declares, plus any other found in the load audit."""
    feeds: list[str]
    history: dict[str, datetime]
    """Provider or feed → its first run before the end; a provider missing here has no history."""
    freshness: FreshnessSection
    catalogue: CatalogueSection
    quarantine: QuarantineSection
    runs: RunsSection
    supply: SupplySection
    dbt: DbtSection
    anomalies: AnomalySection
    alerts: AlertSection
    recommendations: list[Recommendation] = field(default_factory=list)

    def has_history(self, provider: str) -> bool:
        """Whether the provider (or feed) had any run before the report's end."""
        return provider in self.history

    def headline(self) -> dict[str, str]:
        """The figures a manager reads first, as display strings ("no data" where there is none)."""
        runs, succeeded, received, quarantined = self.runs.totals
        eidr_assets = sum(row.assets for row in self.catalogue.eidr)
        eidr_with_id = sum(row.counts.get("provided", 0) + row.counts.get("matched", 0) for row in self.catalogue.eidr)
        stale = [row.label for row in self.freshness.sources if row.status in ("warn", "error")]
        return {
            "assets in the catalogue": _count(self.catalogue.total_assets),
            "EIDR coverage": _percent(ratio(eidr_with_id, eidr_assets)),
            "ingest runs succeeded": f"{succeeded:,} of {runs:,}" if runs else NO_DATA,
            "rows quarantined": _percent(ratio(quarantined, received)),
            "stale sources": (f"{len(stale)} of {len(self.freshness.sources)}" if self.freshness.sources else NO_DATA),
            "dbt last build": _dbt_headline(self.dbt),
            "anomalies": str(len(self.anomalies.anomalies)) if self.anomalies.verdicts else NO_DATA,
            "recommendations": str(len(self.recommendations)),
        }


def _count(value: int) -> str:
    return f"{value:,}" if value else NO_DATA


def _percent(value: float | None) -> str:
    return NO_DATA if value is None else f"{value * 100:.1f} %"


def _dbt_headline(dbt: DbtSection) -> str:
    if dbt.unavailable:
        return NO_DATA
    return f"{len(dbt.failures)} failed, {len(dbt.warnings)} warned"


def _guarded(engine: Engine, empty: Callable[[], S], read: Callable[[Connection], S]) -> S:
    """Read one section on its own connection; a relation that does not exist yet makes it unavailable."""
    try:
        with engine.connect() as conn:
            return read(conn)
    except ProgrammingError as exc:
        reason = missing_relation(exc)
        if reason is None:
            raise
        section = empty()
        section.unavailable = f"not built yet ({reason}): run the pipeline (or the transform flow) first"
        return section


def read_history(conn: Connection, window: Window) -> dict[str, datetime]:
    """Each provider's and feed's first run before the end (the load audit: it exists before any dbt build)."""
    rows = fetch(
        conn,
        "select provider, min(finished_at) as first from ops.loads where finished_at < :end group by provider",
        end=window.end,
    )
    return {row["provider"]: row["first"] for row in rows}


def build_report(
    engine: Engine,
    settings: Settings,
    as_of: date,
    days: int = 30,
    *,
    api_url: str | None = None,
    now: datetime | None = None,
) -> HealthReport:
    """Read every section for the ``days`` days ending on ``as_of`` and derive the recommendations.

    Args:
        engine: The database to read.
        settings: Where the dbt project and dbt's last results are.
        as_of: The report's last day (UTC); nothing after its end is counted.
        days: The window's length in days.
        api_url: The Prefect API to read alert events from (default: the local stack's).
        now: The current time (tests); the window never reaches past it.
    """
    window = Window.ending_on(as_of, days, now)
    project = settings.dbt_project_dir
    feeds = list(sources.feeds(project))
    rules = sources.freshness_rules(project)
    with engine.connect() as conn:
        history = read_history(conn, window)
    declared = set(sources.providers(project))
    providers = sorted(declared | {name for name in history if name not in feeds})

    def freshness(conn: Connection) -> FreshnessSection:
        return FreshnessSection(sources=read_freshness(conn, rules, window), lags=read_lags(conn, providers, window))

    def catalogue(conn: Connection) -> CatalogueSection:
        return CatalogueSection(
            completeness=read_completeness(conn, window),
            eidr=read_eidr(conn, window),
            backlog=read_backlog(conn, window),
        )

    report = HealthReport(
        window=window,
        generated_at=(now or datetime.now(UTC)).astimezone(UTC),
        providers=providers,
        feeds=feeds,
        history=history,
        freshness=_guarded(engine, FreshnessSection, freshness),
        catalogue=_guarded(engine, CatalogueSection, catalogue),
        quarantine=_guarded(engine, QuarantineSection, lambda conn: read_quarantine(conn, window)),
        runs=_guarded(engine, RunsSection, lambda conn: read_runs(conn, window)),
        supply=_guarded(engine, SupplySection, lambda conn: read_supply(conn, window)),
        dbt=read_dbt(settings.dbt_target_dir / "run_results.json", window),
        anomalies=_guarded(engine, AnomalySection, lambda conn: read_anomalies(conn, window)),
        alerts=read_alerts(api_url or settings.prefect_api_url, window),
    )
    report.recommendations = recommend(report)
    return report


def report_paths(settings: Settings, as_of: date) -> tuple[Path, Path]:
    """``<data dir>/reports/health-<as_of>.html`` and ``health-latest.html``."""
    folder = settings.data_dir / "reports"
    return folder / f"health-{as_of.isoformat()}.html", folder / "health-latest.html"


def write_report(html: str, settings: Settings, as_of: date, *, latest: bool = True) -> Path:
    """Write the page for ``as_of`` (and, if ``latest``, as ``health-latest.html``) write-then-rename.

    A reader (the docs server, a browser reload) never sees half a file.
    """
    dated, newest = report_paths(settings, as_of)
    dated.parent.mkdir(parents=True, exist_ok=True)
    targets = [dated, newest] if latest else [dated]
    for target in targets:
        partial = target.with_name(f".{target.name}.part")
        partial.write_text(html, encoding="utf-8")
        partial.replace(target)
    return dated
