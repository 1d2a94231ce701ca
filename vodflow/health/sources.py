"""Freshness thresholds and the provider list, read from the dbt project so the report never repeats a number.

Each source's ``freshness`` (``warn_after`` / ``error_after``, and the ``filter`` that names a provider's slice of
``raw.assets``) lives in ``dbt_models/models/**/_*sources.yml``; ``dbt source freshness`` reads the same entries.
The feeds (``vars.feeds`` in ``dbt_project.yml``) are told apart from providers the way ``fct_ingest_runs`` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

_PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_PROVIDER_FILTER = re.compile(r"^\s*provider\s*=\s*'([a-z][a-z0-9_]*)'\s*$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class FreshnessRule:
    """One source table with freshness thresholds."""

    source: str
    table: str
    schema: str
    identifier: str
    loaded_at_field: str
    filter: str | None
    warn_after: timedelta | None
    error_after: timedelta | None

    @property
    def provider(self) -> str | None:
        """The provider whose slice of the table this is (``provider = 'lumina'``), else None."""
        match = _PROVIDER_FILTER.match(self.filter or "")
        return match.group(1) if match else None

    @property
    def label(self) -> str:
        """How the report names it: the provider, else ``source.table``."""
        return self.provider or f"{self.source}.{self.table}"


def _after(spec: Any) -> timedelta | None:
    if not isinstance(spec, dict) or "count" not in spec:
        return None
    return int(spec["count"]) * _PERIODS[str(spec.get("period", "hour"))]


def _merged(*levels: dict[str, Any]) -> dict[str, Any]:
    """dbt's inheritance: a table's settings override its source's (top-level keys or under ``config``)."""
    merged: dict[str, Any] = {}
    for level in levels:
        for key in ("loaded_at_field", "freshness"):
            for holder in (level, level.get("config") or {}):
                if holder.get(key) is not None:
                    merged[key] = holder[key]
    return merged


def freshness_rules(project_dir: Path) -> list[FreshnessRule]:
    """Every source table of the dbt project that has a ``loaded_at_field`` and a freshness threshold."""
    rules: list[FreshnessRule] = []
    for path in sorted((project_dir / "models").rglob("_*sources.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        for source in document.get("sources") or []:
            for table in source.get("tables") or []:
                settings = _merged(source, table)
                freshness = settings.get("freshness") or {}
                warn, error = _after(freshness.get("warn_after")), _after(freshness.get("error_after"))
                if not settings.get("loaded_at_field") or (warn is None and error is None):
                    continue
                rule = FreshnessRule(
                    source=str(source["name"]),
                    table=str(table["name"]),
                    schema=str(source.get("schema") or source["name"]),
                    identifier=str(table.get("identifier") or table["name"]),
                    loaded_at_field=str(settings["loaded_at_field"]),
                    filter=freshness.get("filter"),
                    warn_after=warn,
                    error_after=error,
                )
                if not all(_IDENTIFIER.match(name) for name in (rule.schema, rule.identifier, rule.loaded_at_field)):
                    raise ValueError(f"{path.name}: unexpected identifier in source {rule.source}.{rule.table}")
                rules.append(rule)
    return rules


def feeds(project_dir: Path) -> tuple[str, ...]:
    """The feeds (``vars.feeds``): ``ops.loads`` rows that are not an asset provider's (the events feed)."""
    document = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    return tuple(str(name) for name in (document.get("vars") or {}).get("feeds") or [])


def providers(project_dir: Path) -> tuple[str, ...]:
    """The asset providers the dbt project declares (one freshness filter each), in name order."""
    return tuple(sorted({rule.provider for rule in freshness_rules(project_dir) if rule.provider}))
