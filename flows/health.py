"""The ``health-check`` flow: the Data Health Check report for a day, as an HTML file and a Prefect artifact.

Reads the marts, the ops tables, dbt's last results and the Prefect server's alert events for the ``days`` days
ending on ``as_of`` (nothing after ``as_of``'s end counts, so a past day's report is reproducible), writes
``<data dir>/reports/health-<as_of>.html`` (and ``health-latest.html`` for today's), and publishes a markdown
artifact with the headline figures and the report's link. See docs/health-report.md.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.settings import get_current_settings

from vodflow.db.engine import get_engine
from vodflow.health.render import render_html
from vodflow.health.report import HealthReport, build_report, write_report
from vodflow.settings import Settings, get_settings

ARTIFACT_KEY = "health-check"
MAX_DAYS = 366
#: Where alert messages link to (docs/alerts.md); the flow fills it only while nobody has set it.
REPORT_URL_VARIABLE = "vodflow_health_report_url"
REPORT_URL_ENV = "VODFLOW_HEALTH_REPORT_URL"


def health_run_name() -> str:
    """``health/2026-11-29`` (or ``health/today``): the runs list reads as the day reported."""
    as_of = (flow_run.parameters or {}).get("as_of")
    return f"health/{as_of or 'today'}"


def report_url(settings: Settings, as_of: date, *, latest: bool) -> str:
    """The report's address: ``$VODFLOW_HEALTH_REPORT_URL`` for the latest one, else the stack's docs server."""
    base = os.environ.get(REPORT_URL_ENV, "").strip()
    if latest and base:
        return base
    name = "" if latest else f"health-{as_of.isoformat()}.html"
    return f"{settings.docs_url}health/{name}"


@task(name="read-health-figures", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10, timeout_seconds=600)
def read_task(settings: Settings, as_of: date, days: int, api_url: str | None) -> HealthReport:
    """Read every section (reads only: safe to retry)."""
    return build_report(get_engine(), settings, as_of, days, api_url=api_url)


def _publish_url(url: str) -> None:
    """Fill the alert messages' report link when it is empty; a value someone set is theirs to keep."""
    from prefect.variables import Variable

    if not Variable.get(REPORT_URL_VARIABLE, default=""):
        Variable.set(REPORT_URL_VARIABLE, url, overwrite=True)


def _markdown(report: HealthReport, url: str, path: str) -> str:
    lines = [
        f"# Data Health Check — {report.window.as_of}",
        "",
        f"Window {report.window.first_day} – {report.window.as_of} ({report.window.days} days). "
        f"[Open the report]({url}) (file `{path}`).",
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| {label} | {value} |" for label, value in report.headline().items()),
        "",
    ]
    if report.recommendations:
        lines += ["**Recommendations**", ""]
        lines += [f"- **{item.severity}** {item.text}" for item in report.recommendations[:10]]
    return "\n".join(lines)


@flow(
    name="health-check",
    description="The Data Health Check report: freshness, completeness, EIDR, quarantine, dbt, alerts, runs, "
    "supply chain and recommendations, as one HTML file.",
    flow_run_name=health_run_name,
    timeout_seconds=900,
    retries=0,
    log_prints=False,
)
def health_check(as_of: date | None = None, days: int = 30) -> dict[str, Any]:
    """Write the report for the ``days`` days ending on ``as_of`` (default: today, UTC).

    Args:
        as_of: The report's last day; a past day gives the report as it would have been at that day's end.
        days: The window's length in days.

    Returns:
        The report's day, file, URL, headline figures and recommendations.
    """
    logger = get_run_logger()
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, not {days}")
    settings = get_settings()
    today = datetime.now(UTC).date()
    last = as_of or today
    latest = last >= today
    report = read_task(settings, last, days, get_current_settings().api.url)
    path = write_report(render_html(report), settings, last, latest=latest)
    url = report_url(settings, last, latest=latest)
    if latest:
        _publish_url(url)
    headline = report.headline()
    logger.info("health report %s: %s", last, "; ".join(f"{k} {v}" for k, v in headline.items()))
    create_markdown_artifact(
        key=ARTIFACT_KEY, markdown=_markdown(report, url, str(path)), description=f"health report {last}"
    )
    return {
        "as_of": last.isoformat(),
        "days": days,
        "path": str(path),
        "url": url,
        "headline": headline,
        "recommendations": [item.text for item in report.recommendations],
        "unavailable": {
            name: reason
            for name, reason in (
                ("freshness", report.freshness.unavailable),
                ("catalogue", report.catalogue.unavailable),
                ("quarantine", report.quarantine.unavailable),
                ("runs", report.runs.unavailable),
                ("supply", report.supply.unavailable),
                ("dbt", report.dbt.unavailable),
                ("anomalies", report.anomalies.unavailable),
                ("alerts", report.alerts.unavailable),
            )
            if reason
        },
    }
