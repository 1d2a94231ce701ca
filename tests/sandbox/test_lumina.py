"""lumina's item rendering and its deliberate, deterministic imperfections."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from vodflow.eidr.ids import check
from vodflow.sandbox.catalogue import eidr_id, load_films
from vodflow.sandbox.lumina import BadKind, deliberately_bad, malform, render_item
from vodflow.sandbox.store import LuminaStore

CONTRACT_KEYS = [
    "id",
    "type",
    "title",
    "original_title",
    "year",
    "runtime_min",
    "language",
    "genres",
    "rating",
    "identifiers",
    "directors",
    "countries",
    "updated_at",
]


@pytest.fixture(scope="module")
def items():
    return LuminaStore(2000).items()


def test_item_shape_is_the_contract():
    film = load_films()[0]
    item = render_item(film, eidr_id(film.imdb_id), datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    assert list(item) == CONTRACT_KEYS
    assert list(item["identifiers"]) == ["imdb", "eidr"]
    assert {k: v for k, v in item.items() if k != "identifiers"} == {
        "id": "LUM-000372",
        "type": "movie",
        "title": "We Live in Public",
        "original_title": None,
        "year": 2009,
        "runtime_min": 90,
        "language": "English",
        "genres": ["Documentary"],
        "rating": None,
        "directors": ["Ondi Timoner"],
        "countries": ["United States"],
        "updated_at": "2026-03-04T05:06:07Z",
    }
    assert item["identifiers"]["imdb"] == "tt0498329"


def test_language_is_the_first_one():
    film = next(f for f in load_films() if len(f.languages) > 1)
    item = render_item(film, eidr_id(film.imdb_id), datetime(2026, 1, 1, tzinfo=UTC))
    assert item["language"] == film.languages[0]


def test_eidr_imperfection_shares(items):
    bad = {b.id for b in deliberately_bad(2000)}
    values = [i["identifiers"]["eidr"] for i in items if i["id"] not in bad]
    nulls = sum(v is None for v in values)
    sloppy = [v for v in values if v is not None and v != check(v).normalised]
    assert 0.35 < nulls / len(items) < 0.45
    assert 0.03 < len(sloppy) / len(items) < 0.07
    for value in values:
        if value is not None:
            assert check(value).is_valid, value  # sloppy but valid once normalised
    kinds = Counter("doi" if v.startswith("doi:") else "lower" if v.startswith("10.5240/") else "bare" for v in sloppy)
    assert set(kinds) == {"doi", "lower", "bare"}
    assert all(kinds[k] >= 5 for k in kinds)


def test_nullable_fields_follow_the_source(items):
    assert sum(i["rating"] is None for i in items) > 1000
    assert 50 < sum(i["runtime_min"] is None for i in items) < 300


def test_deliberately_bad_items_each_kind_and_about_one_percent(items):
    bad = deliberately_bad(2000)
    assert len(bad) == 20
    assert Counter(b.kind for b in bad) == {kind: 4 for kind in BadKind}
    assert {b.kind for b in deliberately_bad(200)} == set(BadKind)
    assert len(deliberately_bad(5)) == 5


def breaks(item):
    """Which contract rules an item breaks, computed from its values (independently of the listing)."""
    found = set()
    if item["title"] == "":
        found.add(BadKind.EMPTY_TITLE)
    if item["runtime_min"] is not None and item["runtime_min"] < 0:
        found.add(BadKind.NEGATIVE_RUNTIME)
    if item["year"] is not None and item["year"] > 2026:
        found.add(BadKind.YEAR_3020)
    eidr = item["identifiers"]["eidr"]
    if eidr is not None and (check(eidr).reason or "").startswith("eidr_check_character"):
        found.add(BadKind.EIDR_CHECK_CHARACTER)
    if item["type"] != "movie":
        found.add(BadKind.UNKNOWN_TYPE)
    return found


def test_the_listing_matches_what_is_served(items):
    listed = {b.id: {b.kind} for b in deliberately_bad(2000)}
    observed = {i["id"]: breaks(i) for i in items if breaks(i)}
    assert observed == listed
    year_3020 = [i for i in items if i["id"] in listed and listed[i["id"]] == {BadKind.YEAR_3020}]
    assert all(i["year"] == 3020 for i in year_3020)
    assert all(i["type"] == "short-film" for i in items if listed.get(i["id"]) == {BadKind.UNKNOWN_TYPE})


def test_malform_breaks_every_item_but_keeps_id_and_cursor(items):
    page = items[:10]
    broken = malform(page)
    assert len(broken) == 10
    for before, after in zip(page, broken, strict=True):
        assert after != before
        assert (after["id"], after["updated_at"]) == (before["id"], before["updated_at"])
    assert broken[0]["title"] is None
    assert broken[1]["runtime_min"] == "90 min"
    assert broken[3]["genres"] == "Drama, Crime"
    assert broken[4]["identifiers"]["eidr"] == "not-an-eidr"
    assert page[0]["title"]  # the originals are untouched
