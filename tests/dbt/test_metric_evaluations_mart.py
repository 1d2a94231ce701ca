"""marts.fct_metric_evaluations: every anomaly-check verdict, re-evaluations merged, gaps kept as gaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from tests.dbt.conftest import run_dbt

INSERT = text(
    """
    insert into ops.metric_evaluations (check_name, provider, metric_date, metric, method, direction, value,
        expected, expected_low, expected_high, score, history_points, verdict, severity, channel, detail)
    values (:check, :provider, :day, 'deliveries', 'seasonal_robust', 'drop', :value, 40, 30, 50, :score, 14,
        :verdict, 'warning', 'slack', :detail)
    on conflict (check_name, provider, metric_date) do update
       set value = excluded.value, score = excluded.score, verdict = excluded.verdict,
           detail = excluded.detail, evaluated_at = now()
    """
)


def _verdict(check: str, day: str, value: float | None, score: float | None, verdict: str) -> dict[str, Any]:
    return {
        "check": check,
        "provider": "lumina",
        "day": day,
        "value": value,
        "score": score,
        "verdict": verdict,
        "detail": "no metrics row" if verdict == "data_gap" else "",
    }


def _mart(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    "select check_name, metric_date::text, metric_value::float, verdict, is_anomaly, is_data_gap "
                    "from marts.fct_metric_evaluations order by 1, 2"
                )
            )
        ]


def test_verdicts_reach_the_mart_and_a_re_evaluation_replaces_its_row(warehouse: Engine, tmp_path: Path) -> None:
    with warehouse.begin() as conn:
        conn.execute(INSERT, _verdict("deliveries_drop", "2026-03-01", 41, 0.2, "ok"))
        conn.execute(INSERT, _verdict("deliveries_drop", "2026-03-02", 3, -6.1, "anomaly"))
        conn.execute(INSERT, _verdict("deliveries_drop", "2026-03-03", None, None, "data_gap"))
    build = ["build", "--select", "+fct_metric_evaluations"]
    first = run_dbt(build, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _mart(warehouse) == [
        ("deliveries_drop", "2026-03-01", 41.0, "ok", False, False),
        ("deliveries_drop", "2026-03-02", 3.0, "anomaly", True, False),
        ("deliveries_drop", "2026-03-03", None, "data_gap", False, True),
    ]
    with warehouse.begin() as conn:  # the day is re-judged once its late data arrived
        conn.execute(INSERT, _verdict("deliveries_drop", "2026-03-03", 39, -0.1, "ok"))
    again = run_dbt(build, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _mart(warehouse)[-1] == ("deliveries_drop", "2026-03-03", 39.0, "ok", False, False)
    assert len(_mart(warehouse)) == 3
