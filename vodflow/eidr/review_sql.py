"""How a person's review decision reads as a match result: one definition, used wherever decisions apply.

Both the matcher run (which lets decisions override its own answers) and the review commands (which apply a
decision at once, without waiting for the next run) turn a row of ``ops.eidr_review`` (alias ``r``) into the
columns of ``raw.eidr_matches`` with these expressions, so the two can never disagree.
"""

from __future__ import annotations

DECIDED = "r.status <> 'pending'"
"""The reviews that carry a decision."""

DECISION_COLUMNS = ("outcome", "eidr_id", "score", "method", "reason", "decided_by")
DECISION_VALUES = (
    "case r.status when 'accepted' then 'duplicate' else 'none' end",
    "r.decided_eidr_id",
    "case r.status when 'accepted' then 1.0 else 0.0 end",
    "'review'",
    "'review_' || r.status",
    "'review:' || r.decided_by",
)
"""A person is certain: an accepted candidate scores 1, a rejection 0; the method says who decided."""
