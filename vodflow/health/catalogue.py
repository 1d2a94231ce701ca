"""Completeness and EIDR coverage of the catalogue (``marts.dim_assets``), and the EIDR review backlog.

The catalogue is counted as of the report's end: the assets first loaded before it. ``dim_assets`` holds each
asset's current values, so a past report counts the right assets with today's fields: a field a provider filled in
later counts as filled. The review backlog comes from ``ops.eidr_review``, whose decision times make it exact for
any past day: a review is in the backlog at the end if it was created before and not decided before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from vodflow.health.db import fetch, num
from vodflow.health.model import Section, Window, quantile

#: The fields whose presence the report measures, and how it names them.
FIELDS = {
    "title": "title",
    "release_year": "year",
    "runtime_minutes": "runtime",
    "language_code": "language",
    "eidr_id": "EIDR ID",
}

#: dim_assets.eidr_match_status grouped the way the report shows it.
EIDR_GROUPS = {
    "provided": "provided",
    "duplicate": "matched",
    "potential": "in review",
    "none": "unmatched",
    "unmatched": "unmatched",
}


@dataclass(frozen=True)
class Completeness:
    """One provider's asset count and, per field, the share of assets that have it (None: no asset can have it)."""

    provider: str
    assets: int
    shares: dict[str, float | None]


@dataclass(frozen=True)
class EidrCoverage:
    """One provider's assets by EIDR outcome (``provided``, ``matched``, ``in review``, ``unmatched``)."""

    provider: str
    assets: int
    counts: dict[str, int]

    @property
    def coverage(self) -> float | None:
        """Share of assets with an EIDR ID (provided or matched)."""
        if not self.assets:
            return None
        return (self.counts.get("provided", 0) + self.counts.get("matched", 0)) / self.assets


@dataclass(frozen=True)
class ReviewBacklog:
    """Reviews waiting for a person at the report's end, per provider, and their ages in days."""

    provider: str
    pending: int
    median_age_days: float | None
    oldest_age_days: float | None


@dataclass
class CatalogueSection(Section):
    """Completeness and EIDR coverage per provider, and the review backlog."""

    completeness: list[Completeness] = field(default_factory=list)
    eidr: list[EidrCoverage] = field(default_factory=list)
    backlog: list[ReviewBacklog] = field(default_factory=list)

    @property
    def total_assets(self) -> int:
        """Assets in the catalogue at the end, every provider."""
        return sum(row.assets for row in self.completeness)


def read_completeness(conn: Connection, window: Window) -> list[Completeness]:
    """Share of assets with each of :data:`FIELDS`, per provider."""
    present = {
        "title": "nullif(btrim(title), '') is not null",
        "release_year": "release_year is not null",
        "runtime_minutes": "runtime_minutes is not null",  # over films and episodes only, see below
        "language_code": "language_code is not null",
        "eidr_id": "eidr_id is not null",
    }
    columns = ", ".join(f"count(*) filter (where {condition}) as {name}" for name, condition in present.items())
    # Series and seasons have no running time of their own: the runtime share is over the assets that do.
    rows = fetch(
        conn,
        f"select provider, count(*) as assets, {columns}, "
        "count(*) filter (where asset_type not in ('series', 'season')) as timed "
        "from marts.dim_assets where first_loaded_at < :end group by provider order by provider",
        end=window.end,
    )
    result = []
    for row in rows:
        shares: dict[str, float | None] = {name: row[name] / row["assets"] for name in FIELDS}
        shares["runtime_minutes"] = row["runtime_minutes"] / row["timed"] if row["timed"] else None
        result.append(Completeness(row["provider"], row["assets"], shares))
    return result


def read_eidr(conn: Connection, window: Window) -> list[EidrCoverage]:
    """Assets per EIDR outcome group, per provider."""
    rows = fetch(
        conn,
        "select provider, eidr_match_status as status, count(*) as n from marts.dim_assets "
        "where first_loaded_at < :end group by 1, 2 order by 1, 2",
        end=window.end,
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        group = EIDR_GROUPS.get(row["status"], row["status"])
        provider = counts.setdefault(row["provider"], {})
        provider[group] = provider.get(group, 0) + int(row["n"])
    return [EidrCoverage(provider, sum(c.values()), c) for provider, c in sorted(counts.items())]


def read_backlog(conn: Connection, window: Window) -> list[ReviewBacklog]:
    """Reviews created before the end and not decided before it, per provider, with their ages in days."""
    rows = fetch(
        conn,
        "select provider, extract(epoch from :end - created_at) / 86400.0 as age_days from ops.eidr_review "
        "where created_at < :end and (status = 'pending' or decided_at >= :end)",
        end=window.end,
    )
    ages: dict[str, list[float]] = {}
    for row in rows:
        ages.setdefault(row["provider"], []).append(num(row["age_days"]) or 0.0)
    return [
        ReviewBacklog(provider, len(values), quantile(values, 0.5), max(values))
        for provider, values in sorted(ages.items())
    ]
