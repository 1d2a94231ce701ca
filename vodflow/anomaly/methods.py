"""The scoring methods: pure functions of one day's value and its history, so they can be tested exhaustively.

* :func:`seasonal_robust`: the expected value is the median of the same weekday's history (or of the whole
  history, without seasonality); the spread is the MAD of the history's residuals around their weekday medians.
  Medians and MAD, not mean and standard deviation, so one past anomaly in the training window does not blind the
  check for two weeks.
* :func:`static_bounds`: a value outside fixed bounds (e.g. an EIDR match rate below 0.90).

Both say ``data_gap`` for a missing value and never score it: a day without data is not a day with zero.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["ok", "anomaly", "not_enough_data", "data_gap"]
VERDICTS: tuple[Verdict, ...] = ("ok", "anomaly", "not_enough_data", "data_gap")

MAD_TO_SIGMA = 1.4826
"""MAD × this estimates the standard deviation of normally distributed data."""

SCORE_CAP = 1e6
"""Scores are capped here: a flat history and any change would otherwise score infinity (not storable as JSON)."""


@dataclass(frozen=True)
class Score:
    """What a method concluded about one value: verdict, expected range and how far off the value is.

    ``score`` is the signed distance from the expected value in units of the predicted spread (negative: below);
    ``None`` when there was nothing to score or the method has no notion of spread (static bounds).
    """

    verdict: Verdict
    value: float | None
    expected: float | None = None
    expected_low: float | None = None
    expected_high: float | None = None
    score: float | None = None
    history_points: int = 0
    detail: str = ""


def _outside(value: float, low: float | None, high: float | None, direction: str) -> bool:
    below = low is not None and value < low and direction in ("drop", "both")
    above = high is not None and value > high and direction in ("spike", "both")
    return below or above


def static_bounds(value: float | None, *, direction: str, low: float | None, high: float | None) -> Score:
    """``anomaly`` when ``value`` leaves ``[low, high]`` on the watched side. History plays no part."""
    if value is None:
        return Score("data_gap", None, expected_low=low, expected_high=high, detail="no value for this day")
    verdict: Verdict = "anomaly" if _outside(value, low, high, direction) else "ok"
    return Score(verdict, value, expected_low=low, expected_high=high)


def _residual_spread(points: Sequence[tuple[int, float]], seasonal: bool) -> float:
    """The robust spread (σ estimate) of the history around its weekday medians (or its overall median).

    A residual around the median of its own group of k points is smaller than the point's real deviation (the
    point pulled the median towards itself), by about sqrt((k-1)/k); residuals are scaled back up by that, so the
    spread is not underestimated on short histories (two points per weekday over 14 days). Groups of one point
    carry no spread information and are left out; if every group has one point, the history is scored without
    seasonality.
    """
    groups: dict[int, list[float]] = defaultdict(list)
    for weekday, value in points:
        groups[weekday if seasonal else 0].append(value)
    residuals = [
        (value - statistics.median(group)) * math.sqrt(len(group) / (len(group) - 1))
        for group in groups.values()
        if len(group) > 1
        for value in group
    ]
    if not residuals:
        return _residual_spread(points, seasonal=False) if seasonal and len(points) > 1 else 0.0
    centre = statistics.median(residuals)
    return MAD_TO_SIGMA * statistics.median(abs(r - centre) for r in residuals)


def seasonal_robust(
    value: float | None,
    weekday: int,
    history: Sequence[tuple[int, float]],
    *,
    direction: str,
    sensitivity: float = 3.0,
    min_history: int = 7,
    seasonal: bool = True,
    scale_floor: float | Literal["poisson"] = 0.0,
    min_change: float = 0.0,
) -> Score:
    """Score ``value`` (a day of weekday ``weekday``, 0 = Monday) against ``history`` ((weekday, value) pairs).

    Expected: the median of the history's values on the same weekday (with ``seasonal`` and at least one such
    value), else of the whole history. Spread: :func:`_residual_spread`, at least ``scale_floor`` (``"poisson"``:
    the square root of the expected count), widened by sqrt(1 + 1/k) because the expected value is itself
    estimated from k points. The value is an anomaly when it lies on the watched side of
    ``expected ± max(sensitivity × spread, min_change × |expected|)``.

    Fewer than ``min_history`` points (at least one) is ``not_enough_data``, never an alarm.
    """
    points = [(day, v) for day, v in history if v is not None and math.isfinite(v)]
    if value is None:
        return Score("data_gap", None, history_points=len(points), detail="no value for this day")
    if len(points) < max(min_history, 1):
        detail = f"{len(points)} of {max(min_history, 1)} history points"
        return Score("not_enough_data", value, history_points=len(points), detail=detail)
    same = [v for day, v in points if day == weekday] if seasonal else []
    basis = same or [v for _, v in points]
    expected = statistics.median(basis)
    floor = math.sqrt(max(expected, 0.0)) if scale_floor == "poisson" else float(scale_floor)
    spread = max(_residual_spread(points, seasonal), floor) * math.sqrt(1 + 1 / len(basis))
    half_width = max(sensitivity * spread, min_change * abs(expected))
    low, high = expected - half_width, expected + half_width
    if spread > 0:
        score = (value - expected) / spread
    else:
        score = 0.0 if value == expected else math.copysign(SCORE_CAP, value - expected)
    score = max(-SCORE_CAP, min(SCORE_CAP, score))
    verdict: Verdict = "anomaly" if _outside(value, low, high, direction) else "ok"
    return Score(verdict, value, expected, low, high, score, len(points))
