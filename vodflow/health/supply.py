"""Supply chain per provider (``marts.fct_deliveries``): deliveries, QC failure rate and lead times.

Deliveries are those that arrived in the window; a QC verdict or a publication counts only if it happened before
the report's end, so a past report does not see verdicts given later.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection

from vodflow.health.db import fetch, num
from vodflow.health.model import Section, Window, quantile, ratio


@dataclass(frozen=True)
class SupplySummary:
    """One provider's deliveries in the window."""

    provider: str
    deliveries: int
    qc_decided: int
    qc_failed: int
    published: int
    lead_p50: float | None
    lead_p95: float | None
    top_failure: str | None

    @property
    def qc_failure_rate(self) -> float | None:
        """Failed QC verdicts over verdicts; None without verdicts."""
        return ratio(self.qc_failed, self.qc_decided)


@dataclass
class SupplySection(Section):
    """Per-provider summaries, the lead times (hours) for the distribution plot, and deliveries per day."""

    summaries: list[SupplySummary] = field(default_factory=list)
    lead_times: dict[str, list[float]] = field(default_factory=dict)
    daily: dict[tuple[str, date], tuple[int, int, int]] = field(default_factory=dict)
    """(provider, day) → deliveries, QC verdicts, QC failures that day."""


def read_supply(conn: Connection, window: Window) -> SupplySection:
    """Deliveries that arrived in the window, with what was known of them at the end."""
    rows = fetch(
        conn,
        "select provider, (delivered_at at time zone 'UTC')::date as day, "
        "qc_at is not null and qc_at < :end as decided, "
        "qc_outcome = 'failed' and qc_at < :end as failed, qc_failure_reason, "
        "case when published_at < :end then lead_time_hours end as lead_time_hours, "
        "coalesce(published_at < :end, false) as published "
        "from marts.fct_deliveries where delivered_at >= :start and delivered_at < :end",
        start=window.start,
        end=window.end,
    )
    section = SupplySection()
    grouped: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        grouped.setdefault(row["provider"], []).append(dict(row))
        key = (row["provider"], row["day"])
        arrived, decided, failed = section.daily.get(key, (0, 0, 0))
        section.daily[key] = (arrived + 1, decided + bool(row["decided"]), failed + bool(row["failed"]))
    for provider, deliveries in sorted(grouped.items()):
        leads = [lead for row in deliveries if (lead := num(row["lead_time_hours"])) is not None]
        reasons = Counter(str(row["qc_failure_reason"]) for row in deliveries if row["failed"])
        section.lead_times[provider] = leads
        section.summaries.append(
            SupplySummary(
                provider=provider,
                deliveries=len(deliveries),
                qc_decided=sum(bool(row["decided"]) for row in deliveries),
                qc_failed=sum(bool(row["failed"]) for row in deliveries),
                published=sum(bool(row["published"]) for row in deliveries),
                lead_p50=quantile(leads, 0.5),
                lead_p95=quantile(leads, 0.95),
                top_failure=reasons.most_common(1)[0][0] if reasons else None,
            )
        )
    return section
