"""The check file: the packaged defaults load, and every mistake is refused with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from vodflow.anomaly.checks import CHECKS_ENV, METRICS, ChecksError, load_checks, parse_checks

GOOD = """\
version: 1
defaults:
  sensitivity: 3
  min_history: 7
checks:
  - name: deliveries_drop
    metric: deliveries
    direction: drop
    scale_floor: poisson
  - name: match_floor
    metric: eidr_match_rate
    method: static_bounds
    direction: drop
    low: 0.9
    providers: [lumina, atlas]
"""


def _error(text: str) -> str:
    with pytest.raises(ChecksError) as caught:
        parse_checks(text, "checks.yaml")
    return str(caught.value)


def test_the_packaged_defaults_cover_the_issue_metrics() -> None:
    checks = load_checks()
    watched = {check.metric for check in checks}
    assert {
        "deliveries",
        "new_assets",
        "quarantine_share",
        "eidr_match_rate",
        "qc_failure_rate",
        "median_lead_time_hours",
        "ingest_lag_seconds",
    } <= watched
    assert {check.method for check in checks} == {"seasonal_robust", "static_bounds"}
    robust = [c for c in checks if c.method == "seasonal_robust"]
    assert all((c.sensitivity, c.training_days, c.min_history) == (3.0, 14, 7) for c in robust)
    assert len({check.name for check in checks}) == len(checks)


def test_a_good_file_parses_with_defaults_and_lines() -> None:
    first, second = parse_checks(GOOD)
    assert (first.name, first.metric, first.direction, first.scale_floor, first.sensitivity) == (
        "deliveries_drop",
        "deliveries",
        "drop",
        "poisson",
        3.0,
    )
    assert first.line == 6 and second.line == 10
    assert second.low == 0.9 and second.providers == ("lumina", "atlas")
    assert second.applies_to("lumina") and not second.applies_to("harbor")


def test_an_unknown_metric_is_refused_with_its_line() -> None:
    message = _error(GOOD.replace("metric: deliveries", "metric: delivries"))
    assert message.startswith("checks.yaml:7: unknown metric 'delivries'; known: deliveries, redeliveries")
    assert all(metric in message for metric in METRICS)


def test_an_unknown_method_is_refused_with_its_line() -> None:
    message = _error(GOOD.replace("method: static_bounds", "method: prophet"))
    assert message == "checks.yaml:12: unknown method 'prophet'; known: seasonal_robust, static_bounds"


def test_every_problem_is_named_at_once() -> None:
    text = GOOD.replace("direction: drop\n    scale_floor", "direction: down\n    scale_floor").replace(
        "low: 0.9", "low: high"
    )
    problems = _error(text + "    colour: red\n").splitlines()
    assert problems == [
        "checks.yaml:8: unknown direction 'down'; known: drop, spike, both",
        "checks.yaml:14: low must be a number, not 'high'",
        "checks.yaml:16: unknown key 'colour' in a check; known: " + problems[2].split("known: ")[1],
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 2\nchecks: []\n", "checks.yaml:1: version must be 1"),
        ("- a\n", "checks.yaml:1: a check file is a mapping"),
        ("version: 1\nchecks:\n  - name: x\n    metric: [\n", "not valid YAML"),
        ("version: 1\nchecks: []\n", "checks.yaml:2: checks must be a non-empty list"),
        ("version: 1\nchecks:\n  - metric: deliveries\n    direction: drop\n", "checks.yaml:3: a check needs name"),
        (GOOD.replace("    low: 0.9\n", ""), "checks.yaml:10: static_bounds watching drops needs 'low'"),
        (GOOD.replace("scale_floor: poisson", "low: 3"), "checks.yaml:6: low and high belong to static_bounds"),
        (GOOD.replace("min_history: 7", "min_history: 30"), "min_history cannot exceed training_days"),
        (GOOD.replace("min_history: 7", "min_history: 7.5"), "checks.yaml:4: min_history must be an integer"),
        (GOOD.replace("sensitivity: 3", "sensitivity: -1"), "checks.yaml:3: sensitivity must be at least 0"),
        (GOOD.replace("name: match_floor", "name: deliveries_drop"), "already defined on line 6"),
        (GOOD.replace("  - name: deliveries_drop", "  - name: d\n    grain: hour"), "unknown grain 'hour'"),
        (GOOD + "extra: 1\n", "checks.yaml:16: unknown key 'extra'"),
    ],
)
def test_mistakes_are_refused(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_the_environment_variable_replaces_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv(CHECKS_ENV, str(path))
    assert [check.name for check in load_checks()] == ["deliveries_drop", "match_floor"]
    path.write_text(GOOD.replace("metric: deliveries", "metric: delivries"), encoding="utf-8")
    with pytest.raises(ChecksError, match=rf"^{path}:7: unknown metric 'delivries'"):
        load_checks()
    monkeypatch.setenv(CHECKS_ENV, str(tmp_path / "missing.yaml"))
    with pytest.raises(ChecksError, match="cannot read the check file"):
        load_checks()


def test_a_volume_gate_needs_both_fields_and_binomial_needs_a_volume() -> None:
    assert "volume_metric and min_volume go together" in _error(
        GOOD.replace("    low: 0.9\n", "    low: 0.9\n    min_volume: 5\n")
    )
    assert "binomial needs volume_metric" in _error(GOOD.replace("scale_floor: poisson", "scale_floor: binomial"))
    assert "unknown volume_metric 'assets'" in _error(
        GOOD.replace("    low: 0.9\n", "    low: 0.9\n    volume_metric: assets\n    min_volume: 5\n")
    )
