"""Turn a :class:`~vodflow.health.report.HealthReport` into the page: display strings, tables and plots per section.

Every figure goes through one of the formatters here, which is where a missing value becomes "no data" and a
provider without history "not enough data"; the template never sees a None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import jinja2

from vodflow.health import plots
from vodflow.health.catalogue import FIELDS
from vodflow.health.model import NO_DATA, NOT_ENOUGH_DATA
from vodflow.health.recommend import Recommendation
from vodflow.health.report import HealthReport
from vodflow.health.template import PAGE

EIDR_ORDER = ("provided", "matched", "in review", "unmatched")


@dataclass
class Table:
    """A table of display strings."""

    columns: Sequence[str]
    rows: list[list[str]]
    title: str | None = None
    empty: str = NO_DATA


@dataclass
class Plot:
    """A plot (``data:`` URI, or None when there was nothing to draw) and its caption."""

    uri: str | None
    caption: str


@dataclass
class Block:
    """One section of the page."""

    anchor: str
    title: str
    intro: str = ""
    unavailable: str | None = None
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    items: list[Recommendation] | None = None


def pct(value: float | None) -> str:
    """A share as a percentage, "no data" for None."""
    return NO_DATA if value is None else f"{value * 100:.1f} %"


def number(value: float | None, digits: int = 0) -> str:
    """A number with thousands separators, "no data" for None."""
    return NO_DATA if value is None else f"{value:,.{digits}f}"


def duration(seconds: float | None) -> str:
    """Seconds as s / min / h, "no data" for None."""
    if seconds is None:
        return NO_DATA
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def age(value: timedelta | None) -> str:
    """An age or threshold, "no data" for None."""
    return NO_DATA if value is None else duration(value.total_seconds())


def _utc(value: datetime | None) -> str:
    return NO_DATA if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _no_history(report: HealthReport, provider: str, width: int) -> list[str] | None:
    """The row of a provider without history: its name, then "not enough data" in every column."""
    if report.has_history(provider):
        return None
    return [provider, *([NOT_ENOUGH_DATA] * (width - 1))]


def recommendations_block(report: HealthReport) -> Block:
    """The recommendations, most severe first."""
    return Block(
        "recommendations",
        "Recommendations",
        "Derived from the figures below by fixed rules (docs/health-report.md lists them and their thresholds).",
        items=report.recommendations,
    )


def freshness_block(report: HealthReport) -> Block:
    """Freshness per source against the dbt project's thresholds; ingest lag over the last day."""
    section = report.freshness
    block = Block(
        "freshness",
        "Freshness and lag",
        "Age of each source's newest row at the report's end, against the thresholds in the dbt project's "
        "sources (what `dbt source freshness` checks). Lag: from the newest change a run received to its commit, "
        "over the runs of the last 24 hours; the marts are built by the same run right after.",
        unavailable=section.unavailable,
    )
    rows = []
    for row in section.sources:
        if row.age is None and row.label in report.providers and not report.has_history(row.label):
            rows.append([row.label, NOT_ENOUGH_DATA, NOT_ENOUGH_DATA, age(row.warn_after), age(row.error_after), "-"])
            continue
        status = row.status if row.age is not None else NO_DATA
        rows.append(
            [row.label, _utc(row.last_loaded_at), age(row.age), age(row.warn_after), age(row.error_after), status]
        )
    block.tables.append(Table(["source", "newest row", "age", "warn after", "error after", "status"], rows))
    lag_rows = []
    for lag in section.lags:
        missing = _no_history(report, lag.provider, 4)
        lag_rows.append(missing or [lag.provider, str(lag.runs), duration(lag.p50), duration(lag.p95)])
    block.tables.append(
        Table(["provider", "runs that wrote rows", "lag p50", "lag p95"], lag_rows, "Ingest lag, last 24 h")
    )
    if report.dbt.elapsed_seconds is not None:
        block.notes.append(f"The last dbt build took {duration(report.dbt.elapsed_seconds)}.")
    return block


def catalogue_blocks(report: HealthReport) -> list[Block]:
    """Completeness and EIDR coverage, per provider."""
    section = report.catalogue
    completeness = Block(
        "completeness",
        "Completeness",
        "Share of the catalogue's assets (first loaded before the report's end) that have each field; runtime "
        "over films and episodes (n/a: only series and seasons).",
        unavailable=section.unavailable,
    )
    by_provider = {row.provider: row for row in section.completeness}
    rows = []
    for provider in report.providers:
        missing = _no_history(report, provider, 2 + len(FIELDS))
        row = by_provider.get(provider)
        if missing or row is None:
            rows.append(missing or [provider, "0", *([NO_DATA] * len(FIELDS))])
            continue
        shares = [pct(row.shares[name]) if row.shares[name] is not None else "n/a" for name in FIELDS]
        rows.append([provider, number(row.assets), *shares])
    completeness.tables.append(Table(["provider", "assets", *FIELDS.values()], rows))
    completeness.plots.append(
        Plot(
            plots.grouped_bars(
                {
                    row.provider: {FIELDS[n]: s for n, s in row.shares.items() if s is not None}
                    for row in section.completeness
                },
                "assets with the field",
                percent=True,
            ),
            "Share of assets with each field, per provider",
        )
    )
    eidr = Block(
        "eidr",
        "EIDR coverage",
        "Assets by how they got their EIDR ID: provided by the provider, matched in the registry, waiting for a "
        "person's review, or unmatched. The review backlog is the queue at the report's end.",
        unavailable=section.unavailable,
    )
    coverage = {row.provider: row for row in section.eidr}
    rows = []
    for provider in report.providers:
        missing = _no_history(report, provider, 3 + len(EIDR_ORDER))
        outcome = coverage.get(provider)
        if missing or outcome is None:
            rows.append(missing or [provider, "0", *([NO_DATA] * (len(EIDR_ORDER) + 1))])
            continue
        counts = [number(outcome.counts.get(k, 0)) for k in EIDR_ORDER]
        rows.append([provider, number(outcome.assets), *counts, pct(outcome.coverage)])
    eidr.tables.append(Table(["provider", "assets", *EIDR_ORDER, "with an EIDR ID"], rows))
    backlog = [
        [row.provider, number(row.pending), f"{row.median_age_days or 0:.1f} d", f"{row.oldest_age_days or 0:.1f} d"]
        for row in section.backlog
    ]
    eidr.tables.append(
        Table(["provider", "waiting", "median age", "oldest"], backlog, "Review backlog", empty="no review waiting")
    )
    eidr.plots.append(
        Plot(
            plots.stacked_bars({r.provider: r.counts for r in section.eidr}, EIDR_ORDER, "assets"),
            "EIDR outcome per provider",
        )
    )
    return [completeness, eidr]


def _daily_table(report: HealthReport, value: str) -> Table:
    providers = [*report.providers, *(feed for feed in report.feeds if report.has_history(feed))]
    rows = []
    for day in reversed(report.window.day_list):
        cells = [day.isoformat()]
        for provider in providers:
            if not report.has_history(provider):
                cells.append(NOT_ENOUGH_DATA)
                continue
            run_day = report.runs.day(provider, day)
            if run_day is None or run_day.received is None or run_day.quarantined is None:
                cells.append(NO_DATA if run_day is None else f"{NO_DATA} ({run_day.failed} failed runs)")
            elif value == "received":
                cells.append(number(run_day.received))
            else:
                share = run_day.quarantined / run_day.received if run_day.received else None
                cells.append(f"{number(run_day.quarantined)} ({pct(share)})")
        rows.append(cells)
    return Table(["day (UTC)", *providers], rows)


def _series(report: HealthReport, value: str) -> dict[str, dict[date, float | None]]:
    series: dict[str, dict[date, float | None]] = {}
    for row in report.runs.daily:
        if row.received is None:
            continue
        if value == "received":
            series.setdefault(row.provider, {})[row.day] = float(row.received)
        elif row.received:
            series.setdefault(row.provider, {})[row.day] = (row.quarantined or 0) / row.received
    return series


def quarantine_block(report: HealthReport) -> Block:
    """Quarantined rows per day and the top reasons per provider."""
    section = report.quarantine
    block = Block(
        "quarantine",
        "Quarantine",
        "Rows that failed validation: per day, the rows quarantined by the succeeded runs (and their share of the "
        "rows received); per provider, the rules the rows first quarantined in the window broke.",
        unavailable=section.unavailable or report.runs.unavailable,
    )
    received = {s.provider: s.received for s in report.runs.summaries}
    rows = []
    for provider in report.providers:
        missing = _no_history(report, provider, 4)
        if missing:
            rows.append(missing)
            continue
        top = section.top(provider, 5)
        if not top:
            rows.append([provider, "none", "0", pct(0.0 if received.get(provider) else None)])
        for reason in top:
            share = reason.rows / received[provider] if received.get(provider) else None
            rows.append([provider, reason.label, number(reason.rows), pct(share)])
    block.tables.append(Table(["provider", "reason", "rows", "of received"], rows, "Top reasons"))
    block.tables.append(_daily_table(report, "quarantined"))
    block.tables[-1].title = "Quarantined rows per day"
    block.plots.append(
        Plot(
            plots.daily_lines(_series(report, "share"), report.window.day_list, "quarantined share", percent=True),
            "Quarantined share of received rows per day (gaps: no data)",
        )
    )
    block.plots.append(
        Plot(
            plots.horizontal_bars(
                {
                    f"{r.provider}: {r.label}": r.rows / received[r.provider]
                    for r in section.reasons[:12]
                    if received.get(r.provider)
                },
                "of received rows",
                percent=True,
            ),
            "Top quarantine reasons",
        )
    )
    return block


def runs_block(report: HealthReport) -> Block:
    """Ingest runs: success rate, duration, rows per run; received rows per day."""
    section = report.runs
    block = Block(
        "runs",
        "Ingest runs",
        "Every run that finished in the window (the load audit, through marts.fct_ingest_runs).",
        unavailable=section.unavailable,
    )
    summaries = {s.provider: s for s in section.summaries}
    rows = []
    for provider in [*report.providers, *report.feeds]:
        missing = _no_history(report, provider, 7)
        summary = summaries.get(provider)
        if missing:
            if provider in report.providers:
                rows.append(missing)
            continue
        if summary is None:
            rows.append([provider, "0", NO_DATA, NO_DATA, NO_DATA, NO_DATA, NO_DATA])
            continue
        rows.append(
            [
                provider,
                number(summary.runs),
                pct(summary.success_rate),
                duration(summary.duration_p50),
                duration(summary.duration_p95),
                number(summary.received_per_run),
                number(summary.written_per_run),
            ]
        )
    block.tables.append(
        Table(
            [
                "provider",
                "runs",
                "succeeded",
                "duration p50",
                "duration p95",
                "rows received per run",
                "rows written per run",
            ],
            rows,
        )
    )
    errors = [[s.provider, s.top_error] for s in section.summaries if s.top_error]
    if errors:
        block.tables.append(Table(["provider", "most frequent error"], [[p, str(e)] for p, e in errors], "Failures"))
    daily = _daily_table(report, "received")
    daily.title = "Rows received per day"
    block.tables.append(daily)
    block.plots.append(
        Plot(
            plots.daily_lines(_series(report, "received"), report.window.day_list, "rows received"),
            "Rows received per day (gaps: no data)",
        )
    )
    block.plots.append(Plot(plots.distributions(section.durations, "seconds"), "Run durations per provider"))
    return block


def supply_block(report: HealthReport) -> Block:
    """Deliveries, QC failure rates and lead times per provider."""
    section = report.supply
    block = Block(
        "supply",
        "Supply chain",
        "Deliveries that arrived in the window; QC verdicts and publications made before the report's end. Lead "
        "time: delivery to first publication after a QC pass.",
        unavailable=section.unavailable,
    )
    summaries = {s.provider: s for s in section.summaries}
    rows = []
    for provider in report.providers:
        missing = _no_history(report, provider, 7)
        summary = summaries.get(provider)
        if missing or summary is None:
            rows.append(missing or [provider, "0", NO_DATA, NO_DATA, NO_DATA, NO_DATA, NO_DATA])
            continue
        rows.append(
            [
                provider,
                number(summary.deliveries),
                number(summary.qc_decided),
                pct(summary.qc_failure_rate),
                summary.top_failure or "-",
                age(None if summary.lead_p50 is None else timedelta(hours=summary.lead_p50)),
                age(None if summary.lead_p95 is None else timedelta(hours=summary.lead_p95)),
            ]
        )
    block.tables.append(
        Table(
            [
                "provider",
                "deliveries",
                "QC verdicts",
                "QC failure rate",
                "top QC failure",
                "lead time p50",
                "lead time p95",
            ],
            rows,
        )
    )
    rates: dict[str, dict[date, float | None]] = {}
    for (provider, day), (_, decided, failed) in section.daily.items():
        if decided:
            rates.setdefault(provider, {})[day] = failed / decided
    block.plots.append(
        Plot(
            plots.daily_lines(rates, report.window.day_list, "QC failure rate", percent=True),
            "QC failure rate per day of delivery (gaps: no verdict)",
        )
    )
    block.plots.append(
        Plot(plots.distributions(section.lead_times, "hours"), "Lead times (delivery to publication) per provider")
    )
    return block


def dbt_block(report: HealthReport) -> Block:
    """The last dbt build."""
    section = report.dbt
    block = Block(
        "dbt",
        "dbt",
        "The last dbt build before the report's end: its models and tests by status, and what failed or warned.",
        unavailable=section.unavailable,
    )
    if section.unavailable:
        return block
    block.notes.append(
        f"{section.command}, finished {_utc(section.generated_at)}, took {duration(section.elapsed_seconds)}."
    )
    block.tables.append(
        Table(
            ["kind", *sorted(set(section.models) | set(section.tests))],
            [
                ["models", *(str(section.models.get(s, 0)) for s in sorted(set(section.models) | set(section.tests)))],
                ["tests", *(str(section.tests.get(s, 0)) for s in sorted(set(section.models) | set(section.tests)))],
            ],
            "Nodes by status",
        )
    )
    problems = [
        [p.status, p.resource_type, p.name, "" if p.failures is None else str(p.failures), (p.message or "")[:200]]
        for p in [*section.failures, *section.warnings]
    ]
    block.tables.append(
        Table(["status", "kind", "name", "failing rows", "message"], problems, "Failures and warnings", empty="none")
    )
    return block


def alerts_block(report: HealthReport) -> Block:
    """Anomaly verdicts of the window and the alerts the Prefect server recorded."""
    anomalies, alerts = report.anomalies, report.alerts
    block = Block(
        "alerts",
        "Anomalies and alerts",
        "Anomaly-check verdicts on the window's days (ops.metric_evaluations) and alert events on the Prefect "
        "server in the window.",
        unavailable=anomalies.unavailable,
    )
    verdicts = ["ok", "anomaly", "not_enough_data", "data_gap"]
    block.tables.append(
        Table(
            ["verdict", "count"],
            [[v, str(anomalies.verdicts.get(v, 0))] for v in verdicts] if anomalies.verdicts else [],
            "Verdicts",
            empty="no verdicts recorded in the window (no data)",
        )
    )
    block.tables.append(
        Table(
            ["day", "check", "provider", "metric", "value", "expected range", "severity"],
            [
                [
                    a.metric_date.isoformat(),
                    a.check,
                    a.provider,
                    a.metric,
                    number(a.value, 4),
                    f"{number(a.expected_low, 4)} – {number(a.expected_high, 4)}",
                    a.severity,
                ]
                for a in anomalies.anomalies
            ],
            "Anomalies",
            empty="no anomaly in the window",
        )
    )
    if alerts.unavailable:
        block.notes.append(f"Alerts: {alerts.unavailable}; the rest of the report is unaffected.")
    else:
        from vodflow.health.alerts import ALERT_EVENTS

        block.tables.append(
            Table(
                ["event", "what", "count"],
                [[name, ALERT_EVENTS.get(name, name), str(count)] for name, count in alerts.counts.items()],
                "Alert events",
            )
        )
        if alerts.failed:
            block.tables.append(
                Table(
                    ["when", "automation", "reason"],
                    [[_utc(f.occurred), f.automation, f.reason] for f in alerts.failed],
                    "Failed alert deliveries",
                )
            )
    return block


def blocks(report: HealthReport) -> list[Block]:
    """Every section, in reading order."""
    return [
        recommendations_block(report),
        freshness_block(report),
        *catalogue_blocks(report),
        quarantine_block(report),
        runs_block(report),
        supply_block(report),
        dbt_block(report),
        alerts_block(report),
    ]


def render_html(report: HealthReport) -> str:
    """The complete, self-contained page."""
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    return environment.from_string(PAGE).render(
        as_of=report.window.as_of.isoformat(),
        first_day=report.window.first_day.isoformat(),
        days=report.window.days,
        generated=_utc(report.generated_at),
        headline=report.headline(),
        blocks=blocks(report),
        gaps={NO_DATA, NOT_ENOUGH_DATA},
        statuses={"ok", "warn", "error"},
    )
