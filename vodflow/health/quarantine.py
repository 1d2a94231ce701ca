"""Quarantine reasons per provider over the window (``ops.quarantine``).

Counts come from the runs (``fct_ingest_runs``, see :mod:`vodflow.health.runs`); the reasons from the quarantined
rows first seen in the window, each row counted once per reason it carries (a row can break several rules). A
reason's share is its rows over the rows the provider's succeeded runs received in the window: "12 % of rows
quarantined for a missing title". ``first_seen_at`` never changes, so a past report reads the same later; a bad
row served again in the window but first seen before it is not counted again (``times_seen`` has no history).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from vodflow.health.db import fetch
from vodflow.health.model import Section, Window

#: How a rule's name reads in the report, by its suffix (the rules: vodflow.canonical.build_schema).
_KINDS = (
    ("_not_blank", "missing"),
    ("not_nullable", "missing"),
    ("_not_integer", "non-numeric"),
    ("_not_timestamp", "unreadable"),
    ("_format", "malformed"),
    ("_check_character", "invalid check character in"),
    ("_iso639", "unknown code in"),
    ("_plausible", "implausible"),
    ("_range", "out-of-range"),
    ("_positive", "non-positive"),
    ("_max_length", "too long"),
    ("_no_control_characters", "control characters in"),
    ("_no_bidi_override", "bidi override in"),
    ("_valid_unicode", "invalid Unicode in"),
    ("genres_text", "unstorable"),
)
_FRIENDLY_COLUMNS = {"release_year": "year", "runtime_minutes": "runtime", "provider_updated_at": "update time"}


def describe(check: str, column: str | None) -> str:
    """``title_not_blank`` on ``title`` → "missing title"; an unknown rule keeps its name."""
    for suffix, kind in _KINDS:
        if check.endswith(suffix):
            subject = column or check.removesuffix(suffix)
            return f"{kind} {_FRIENDLY_COLUMNS.get(subject, subject.replace('_', ' '))}"
    return check.replace("_", " ")


@dataclass(frozen=True)
class Reason:
    """One rule broken by a provider's rows first quarantined in the window."""

    provider: str
    check: str
    column: str | None
    rows: int

    @property
    def label(self) -> str:
        """The rule in words."""
        return describe(self.check, self.column)


@dataclass
class QuarantineSection(Section):
    """Reasons per provider, most frequent first, and each provider's new quarantined rows per day."""

    reasons: list[Reason] = field(default_factory=list)
    new_rows: int = 0

    def top(self, provider: str, n: int = 3) -> list[Reason]:
        """A provider's ``n`` most frequent reasons."""
        return [reason for reason in self.reasons if reason.provider == provider][:n]


def read_quarantine(conn: Connection, window: Window) -> QuarantineSection:
    """Rows first quarantined in the window, by provider and broken rule."""
    rows = fetch(
        conn,
        "select q.provider, r.reason ->> 'check' as check_name, r.reason ->> 'column' as column_name, "
        "count(distinct q.quarantine_id) as n "
        "from ops.quarantine as q cross join lateral jsonb_array_elements(q.reasons) as r(reason) "
        "where q.first_seen_at >= :start and q.first_seen_at < :end "
        "group by 1, 2, 3 order by 1, 4 desc, 2",
        start=window.start,
        end=window.end,
    )
    total = fetch(
        conn,
        "select count(*) as n from ops.quarantine where first_seen_at >= :start and first_seen_at < :end",
        start=window.start,
        end=window.end,
    )[0]["n"]
    return QuarantineSection(
        reasons=[Reason(row["provider"], str(row["check_name"]), row["column_name"], int(row["n"])) for row in rows],
        new_rows=int(total),
    )
