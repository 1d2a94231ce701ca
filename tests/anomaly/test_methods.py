"""The scoring methods as pure functions: properties that must hold for any history, and worked cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vodflow.anomaly.methods import seasonal_robust, static_bounds

values = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
directions = st.sampled_from(["drop", "spike", "both"])


def _week(level: float, weekend: float, days: int = 14, jitter: tuple[float, ...] = (0.0,)) -> list[tuple[int, float]]:
    """``days`` of history ending yesterday for a Monday: weekdays at ``level``, weekends at ``weekend``."""
    history = []
    for back in range(1, days + 1):
        weekday = (7 - back) % 7
        base = weekend if weekday >= 5 else level
        history.append((weekday, base + jitter[back % len(jitter)]))
    return history


@given(constant=values, days=st.integers(min_value=7, max_value=60), weekday=st.integers(0, 6), direction=directions)
def test_a_constant_series_never_alarms(constant: float, days: int, weekday: int, direction: str) -> None:
    history = [((weekday - back) % 7, constant) for back in range(1, days + 1)]
    result = seasonal_robust(constant, weekday, history, direction=direction)
    assert result.verdict == "ok" and result.score == 0.0 and result.expected == constant


@given(
    history=st.lists(st.tuples(st.integers(0, 6), values), max_size=30),
    min_history=st.integers(min_value=1, max_value=31),
    value=values,
    direction=directions,
)
def test_too_little_history_is_not_enough_data_never_an_alarm(
    history: list[tuple[int, float]], min_history: int, value: float, direction: str
) -> None:
    result = seasonal_robust(value, 0, history, direction=direction, min_history=min_history)
    if len(history) < min_history:
        assert result.verdict == "not_enough_data" and result.score is None
    else:
        assert result.verdict in ("ok", "anomaly")


@given(
    history=st.lists(st.tuples(st.integers(0, 6), st.floats(1.0, 1e4)), min_size=7, max_size=28),
    value=st.floats(0.0, 1e4),
    factor=st.floats(1e-3, 1e3),
    seasonal=st.booleans(),
    direction=directions,
)
@settings(max_examples=300)
def test_the_robust_score_is_scale_invariant(
    history: list[tuple[int, float]], value: float, factor: float, seasonal: bool, direction: str
) -> None:
    plain = seasonal_robust(value, 2, history, direction=direction, seasonal=seasonal, min_change=0.1)
    scaled = seasonal_robust(
        value * factor,
        2,
        [(day, v * factor) for day, v in history],
        direction=direction,
        seasonal=seasonal,
        min_change=0.1,
    )
    assert plain.score is not None and scaled.score is not None
    if abs(plain.score) < 1e5:  # a flat history gives the capped score: no ratio to compare
        assert math.isclose(plain.score, scaled.score, rel_tol=1e-6, abs_tol=1e-6)
        margin = min(abs(plain.score - 3), abs(plain.score + 3))
        if margin > 1e-6:
            assert plain.verdict == scaled.verdict


@given(value=st.none(), history=st.lists(st.tuples(st.integers(0, 6), values), max_size=20), direction=directions)
def test_a_missing_value_is_a_data_gap(value: None, history: list[tuple[int, float]], direction: str) -> None:
    assert seasonal_robust(value, 3, history, direction=direction).verdict == "data_gap"
    assert static_bounds(value, direction=direction, low=0.5, high=0.9).verdict == "data_gap"


def test_weekday_seasonality_sets_the_expected_value() -> None:
    history = _week(100, 30, jitter=(0.0, 4.0, -3.0, 2.0, -1.0))
    monday = seasonal_robust(100, 0, history, direction="both")
    assert monday.verdict == "ok" and monday.expected == pytest.approx(100, abs=4)
    saturday = seasonal_robust(30, 5, history, direction="both")
    assert saturday.verdict == "ok" and saturday.expected == pytest.approx(30, abs=4)
    # a Monday at the weekend level is a drop; an ordinary Saturday would be one too without seasonality
    assert seasonal_robust(30, 0, history, direction="drop").verdict == "anomaly"
    assert seasonal_robust(30, 5, history, direction="drop", seasonal=False).verdict == "anomaly"


def test_direction_decides_which_side_alarms() -> None:
    history = _week(100, 100, jitter=(0.0, 5.0, -5.0, 3.0))
    drop = seasonal_robust(10, 0, history, direction="drop")
    assert drop.verdict == "anomaly" and drop.score is not None and drop.score < -3
    assert drop.expected_low is not None and 10 < drop.expected_low
    assert seasonal_robust(10, 0, history, direction="spike").verdict == "ok"
    assert seasonal_robust(300, 0, history, direction="spike").verdict == "anomaly"
    assert seasonal_robust(300, 0, history, direction="drop").verdict == "ok"
    assert seasonal_robust(300, 0, history, direction="both").verdict == "anomaly"


def test_one_past_outlier_does_not_blind_the_check() -> None:
    history = _week(100, 100, jitter=(0.0, 5.0, -5.0, 3.0))
    history[3] = (history[3][0], 1000.0)
    assert seasonal_robust(10, 0, history, direction="drop").verdict == "anomaly"


def test_the_poisson_floor_keeps_small_counts_quiet() -> None:
    flat = [(d % 7, 6.0) for d in range(14)]
    assert seasonal_robust(3, 0, flat, direction="drop").verdict == "anomaly"
    quiet = seasonal_robust(3, 0, flat, direction="drop", scale_floor="poisson")
    assert quiet.verdict == "ok" and quiet.expected_low is not None and quiet.expected_low < 3
    busy = [(d % 7, 60.0) for d in range(14)]
    assert seasonal_robust(0, 0, busy, direction="drop", scale_floor="poisson").verdict == "anomaly"


def test_min_change_widens_the_band() -> None:
    history = _week(100, 100, jitter=(0.0, 1.0, -1.0))
    assert seasonal_robust(90, 0, history, direction="drop").verdict == "anomaly"
    result = seasonal_robust(90, 0, history, direction="drop", min_change=0.2)
    assert result.verdict == "ok" and result.expected_low == pytest.approx(80)


def test_static_bounds() -> None:
    assert static_bounds(0.7, direction="drop", low=0.9, high=None).verdict == "anomaly"
    assert static_bounds(0.95, direction="drop", low=0.9, high=None).verdict == "ok"
    assert static_bounds(0.95, direction="spike", low=None, high=0.9).verdict == "anomaly"
    result = static_bounds(0.5, direction="both", low=0.6, high=0.9)
    assert (result.verdict, result.expected_low, result.expected_high, result.score) == ("anomaly", 0.6, 0.9, None)


def test_a_rate_on_too_small_a_volume_is_not_judged() -> None:
    from datetime import date, timedelta

    from vodflow.anomaly.checks import parse_checks
    from vodflow.anomaly.evaluate import MetricTable, evaluate

    (check,) = parse_checks(
        "version: 1\nchecks:\n  - name: qc\n    metric: qc_failure_rate\n    direction: spike\n"
        "    scale_floor: binomial\n    volume_metric: qc_decisions\n    min_volume: 20\n"
    )
    day = date(2026, 3, 2)
    rows = [("p", day - timedelta(days=n), {"qc_failure_rate": 0.1, "qc_decisions": 50.0}) for n in range(1, 15)]
    tiny = MetricTable([*rows, ("p", day, {"qc_failure_rate": 0.67, "qc_decisions": 3.0})])
    (result,) = evaluate([check], tiny, [day])
    assert result.result.verdict == "not_enough_data" and result.result.detail == "qc_decisions 3 below 20"
    big = MetricTable([*rows, ("p", day, {"qc_failure_rate": 0.67, "qc_decisions": 30.0})])
    assert evaluate([check], big, [day])[0].result.verdict == "anomaly"
    # the binomial floor: 0.2 over 30 decisions is within noise of 0.1 (sqrt(.09/30) = 0.055), 0.35 is not
    steady = MetricTable([*rows, ("p", day, {"qc_failure_rate": 0.2, "qc_decisions": 30.0})])
    assert evaluate([check], steady, [day])[0].result.verdict == "ok"
