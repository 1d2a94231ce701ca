"""The report's plots: matplotlib figures (Agg, no display) saved as PNG and embedded as ``data:`` URIs.

Embedded so the page opens offline and can be mailed as one file. ``matplotlib.figure.Figure`` is used directly,
not ``pyplot``: no global state, so two reports in one process (a flow and a test) do not share figures. Every
function returns None when there is nothing to draw; the page then says "no data" instead of an empty frame.
A day without data is a gap in a line, never a point at zero.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")  # no display: flows run on workers and in containers

from matplotlib import dates as mdates
from matplotlib.figure import Figure

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
WIDTH, HEIGHT = 7.5, 3.0


def _figure() -> Figure:
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=100, layout="constrained")
    return figure


def _encode(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def daily_lines(
    series: Mapping[str, Mapping[date, float | None]], days: Sequence[date], ylabel: str, *, percent: bool = False
) -> str | None:
    """One line per provider over ``days``; days missing from a series are gaps."""
    if not any(value is not None for values in series.values() for value in values.values()):
        return None
    figure = _figure()
    axes = figure.add_subplot()
    xs = mdates.date2num(list(days))  # type: ignore[no-untyped-call]
    for index, (provider, values) in enumerate(sorted(series.items())):
        points = [values.get(day) for day in days]
        ys = [math.nan if value is None else value * (100 if percent else 1) for value in points]
        axes.plot(xs, ys, marker="o", markersize=3, label=provider, color=PALETTE[index % len(PALETTE)])
    axes.xaxis_date()
    axes.set_xlim(xs[0] - 0.5, xs[-1] + 0.5)  # the whole window, so a quiet end of period shows as such
    axes.set_ylabel(ylabel + (" (%)" if percent else ""))
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    figure.legend(fontsize="small", ncols=min(len(series), 6), loc="outside upper center")
    figure.autofmt_xdate()
    return _encode(figure)


def grouped_bars(groups: Mapping[str, Mapping[str, float]], ylabel: str, *, percent: bool = False) -> str | None:
    """Bars per provider (x) and series (colour): completeness by field, for instance."""
    if not groups:
        return None
    providers = sorted(groups)
    names = list(dict.fromkeys(name for values in groups.values() for name in values))
    width = 0.8 / max(len(names), 1)
    figure = _figure()
    axes = figure.add_subplot()
    for index, name in enumerate(names):
        xs = [position + index * width for position in range(len(providers))]
        ys = [groups[p].get(name, 0.0) * (100 if percent else 1) for p in providers]
        axes.bar(xs, ys, width=width, label=name, color=PALETTE[index % len(PALETTE)])
    axes.set_xticks([position + width * (len(names) - 1) / 2 for position in range(len(providers))], providers)
    axes.set_ylabel(ylabel + (" (%)" if percent else ""))
    axes.grid(axis="y", alpha=0.3)
    figure.legend(fontsize="small", ncols=len(names), loc="outside upper center")
    return _encode(figure)


def stacked_bars(groups: Mapping[str, Mapping[str, int]], order: Sequence[str], ylabel: str) -> str | None:
    """Stacked bars per provider: EIDR outcomes, for instance."""
    if not groups:
        return None
    providers = sorted(groups)
    figure = _figure()
    axes = figure.add_subplot()
    bottoms = [0] * len(providers)
    for index, name in enumerate(order):
        values = [groups[p].get(name, 0) for p in providers]
        axes.bar(providers, values, bottom=bottoms, label=name, color=PALETTE[index % len(PALETTE)])
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", alpha=0.3)
    figure.legend(fontsize="small", ncols=len(order), loc="outside upper center")
    return _encode(figure)


def distributions(values: Mapping[str, Sequence[float]], ylabel: str) -> str | None:
    """A box plot per provider: run durations or lead times."""
    present = {provider: list(vals) for provider, vals in sorted(values.items()) if vals}
    if not present:
        return None
    figure = _figure()
    axes = figure.add_subplot()
    axes.boxplot(list(present.values()), tick_labels=list(present), showfliers=True)
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", alpha=0.3)
    return _encode(figure)


def horizontal_bars(values: Mapping[str, float], xlabel: str, *, percent: bool = False) -> str | None:
    """Horizontal bars, largest on top: the top quarantine reasons, for instance."""
    if not values:
        return None
    items = sorted(values.items(), key=lambda item: item[1])
    figure = Figure(figsize=(WIDTH, max(1.6, 0.35 * len(items) + 0.8)), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.barh([label for label, _ in items], [v * (100 if percent else 1) for _, v in items], color=PALETTE[3])
    axes.set_xlabel(xlabel + (" (%)" if percent else ""))
    axes.grid(axis="x", alpha=0.3)
    return _encode(figure)
