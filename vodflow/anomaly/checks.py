"""Metric checks as code: the check file (YAML), its defaults, and a parser that names the line of every mistake.

A check file is reviewed like code, so a typo must be refused where it is (``checks.yaml:14: unknown metric
'delivries'; known: …``), never silently turned into a check that watches nothing. The parser walks the YAML node
tree (``yaml.compose``), which keeps each value's position, and converts scalars with the safe loader only.

Shape::

    version: 1
    defaults: {sensitivity: 3, min_history: 7, training_days: 14, ...}   # optional, any check field but name/metric
    checks:
      - name: deliveries_drop
        metric: deliveries
        direction: drop
        ...
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

CHECKS_ENV = "VODFLOW_ANOMALY_CHECKS"
"""Environment variable naming a check file that replaces the packaged default."""

METRICS = (
    "deliveries",
    "redeliveries",
    "qc_decisions",
    "qc_failures",
    "qc_failure_rate",
    "published_deliveries",
    "median_lead_time_hours",
    "ingest_runs",
    "failed_runs",
    "received_rows",
    "new_assets",
    "updated_assets",
    "quarantined_rows",
    "quarantine_share",
    "ingest_lag_seconds",
    "first_loaded_assets",
    "eidr_match_rate",
    "eidr_coverage_rate",
)
"""The columns of ``marts.metrics_daily`` a check may watch (every metric column; not the keys or bookkeeping)."""

METHODS = ("seasonal_robust", "static_bounds")
DIRECTIONS = ("drop", "spike", "both")
GRAINS = ("day",)
SEASONALITIES = ("day_of_week", "none")
SEVERITIES = ("info", "warning", "critical")
CHANNELS = ("slack", "email", "log")

Direction = Literal["drop", "spike", "both"]
Method = Literal["seasonal_robust", "static_bounds"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


@dataclass(frozen=True)
class Check:
    """One metric check: what to watch, how to score it, and where an alert goes.

    ``scale_floor`` is the smallest spread the seasonal method will assume: a number in the metric's unit, or
    ``"poisson"`` for counts (the spread of a count is at least the square root of its expected value, so a day
    with 3 deliveries instead of 6 is not a "6-sigma" drop just because the history happened to be flat), or
    ``"binomial"`` for rates (at least sqrt(p(1-p)/n), n being the day's ``volume_metric``: a rate over 20 assets
    moves by 5 points with one asset).
    ``min_change`` is the smallest relative change that may alarm (0.3: at least 30 % off the expected value).
    ``volume_metric`` and ``min_volume``: a rate is only judged on a day whose denominator (e.g. ``qc_decisions``
    for ``qc_failure_rate``) reached ``min_volume``; below it the day is ``not_enough_data`` (2 failures out of 3
    decisions is not a 67 % failure rate worth waking anyone for).
    """

    name: str
    metric: str
    direction: Direction
    method: Method = "seasonal_robust"
    grain: str = "day"
    sensitivity: float = 3.0
    min_history: int = 7
    training_days: int = 14
    seasonality: str = "day_of_week"
    scale_floor: float | Literal["poisson", "binomial"] = 0.0
    min_change: float = 0.0
    volume_metric: str | None = None
    min_volume: float = 0.0
    low: float | None = None
    high: float | None = None
    severity: str = "warning"
    channel: str = "slack"
    suppress_hours: float = 24.0
    providers: tuple[str, ...] | None = None
    enabled: bool = True
    description: str = ""
    line: int = field(default=0, compare=False)

    def applies_to(self, provider: str) -> bool:
        """Whether this check watches ``provider`` (all providers unless the check lists some)."""
        return self.enabled and (self.providers is None or provider in self.providers)


_FIELDS = tuple(f.name for f in fields(Check) if f.name != "line")
_DEFAULTABLE = tuple(
    name
    for name in _FIELDS
    if name not in ("name", "metric", "providers", "description", "volume_metric", "min_volume")
)


class ChecksError(ValueError):
    """A check file that cannot be used; the message names the file and line of every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Problems:
    """Collects every mistake of a file, so one run of the parser names them all."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, node: Node, message: str) -> None:
        self.items.append(f"{self.source}:{node.start_mark.line + 1}: {message}")


def _known(values: tuple[str, ...]) -> str:
    return ", ".join(values)


def _scalar(node: Node) -> Any:
    """The Python value of a scalar node, as the safe loader would build it (nothing else is ever constructed)."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _pairs(node: MappingNode, problems: _Problems) -> Iterator[tuple[str, Node]]:
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key = _scalar(key_node) if isinstance(key_node, ScalarNode) else None
        if not isinstance(key, str):
            problems.add(key_node, "a key must be a plain word")
            continue
        if key in seen:
            problems.add(key_node, f"'{key}' is given twice")
            continue
        seen.add(key)
        yield key, value_node


def _choice(node: Node, key: str, known: tuple[str, ...], problems: _Problems, what: str | None = None) -> str | None:
    value = _scalar(node) if isinstance(node, ScalarNode) else None
    if isinstance(value, str) and value in known:
        return value
    problems.add(node, f"unknown {what or key} {value!r}; known: {_known(known)}")
    return None


def _number(node: Node, key: str, problems: _Problems, *, minimum: float, integer: bool = False) -> float | None:
    tags = _NUMBER_TAGS[:1] if integer else _NUMBER_TAGS
    if not isinstance(node, ScalarNode) or node.tag not in tags:
        problems.add(node, f"{key} must be {'an integer' if integer else 'a number'}, not {node.value!r}")
        return None
    value = float(_scalar(node))
    if value < minimum or value != value:
        problems.add(node, f"{key} must be at least {minimum:g}, not {node.value}")
        return None
    return value


def _field(key: str, node: Node, problems: _Problems) -> Any:
    """The typed value of check field ``key`` (``None`` after recording a problem)."""
    choices = {
        "metric": METRICS,
        "volume_metric": METRICS,
        "method": METHODS,
        "direction": DIRECTIONS,
        "grain": GRAINS,
        "seasonality": SEASONALITIES,
        "severity": SEVERITIES,
        "channel": CHANNELS,
    }
    if key in choices:
        return _choice(node, key, choices[key], problems)
    if key in ("min_history", "training_days"):
        value = _number(node, key, problems, minimum=0 if key == "min_history" else 1, integer=True)
        return None if value is None else int(value)
    if key == "scale_floor" and isinstance(node, ScalarNode) and node.value in ("poisson", "binomial"):
        return node.value
    if key in ("sensitivity", "scale_floor", "min_change", "suppress_hours", "min_volume"):
        return _number(node, key, problems, minimum=0.0)
    if key in ("low", "high"):
        return _number(node, key, problems, minimum=float("-inf"))
    if key == "enabled":
        value = _scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool):
            return value
        problems.add(node, f"enabled must be true or false, not {node.value!r}")
        return None
    if key == "providers":
        items = node.value if isinstance(node, SequenceNode) else None
        names = [_scalar(item) if isinstance(item, ScalarNode) else None for item in items or []]
        if items and all(isinstance(name, str) and name for name in names):
            return tuple(names)
        problems.add(node, "providers must be a non-empty list of provider names")
        return None
    value = _scalar(node) if isinstance(node, ScalarNode) else None
    if not isinstance(value, str):
        problems.add(node, f"{key} must be text")
        return None
    if key == "name" and not _NAME.match(value):
        problems.add(node, f"name {value!r} must be lower-case letters, digits and '_', starting with a letter")
        return None
    return value


def _fields_of(node: MappingNode, allowed: tuple[str, ...], problems: _Problems, where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value_node in _pairs(node, problems):
        if key not in allowed:
            problems.add(value_node, f"unknown key '{key}' in {where}; known: {_known(allowed)}")
            continue
        value = _field(key, value_node, problems)
        if value is not None:
            values[key] = value
    return values


def _coherence(values: dict[str, Any], node: Node, problems: _Problems) -> bool:
    """Rules between fields: a method's own settings, and a history the training window can hold."""
    before = len(problems.items)
    method, direction = values.get("method", "seasonal_robust"), values.get("direction")
    low, high = values.get("low"), values.get("high")
    if method == "static_bounds":
        if direction in ("drop", "both") and low is None and (direction == "drop" or high is None):
            problems.add(node, "static_bounds watching drops needs 'low'")
        if direction in ("spike", "both") and high is None and (direction == "spike" or low is None):
            problems.add(node, "static_bounds watching spikes needs 'high'")
        if low is not None and high is not None and low >= high:
            problems.add(node, f"low ({low:g}) must be below high ({high:g})")
    elif low is not None or high is not None:
        problems.add(node, f"low and high belong to static_bounds, not {method}")
    if ("volume_metric" in values) != ("min_volume" in values):
        problems.add(node, "volume_metric and min_volume go together")
    if values.get("scale_floor") == "binomial" and "volume_metric" not in values:
        problems.add(node, "scale_floor binomial needs volume_metric (the n of the rate)")
    if method == "seasonal_robust" and values.get("min_history", 7) > values.get("training_days", 14):
        problems.add(node, "min_history cannot exceed training_days: the check could never have enough data")
    return len(problems.items) == before


def parse_checks(text: str, source: str = "checks.yaml") -> tuple[Check, ...]:
    """Parse a check file; raise :class:`ChecksError` naming ``source`` and the line of every problem."""
    problems = _Problems(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ChecksError([f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if not isinstance(root, MappingNode):
        raise ChecksError([f"{source}:1: a check file is a mapping with 'version' and 'checks'"])
    parts = dict(_pairs(root, problems))
    for key, node in parts.items():
        if key not in ("version", "defaults", "checks"):
            problems.add(node, f"unknown key '{key}'; known: version, defaults, checks")
    version = parts.get("version")
    if version is None or not isinstance(version, ScalarNode) or version.value != "1":
        problems.add(version or root, "version must be 1")
    defaults: dict[str, Any] = {}
    defaults_node = parts.get("defaults")
    if isinstance(defaults_node, MappingNode):
        defaults = _fields_of(defaults_node, _DEFAULTABLE, problems, "defaults")
    elif defaults_node is not None:
        problems.add(defaults_node, "defaults must be a mapping")
    checks_node = parts.get("checks")
    if not isinstance(checks_node, SequenceNode) or not checks_node.value:
        problems.add(checks_node or root, "checks must be a non-empty list")
        raise ChecksError(problems.items)
    checks = _checks(checks_node, defaults, problems)
    if problems.items:
        raise ChecksError(problems.items)
    return tuple(checks)


def _checks(node: SequenceNode, defaults: dict[str, Any], problems: _Problems) -> list[Check]:
    checks: list[Check] = []
    names: dict[str, int] = {}
    for item in node.value:
        if not isinstance(item, MappingNode):
            problems.add(item, "each check is a mapping")
            continue
        before = len(problems.items)
        values = {**defaults, **_fields_of(item, _FIELDS, problems, "a check")}
        given = {key.value for key, _ in item.value if isinstance(key, ScalarNode)} | set(defaults)
        absent = [key for key in ("name", "metric", "direction") if key not in given]
        if absent:
            problems.add(item, f"a check needs {', '.join(absent)}")
        if len(problems.items) > before or not _coherence(values, item, problems):
            continue
        if values["name"] in names:
            problems.add(item, f"check '{values['name']}' is already defined on line {names[values['name']]}")
            continue
        names[values["name"]] = item.start_mark.line + 1
        checks.append(Check(**values, line=item.start_mark.line + 1))
    return checks


def default_checks_path() -> Path:
    """The packaged check file (the defaults that work out of the box)."""
    return Path(str(resources.files("vodflow.anomaly").joinpath("checks.yaml")))


def load_checks(path: Path | str | None = None) -> tuple[Check, ...]:
    """The checks of ``path``, else of ``$VODFLOW_ANOMALY_CHECKS``, else the packaged defaults."""
    chosen = Path(path) if path is not None else None
    if chosen is None and os.environ.get(CHECKS_ENV):
        chosen = Path(os.environ[CHECKS_ENV])
    if chosen is None:
        return parse_checks(default_checks_path().read_text(encoding="utf-8"), "checks.yaml")
    try:
        text = chosen.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChecksError([f"{chosen}: cannot read the check file: {exc.strerror or exc}"]) from exc
    return parse_checks(text, str(chosen))
