"""Every check, for every provider, on given days: from metric rows to evaluations, without a database.

Kept apart from the flow so the bench and the tests run exactly the detector the pipeline runs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from vodflow.anomaly.checks import Check
from vodflow.anomaly.methods import Score, seasonal_robust, static_bounds

MetricRow = Mapping[str, float | None]
"""One (provider, day) row of metrics_daily: metric name → value (None: no data)."""


@dataclass(frozen=True)
class Evaluation:
    """One check's verdict on one provider's day."""

    check: Check
    provider: str
    metric_date: date
    result: Score


class MetricTable:
    """metrics_daily rows by provider and day; a day without a row is a gap, not a zero."""

    def __init__(self, rows: Iterable[tuple[str, date, MetricRow]]) -> None:
        self._rows: dict[str, dict[date, MetricRow]] = {}
        for provider, day, row in rows:
            self._rows.setdefault(provider, {})[day] = row

    def providers_on(self, day: date) -> list[str]:
        """Providers with a row on or before ``day``: those are expected to have one on ``day`` too."""
        return sorted(p for p, days in self._rows.items() if days and min(days) <= day)

    def has_row(self, provider: str, day: date) -> bool:
        """Whether the mart holds a row for this provider and day."""
        return day in self._rows.get(provider, {})

    def value(self, provider: str, day: date, metric: str) -> float | None:
        """The metric's value, None when the row is missing or the metric null."""
        row = self._rows.get(provider, {}).get(day)
        return None if row is None else row.get(metric)


def metrics_read(checks: Iterable[Check]) -> set[str]:
    """The mart columns ``checks`` need: their metrics and the volumes that gate them."""
    return {check.metric for check in checks} | {c.volume_metric for c in checks if c.volume_metric is not None}


def training_days(check: Check) -> int:
    """How many days before the evaluated day a check reads."""
    return check.training_days if check.method == "seasonal_robust" else 0


def evaluate_one(check: Check, table: MetricTable, provider: str, day: date) -> Evaluation:
    """``check`` on ``provider``'s ``day``, with the training window of the days just before it."""
    value = table.value(provider, day, check.metric)
    volume = None if check.volume_metric is None else table.value(provider, day, check.volume_metric)
    if value is not None and check.volume_metric is not None:
        if volume is None or volume < check.min_volume:
            detail = f"{check.volume_metric} {volume if volume is None else f'{volume:g}'} below {check.min_volume:g}"
            return Evaluation(check, provider, day, Score("not_enough_data", value, detail=detail))
    if check.method == "static_bounds":
        result = static_bounds(value, direction=check.direction, low=check.low, high=check.high)
    else:
        window = [day - timedelta(days=n) for n in range(1, check.training_days + 1)]
        history = [(d.weekday(), v) for d in window if (v := table.value(provider, d, check.metric)) is not None]
        result = seasonal_robust(
            value,
            day.weekday(),
            history,
            direction=check.direction,
            sensitivity=check.sensitivity,
            min_history=check.min_history,
            seasonal=check.seasonality == "day_of_week",
            scale_floor=_floor(check, volume, history),
            min_change=check.min_change,
        )
    if result.expected_low is not None and result.expected_low < 0:
        # every metrics_daily metric is a count, share, duration or lag: a band below zero only confuses readers
        result = replace(result, expected_low=0.0)
    if result.verdict == "data_gap":
        gap = f"{check.metric} is null (no data that day)" if table.has_row(provider, day) else "no metrics row"
        result = replace(result, detail=gap)
    return Evaluation(check, provider, day, result)


def _floor(check: Check, volume: float | None, history: list[tuple[int, float]]) -> float | Literal["poisson"]:
    """The check's scale floor; ``binomial``: sqrt(p(1-p)/n) for the history's median rate p and the day's n."""
    if check.scale_floor != "binomial":
        return check.scale_floor
    if not volume or not history:
        return 0.0
    rate = min(max(statistics.median(v for _, v in history), 0.02), 0.98)
    return math.sqrt(rate * (1 - rate) / volume)


def evaluate(checks: Sequence[Check], table: MetricTable, days: Sequence[date]) -> list[Evaluation]:
    """Every enabled check × every provider expected on each of ``days`` (oldest day first)."""
    return [
        evaluate_one(check, table, provider, day)
        for day in sorted(days)
        for provider in table.providers_on(day)
        for check in checks
        if check.applies_to(provider)
    ]
