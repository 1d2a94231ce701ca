"""The health-check flow and ``vodflow health`` on a real Prefect server: files, artifact, link, alert events."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.events import emit_event
from prefect.settings import get_current_settings
from prefect.variables import Variable
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.health.seed import Days
from tests.health.test_report import _page
from vodflow.cli import app
from vodflow.health.alerts import read_alerts
from vodflow.health.model import Window
from vodflow.settings import get_settings


def _anomaly_events(api_url: str, today: date) -> int:
    window = Window.ending_on(today, 1, datetime.now(UTC))
    return int(read_alerts(api_url, window).counts.get("vodflow.metric.anomaly") or 0)


def _wait_for_anomaly_events(api_url: str, today: date, count: int) -> None:
    """Events reach the server's store asynchronously: wait until the report can count the one just sent."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _anomaly_events(api_url, today) >= count:
            return
        time.sleep(0.5)
    raise AssertionError("the anomaly event never reached the server's event store")


def test_the_flow_writes_the_report_the_artifact_and_the_link(
    warehouse_with_history: Engine, prefect_server: None, history_days: Days
) -> None:
    from flows.health import health_check

    settings = get_settings()
    api_url = str(get_current_settings().api.url)
    # The session's server may hold anomaly events of other tests: the report must count ours on top of them.
    today = history_days.today
    expected = _anomaly_events(api_url, today) + 1
    emit_event("vodflow.metric.anomaly", resource={"prefect.resource.id": "vodflow.metric.deliveries"})
    _wait_for_anomaly_events(api_url, today, expected)

    summary = health_check(days=7)

    reports = settings.data_dir / "reports"
    assert summary["path"] == str(reports / f"health-{today.isoformat()}.html")
    assert summary["url"] == f"{settings.docs_url}health/"
    latest = (reports / "health-latest.html").read_text()
    assert latest == (reports / f"health-{today.isoformat()}.html").read_text()
    assert summary["headline"]["assets in the catalogue"] == "243"
    assert "harbor: 12 % of rows quarantined for missing title (12 of 100)" in " ".join(summary["recommendations"])
    assert "alerts" not in summary["unavailable"]
    alerts = _page(latest).sections["alerts"]
    anomaly_row = alerts.index("vodflow.metric.anomaly")
    assert alerts[anomaly_row + 1 : anomaly_row + 3] == ["metric anomalies announced", str(expected)]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["health-check"])))
    markdown = str(artifacts[0].data)
    assert f"# Data Health Check — {today.isoformat()}" in markdown
    assert "| assets in the catalogue | 243 |" in markdown
    assert f"[Open the report]({settings.docs_url}health/)" in markdown
    # The alert messages' link: published because nobody had set it.
    assert Variable.get("vodflow_health_report_url") == f"{settings.docs_url}health/"


def test_vodflow_health_for_a_past_day(
    warehouse_with_history: Engine, prefect_server: None, history_days: Days
) -> None:
    past = history_days.past
    settings = get_settings()
    latest = settings.data_dir / "reports" / "health-latest.html"
    before = latest.read_text() if latest.exists() else None

    result = CliRunner().invoke(app, ["health", "--as-of", past.isoformat(), "--days", "7", "--no-open"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Data Health Check {past.isoformat()} (7 days)"
    assert "  assets in the catalogue   218" in lines
    assert "  dbt last build            no data" in lines
    assert any(line.startswith("  - harbor: 12 % of rows quarantined for missing title") for line in lines)
    dated = settings.data_dir / "reports" / f"health-{past.isoformat()}.html"
    assert f"report  {dated}" in lines
    assert f"Data Health Check — {past.isoformat()}" in dated.read_text()
    # A past day's report never replaces the latest one that alerts link to.
    assert (latest.read_text() if latest.exists() else None) == before
