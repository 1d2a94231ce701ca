"""The review queue: potential matches waiting for a person, and the decisions people take.

The matcher queues every ``potential`` outcome in ``ops.eidr_review`` (one row per asset). A person accepts a
candidate (or any ID the registry holds) or rejects them all. The decision is applied to ``raw.eidr_matches``
at once, and every later matcher run applies it again instead of its own answer, so it survives re-runs,
re-matches after the asset changed, and newer registries. Deciding again replaces the earlier decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Engine

from vodflow.eidr.ids import check
from vodflow.eidr.pg_registry import PostgresRegistry, psycopg_connection
from vodflow.eidr.review_sql import DECISION_COLUMNS, DECISION_VALUES

STATUSES = ("pending", "accepted", "rejected")


class ReviewError(ValueError):
    """A review command that cannot be carried out (unknown review, invalid or unknown EIDR ID)."""


@dataclass(frozen=True)
class ReviewItem:
    """One queued asset with its candidates (best first) and, once decided, the decision."""

    review_id: int
    provider: str
    provider_asset_id: str
    status: str
    title: str | None
    release_year: int | None
    score: float | None
    candidates: list[dict[str, Any]]
    decided_eidr_id: str | None
    decided_by: str | None
    decided_at: datetime | None


_SELECT = """
    select r.review_id, r.provider, r.provider_asset_id, r.status, a.title, a.release_year, r.score, r.candidates,
           r.decided_eidr_id, r.decided_by, r.decided_at
      from ops.eidr_review r
      left join raw.assets a on a.provider = r.provider and a.provider_asset_id = r.provider_asset_id
"""


def _item(row: tuple[Any, ...]) -> ReviewItem:
    return ReviewItem(
        review_id=row[0],
        provider=row[1],
        provider_asset_id=row[2],
        status=row[3],
        title=row[4],
        release_year=row[5],
        score=row[6],
        candidates=list(row[7] or []),
        decided_eidr_id=row[8],
        decided_by=row[9],
        decided_at=row[10],
    )


def list_reviews(
    engine: Engine, *, status: str | None = "pending", provider: str | None = None, limit: int = 50
) -> list[ReviewItem]:
    """Queued items, oldest first; ``status=None`` lists every status."""
    if status is not None and status not in STATUSES:
        raise ReviewError(f"unknown status {status!r}: expected one of {', '.join(STATUSES)}")
    with psycopg_connection(engine) as conn:
        rows = conn.execute(
            f"""{_SELECT}
             where (%(status)s::text is null or r.status = %(status)s)
               and (%(provider)s::text is null or r.provider = %(provider)s)
             order by r.review_id limit %(limit)s
            """,
            {"status": status, "provider": provider, "limit": limit},
        ).fetchall()
    return [_item(row) for row in rows]


def _get(cur: psycopg.Cursor[Any], review_id: int) -> ReviewItem:
    cur.execute(f"{_SELECT} where r.review_id = %s for update of r", (review_id,))
    row = cur.fetchone()
    if row is None:
        raise ReviewError(f"no review {review_id}")
    return _item(row)


def _apply(cur: psycopg.Cursor[Any], review_id: int) -> None:
    """Write the decision into raw.eidr_matches now, with the same mapping the matcher run uses."""
    columns = ", ".join(DECISION_COLUMNS)
    updates = ", ".join(f"{name} = excluded.{name}" for name in DECISION_COLUMNS)
    cur.execute(
        f"""
        insert into raw.eidr_matches as m (provider, provider_asset_id, {columns}, candidates)
        select r.provider, r.provider_asset_id, {", ".join(DECISION_VALUES)}, r.candidates
          from ops.eidr_review r where r.review_id = %s
        on conflict (provider, provider_asset_id) do update set {updates}, matched_at = now()
        """,
        (review_id,),
    )


def _decide(engine: Engine, review_id: int, status: str, eidr_id: str | None, by: str) -> ReviewItem:
    if not by.strip():
        raise ReviewError("a decision needs the name of who took it")
    with psycopg_connection(engine) as conn, conn.cursor() as cur:
        _get(cur, review_id)
        cur.execute(
            """
            update ops.eidr_review set status = %s, decided_eidr_id = %s, decided_by = %s, decided_at = now(),
                   updated_at = now()
             where review_id = %s
            """,
            (status, eidr_id, by.strip(), review_id),
        )
        _apply(cur, review_id)
        return _get(cur, review_id)


def accept(engine: Engine, review_id: int, *, by: str, eidr_id: str | None = None) -> ReviewItem:
    """Accept ``eidr_id`` (default: the best candidate) for the queued asset.

    Raises:
        ReviewError: no such review, no candidate to default to, or an ID that is invalid or not in the registry.
    """
    with psycopg_connection(engine) as conn, conn.cursor() as cur:
        item = _get(cur, review_id)
    if eidr_id is None:
        if not item.candidates:
            raise ReviewError(f"review {review_id} has no candidate: name the EIDR ID to accept")
        chosen = str(item.candidates[0]["eidr_id"])
    else:
        verdict = check(eidr_id)
        if verdict.normalised is None:
            raise ReviewError(f"{eidr_id}: {verdict.reason}")
        chosen = verdict.normalised
        known = {str(candidate["eidr_id"]) for candidate in item.candidates}
        if chosen not in known and not PostgresRegistry(engine).resolve([chosen]):
            raise ReviewError(f"{chosen} is neither a candidate nor in the registry extract")
    return _decide(engine, review_id, "accepted", chosen, by)


def reject(engine: Engine, review_id: int, *, by: str) -> ReviewItem:
    """Reject every candidate: the asset stays without an EIDR ID (outcome ``none``) until decided again.

    Raises:
        ReviewError: no such review.
    """
    return _decide(engine, review_id, "rejected", None, by)
