"""match_assets: the pipeline's identify step, and review decisions that outlive every re-run."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.eidr.helpers import eidr, insert_assets, matches, record, write_jsonl
from vodflow.eidr.load import load_registry
from vodflow.eidr.pipeline import match_assets
from vodflow.eidr.review import accept, list_reviews, reject

pytestmark = pytest.mark.timeout(60)

REGISTRY = [
    record("matrix", "The Matrix", release_year=1999, runtime_minutes=136),
    record("heat95", "Heat", release_year=1995, runtime_minutes=170),
    record("heat86", "Heat", release_year=1986, runtime_minutes=101),
    record("show", "Tall Tales", referent_type="Series", release_year=2010),
    record("show-s1", "Season 1", referent_type="Season", release_year=2010, parent_eidr_id=eidr("show")),
    record("other-s1", "Season 1", referent_type="Season", release_year=2010, parent_eidr_id=eidr("other")),
]


@pytest.fixture
def loaded(db, tmp_path):
    load_registry(db, write_jsonl(tmp_path / "registry.jsonl", REGISTRY))
    insert_assets(
        db,
        {"provider": "lumina", "provider_asset_id": "m1", "title": "MATRIX, THE", "release_year": 1999},
        {"provider": "lumina", "provider_asset_id": "h1", "title": "Heat"},
        {"provider": "lumina", "provider_asset_id": "x1", "title": "Nothing Like It", "release_year": 2001},
        {"provider": "lumina", "provider_asset_id": "p1", "title": "Provided", "eidr_id": eidr("matrix")},
        {
            "provider": "atlas",
            "provider_asset_id": "s",
            "title": "Tall Tales",
            "asset_type": "series",
            "release_year": 2010,
        },
        {
            "provider": "atlas",
            "provider_asset_id": "s-1",
            "title": "Season 1",
            "asset_type": "season",
            "parent_provider_asset_id": "s",
            "release_year": 2010,
        },
    )
    return db


def _review_id(db, asset_id):
    with db.connect() as conn:
        return conn.execute(
            text("select review_id from ops.eidr_review where provider_asset_id = :a"), {"a": asset_id}
        ).scalar_one()


def test_every_asset_without_an_id_gets_a_decision(loaded):
    summary = match_assets(loaded)
    assert (summary.considered, summary.duplicate, summary.potential, summary.none) == (5, 3, 1, 1)
    rows = matches(loaded)
    assert set(rows) == {"m1", "h1", "x1", "s", "s-1"}  # p1 carries a valid ID: nothing to match
    assert (rows["m1"]["outcome"], rows["m1"]["eidr_id"], rows["m1"]["method"]) == (
        "duplicate",
        eidr("matrix"),
        "title_exact",
    )
    assert rows["m1"]["decided_by"] == "matcher" and rows["m1"]["score"] == 1.0
    assert rows["h1"]["outcome"] == "potential" and len(rows["h1"]["candidates"]) == 2
    assert rows["x1"]["outcome"] == "none" and rows["x1"]["reason"] == "no_candidate"
    # the season is matched under the series the same run identified first
    assert rows["s"]["eidr_id"] == eidr("show") and rows["s-1"]["eidr_id"] == eidr("show-s1")
    (queued,) = list_reviews(loaded)
    assert queued.provider_asset_id == "h1" and queued.title == "Heat"


def test_a_rerun_converges(loaded):
    match_assets(loaded)
    first = matches(loaded)
    match_assets(loaded)
    again = matches(loaded)
    assert {k: (v["outcome"], v["eidr_id"]) for k, v in again.items()} == {
        k: (v["outcome"], v["eidr_id"]) for k, v in first.items()
    }
    assert len(list_reviews(loaded)) == 1


def test_an_accepted_review_survives_reruns_and_rematches(loaded):
    match_assets(loaded)
    accept(loaded, _review_id(loaded, "h1"), eidr_id=eidr("heat86"), by="alice")
    assert matches(loaded)["h1"]["eidr_id"] == eidr("heat86")  # applied at once

    match_assets(loaded)
    # the asset changes so the matcher alone would now pick the 1995 film; the person's decision still wins
    insert_assets(loaded, {"provider": "lumina", "provider_asset_id": "h1", "title": "Heat", "release_year": 1995})
    summary = match_assets(loaded, only_changed_since=None)
    row = matches(loaded)["h1"]
    assert (row["outcome"], row["eidr_id"], row["method"], row["decided_by"]) == (
        "duplicate",
        eidr("heat86"),
        "review",
        "review:alice",
    )
    assert summary.decided_by_review == 1
    assert list_reviews(loaded) == []  # nothing pending


def test_a_rejection_survives_a_registry_that_now_matches(loaded, tmp_path):
    match_assets(loaded)
    reject(loaded, _review_id(loaded, "h1"), by="bob")
    assert matches(loaded)["h1"]["outcome"] == "none"
    load_registry(loaded, write_jsonl(tmp_path / "more.jsonl", [record("heat-only", "Heat", release_year=2020)]))
    match_assets(loaded)
    row = matches(loaded)["h1"]
    assert (row["outcome"], row["reason"], row["decided_by"]) == ("none", "review_rejected", "review:bob")


def test_only_changed_since_limits_the_run(loaded):
    from datetime import UTC, datetime

    match_assets(loaded)
    later = datetime.now(UTC)
    insert_assets(loaded, {"provider": "lumina", "provider_asset_id": "x1", "title": "Heat", "release_year": 1986})
    summary = match_assets(loaded, "lumina", only_changed_since=later)
    assert summary.considered == 1 and matches(loaded)["x1"]["eidr_id"] == eidr("heat86")


def test_overlapping_incremental_runs_match_each_asset_version_once(loaded):
    from datetime import UTC, datetime

    before = datetime.now(UTC)
    insert_assets(loaded, {"provider": "lumina", "provider_asset_id": "n1", "title": "Heat", "release_year": 1995})
    insert_assets(loaded, {"provider": "lumina", "provider_asset_id": "n2", "title": "Nothing", "release_year": 2001})
    first = match_assets(loaded, "lumina", only_changed_since=before)
    assert first.considered == 2 and matches(loaded)["n1"]["eidr_id"] == eidr("heat95")
    # A run that started at the same time and got the lock second finds both versions decided.
    assert match_assets(loaded, "lumina", only_changed_since=before).considered == 0
    insert_assets(loaded, {"provider": "lumina", "provider_asset_id": "n2", "title": "Heat", "release_year": 1986})
    again = match_assets(loaded, "lumina", only_changed_since=before)
    assert again.considered == 1 and matches(loaded)["n2"]["eidr_id"] == eidr("heat86")  # the new version only
    assert match_assets(loaded, "lumina").considered == 5  # without a since: everything again (a newer registry)


def test_an_asset_that_receives_an_id_loses_its_match_and_its_pending_review(loaded):
    match_assets(loaded)
    insert_assets(loaded, {"provider": "lumina", "provider_asset_id": "h1", "title": "Heat", "eidr_id": eidr("heat95")})
    summary = match_assets(loaded, "lumina")
    assert summary.cleared == 1 and "h1" not in matches(loaded)
    assert list_reviews(loaded) == []
