"""``vodflow anomaly validate | list`` on the command line (``check`` runs through the stack in tests/orchestration)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from vodflow.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's console reads COLUMNS once, when its module is first imported (by whichever test of this
    process came first): give it the width the assertions need, whatever the order."""
    from vodflow.cli import anomaly

    monkeypatch.setattr(anomaly.console, "width", 200)


def test_validate_names_every_problem_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "checks.yaml"
    bad.write_text("version: 1\nchecks:\n  - name: x\n    metric: delivries\n    direction: drop\n    method: magic\n")
    result = runner.invoke(app, ["anomaly", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4: unknown metric 'delivries'; known: deliveries," in result.output
    assert f"{bad}:6: unknown method 'magic'; known: seasonal_robust, static_bounds" in result.output


def test_validate_lists_the_shipped_checks() -> None:
    result = runner.invoke(app, ["anomaly", "validate"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "8 checks" in result.output and "deliveries" in result.output


def test_list_shows_recorded_verdicts_and_refuses_unknown_ones(db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "insert into ops.metric_evaluations (check_name, provider, metric_date, metric, method, direction, "
                "value, expected_low, expected_high, score, history_points, verdict, severity, channel) values "
                "('deliveries_drop', 'meridian', current_date - 1, 'deliveries', 'seasonal_robust', 'drop', "
                "2, 30, 50, -7.25, 14, 'anomaly', 'critical', 'slack')"
            )
        )
    result = runner.invoke(app, ["anomaly", "list", "--verdict", "anomaly"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "deliveries_drop" in result.output and "meridian" in result.output and "30..50" in result.output
    assert "-7.25" in result.output
    refused = runner.invoke(app, ["anomaly", "list", "--verdict", "weird"])
    assert refused.exit_code == 1 and "unknown verdict weird; known: ok, anomaly" in refused.output


def test_automations_apply_refuses_a_bad_check_file_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "checks.yaml"
    bad.write_text("version: 1\nchecks:\n  - name: x\n    metric: deliveries\n    direction: sideways\n")
    result = runner.invoke(
        app,
        ["automations", "apply"],
        env={"VODFLOW_ANOMALY_CHECKS": str(bad), "PREFECT_API_URL": "http://127.0.0.1:9/api"},
    )
    assert result.exit_code == 1
    assert f"{bad}:5: " in result.output and "sideways" in result.output
