"""Review commands: who may accept what, and what a decision writes."""

from __future__ import annotations

import pytest

from tests.eidr.helpers import eidr, insert_assets, matches, record, write_jsonl
from vodflow.eidr.load import load_registry
from vodflow.eidr.pipeline import match_assets
from vodflow.eidr.review import ReviewError, accept, list_reviews, reject

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def queued(db, tmp_path):
    registry = [
        record("heat95", "Heat", release_year=1995),
        record("heat86", "Heat", release_year=1986),
        record("alien", "Alien", release_year=1979),
    ]
    load_registry(db, write_jsonl(tmp_path / "registry.jsonl", registry))
    insert_assets(db, {"provider": "harbor", "provider_asset_id": "h1", "title": "Heat"})
    match_assets(db)
    (item,) = list_reviews(db)
    return db, item


def test_accept_defaults_to_the_best_candidate(queued):
    db, item = queued
    decided = accept(db, item.review_id, by="alice")
    assert decided.status == "accepted" and decided.decided_eidr_id == item.candidates[0]["eidr_id"]
    assert decided.decided_by == "alice" and decided.decided_at is not None
    assert list_reviews(db) == [] and len(list_reviews(db, status="accepted")) == 1


def test_accept_any_registry_id_in_any_spelling(queued):
    db, item = queued
    decided = accept(db, item.review_id, by="alice", eidr_id=eidr("alien").lower())
    assert decided.decided_eidr_id == eidr("alien") and matches(db)["h1"]["eidr_id"] == eidr("alien")


@pytest.mark.parametrize(
    ("eidr_id", "message"),
    [("10.5240/0000-0000-0000-0000-0000-0", "eidr_check_character"), (None, None)],
)
def test_accept_refuses_invalid_or_unknown_ids(queued, eidr_id, message):
    db, item = queued
    unknown = eidr("not in the registry")
    with pytest.raises(ReviewError, match=message or "neither a candidate nor in the registry"):
        accept(db, item.review_id, by="alice", eidr_id=eidr_id or unknown)


def test_unknown_reviews_and_anonymous_decisions_are_refused(queued):
    db, item = queued
    with pytest.raises(ReviewError, match="no review 999"):
        reject(db, 999, by="bob")
    with pytest.raises(ReviewError, match="name"):
        reject(db, item.review_id, by=" ")
    with pytest.raises(ReviewError, match="unknown status"):
        list_reviews(db, status="maybe")


def test_a_decision_can_be_changed(queued):
    db, item = queued
    accept(db, item.review_id, by="alice")
    decided = reject(db, item.review_id, by="bob")
    assert (decided.status, decided.decided_eidr_id, decided.decided_by) == ("rejected", None, "bob")
    assert matches(db)["h1"]["outcome"] == "none"
