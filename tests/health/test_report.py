"""The report's figures, sections and recommendations from known inputs (tests/health/seed.py), on real marts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import Engine

from tests.health.seed import Days
from vodflow.health.model import NO_DATA, NOT_ENOUGH_DATA
from vodflow.health.render import render_html
from vodflow.health.report import HealthReport, build_report
from vodflow.net import free_port
from vodflow.settings import get_settings

SECTIONS = ("recommendations", "freshness", "completeness", "eidr", "quarantine", "runs", "supply", "dbt", "alerts")
#: Nothing listens here: the alerts section must say so and the report still render.
DEAD_API = f"http://127.0.0.1:{free_port()}/api"


class _Text(HTMLParser):
    """The page's text by section id, and every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self.current: str | None = None
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section":
            self.current = values.get("id")
            self.sections[self.current or ""] = []
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]

    def handle_data(self, data: str) -> None:
        if self.current and data.strip():
            self.sections[self.current].append(data.strip())


def _page(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def past(warehouse_with_history: Engine, history_days: Days) -> HealthReport:
    return build_report(warehouse_with_history, get_settings(), history_days.past, 7, api_url=DEAD_API)


@pytest.fixture(scope="module")
def today(warehouse_with_history: Engine, history_days: Days) -> HealthReport:
    return build_report(warehouse_with_history, get_settings(), history_days.today, 7, api_url=DEAD_API)


def test_every_section_renders_offline(past: HealthReport) -> None:
    page = _page(render_html(past))
    assert list(page.sections) == list(SECTIONS)
    assert all(url.startswith(("#", "data:image/png;base64,")) for url in page.urls), page.urls
    assert sum(url.startswith("data:image/png") for url in page.urls) >= 8


def test_a_twelve_percent_quarantine_reason_gets_its_recommendation(past: HealthReport) -> None:
    texts = [item.text for item in past.recommendations]
    assert (
        "harbor: 12 % of rows quarantined for missing title (12 of 100) — ask for the field or default it in staging"
        in texts
    )
    assert _page(render_html(past)).sections["quarantine"][:0] == []
    assert "missing title" in " ".join(_page(render_html(past)).sections["quarantine"])


def test_recommendations_follow_the_figures(past: HealthReport) -> None:
    rules = {(item.rule, item.provider) for item in past.recommendations}
    assert rules >= {
        ("run_success_rate", "atlas"),  # 1 of 2 runs failed
        ("completeness", "harbor"),  # no runtime
        ("eidr_coverage", "harbor"),  # no EIDR ID
        ("review_backlog", None),  # 5 reviews waiting 11 days
        ("qc_failure_rate", "lumina"),  # 2 of 12 failed QC
        ("anomaly", "lumina"),
        ("freshness", "atlas"),  # newest row 62 h old, warn after 48 h
        ("freshness", "supply_chain.events"),
        ("no_history", "meridian"),
    }
    assert ("quarantine_reason_share", "lumina") not in rules  # its 50 % day is after T-2
    assert ("completeness", "lumina") not in rules
    assert ("completeness", "atlas") not in rules  # series have no runtime of their own
    assert "harbor: no asset has a runtime — ask the provider to send it" in [i.text for i in past.recommendations]
    atlas = next(item for item in past.recommendations if item.rule == "run_success_rate")
    assert atlas.text.startswith("atlas: 1 of 2 runs failed (most often: HTTP 503 from atlas page 3)")


def test_headline_figures(past: HealthReport) -> None:
    assert past.headline() == {
        "assets in the catalogue": "218",  # lumina 6 days x 20 (T-8..T-2 without T-5) + harbor 88 + atlas 10
        "EIDR coverage": f"{120 / 218 * 100:.1f} %",
        "ingest runs succeeded": "9 of 10",
        "rows quarantined": f"{12 / (120 + 100 + 10 + 35) * 100:.1f} %",
        "stale sources": "3 of 7",
        "dbt last build": NO_DATA,  # the only build recorded ran after T-2's end
        "anomalies": "1",
        "recommendations": str(len(past.recommendations)),
    }


def test_a_day_without_data_shows_no_data_and_a_provider_without_history_not_enough_data(
    past: HealthReport, history_days: Days
) -> None:
    html = render_html(past)
    page = _page(html)
    runs = page.sections["runs"]
    columns = [*past.providers, "events"]
    assert columns == ["atlas", "harbor", "lumina", "meridian", "events"]
    gap_row = runs.index(history_days.gap_day.isoformat())
    cells = dict(zip(columns, runs[gap_row + 1 : gap_row + 6], strict=True))
    assert cells == {
        "atlas": NO_DATA,
        "harbor": NO_DATA,
        "lumina": NO_DATA,
        "meridian": NOT_ENOUGH_DATA,
        "events": NO_DATA,
    }
    next_day = runs.index((history_days.gap_day + timedelta(days=1)).isoformat())
    assert runs[next_day + 3] == "20"  # lumina ran again
    for section in ("completeness", "eidr", "runs", "supply", "freshness"):
        text = page.sections[section]
        assert text[text.index("meridian") + 1] == NOT_ENOUGH_DATA, section
    assert "0 %" not in " ".join(page.sections["completeness"][page.sections["completeness"].index("meridian") :][:6])


def test_a_past_day_excludes_what_came_later(past: HealthReport, today: HealthReport, history_days: Days) -> None:
    assert [r.provider for r in past.quarantine.reasons] == ["harbor"]
    assert {(r.provider, r.check) for r in today.quarantine.reasons} == {
        ("harbor", "title_not_blank"),
        ("lumina", "release_year_plausible"),
    }
    assert [a.metric_date for a in past.anomalies.anomalies] == [history_days.today - timedelta(days=3)]
    assert len(today.anomalies.anomalies) == 2
    lumina_past = next(s for s in past.runs.summaries if s.provider == "lumina")
    lumina_today = next(s for s in today.runs.summaries if s.provider == "lumina")
    # T-8..T-2 without the gap day; T-6..T without the gap day (T-1's run counts, T-8 and T-7 are out).
    assert (lumina_past.runs, lumina_today.runs) == (6, 5)
    assert (lumina_past.quarantined, lumina_today.quarantined) == (0, 25)
    assert past.catalogue.total_assets == 218 and today.catalogue.total_assets == 243
    # over today's window lumina received 4 x 20 + 50 rows
    assert any(
        item.text.startswith("lumina: 19 % of rows quarantined for implausible year (25 of 130)")
        for item in today.recommendations
    )


def test_freshness_against_the_dbt_thresholds(past: HealthReport) -> None:
    rows = {row.label: row for row in past.freshness.sources}
    assert rows["lumina"].age == timedelta(hours=14) and rows["lumina"].status == "ok"
    assert rows["lumina"].warn_after == timedelta(hours=24)  # from _lumina__sources.yml
    assert (rows["atlas"].age, rows["atlas"].status) == (timedelta(hours=62), "warn")
    assert rows["supply_chain.events"].status == "error"
    assert rows["meridian"].status == "never loaded"
    lags = {lag.provider: lag for lag in past.freshness.lags}
    assert (lags["lumina"].runs, lags["lumina"].p50) == (1, 1200.0)


def test_eidr_and_supply_chain_figures(past: HealthReport) -> None:
    eidr = {row.provider: row for row in past.catalogue.eidr}
    assert eidr["harbor"].counts == {"in review": 5, "unmatched": 83}
    assert eidr["lumina"].coverage == 1.0
    backlog = past.catalogue.backlog
    assert [(b.provider, b.pending) for b in backlog] == [("harbor", 5)]
    assert backlog[0].oldest_age_days == pytest.approx(10 + 14 / 24)
    supply = next(s for s in past.supply.summaries if s.provider == "lumina")
    # 12 deliveries of known films and one of an asset nobody sent (still pending QC)
    assert (supply.deliveries, supply.qc_decided, supply.qc_failed, supply.published) == (13, 12, 2, 10)
    assert (supply.lead_p50, supply.top_failure) == (6.5, "audio_sync")


def test_the_last_dbt_build_and_a_dead_prefect_server(today: HealthReport) -> None:
    assert today.dbt.unavailable is None
    assert today.dbt.failures == []
    assert [(w.name, w.status) for w in today.dbt.warnings] == [
        ("relationships_fct_supply_chain_asset_key__asset_key__ref_dim_assets_", "warn")
    ]
    assert today.dbt.models.get("success", 0) >= 10
    assert today.alerts.unavailable == "the Prefect server could not be asked (ConnectError)"
    page = _page(render_html(today))
    assert "the Prefect server could not be asked (ConnectError)" in " ".join(page.sections["alerts"])


def test_no_secret_in_the_page(past: HealthReport) -> None:
    html = render_html(past)
    password = (get_settings().data_dir / "pg" / "superuser-password").read_text().strip()
    assert password not in html
    assert not re.search(r"postgresql(\+psycopg)?://", html)


def test_the_history_waits_out_a_midnight_that_would_fall_during_the_tests() -> None:
    noon = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert Days.from_now(lambda: noon, sleep=lambda s: pytest.fail(f"slept {s} s at noon")) == Days(noon.date())
    slept: list[float] = []
    clock = iter([datetime(2026, 3, 1, 23, 59, tzinfo=UTC), datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC)])
    assert Days.from_now(lambda: next(clock), sleep=slept.append) == Days(date(2026, 3, 2))
    assert slept == [61.0]
