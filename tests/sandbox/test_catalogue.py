"""The film catalogue and its deterministic split between providers."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from vodflow.eidr.ids import format_id, is_valid
from vodflow.sandbox.catalogue import (
    REGIONS,
    WINDOW_END,
    WINDOW_START,
    eidr_id,
    load_films,
    lumina_split,
    permutation,
    region_films,
    spread_updated_at,
)


def test_all_films_load_once_in_id_order():
    films = load_films()
    assert len(films) == 17472
    ids = [film.source_id for film in films]
    assert ids == sorted(ids)
    assert ids[0] == 372
    assert load_films() is films  # cached


def test_source_columns_are_typed_and_split():
    film = load_films()[0]
    assert (film.imdb_id, film.title, film.year, film.runtime_min, film.rating) == (
        "tt0498329",
        "We Live in Public",
        2009,
        90,
        None,
    )
    gang_story = load_films()[1]
    assert gang_story.genres == ("Drama", "Crime")
    assert gang_story.countries == ("Belgium", "France")


def test_lumina_split_default_sizes_and_disjoint():
    split = lumina_split()
    assert len(split.catalogue) == 2000
    assert len(split.reserve) == 6000
    catalogue_ids = {film.source_id for film in split.catalogue}
    assert catalogue_ids.isdisjoint(film.source_id for film in split.reserve)
    region = split.catalogue + split.reserve
    assert len({film.imdb_id for film in region}) == len(region)  # no imdbID twice within one provider


def test_lumina_split_is_a_prefix_of_its_region_for_any_size():
    assert lumina_split(200).catalogue == lumina_split(2000).catalogue[:200]
    assert lumina_split(200).reserve[:1800] == lumina_split(2000).catalogue[200:]


@pytest.mark.parametrize("size", [0, -1, 6001])
def test_lumina_split_rejects_bad_sizes(size):
    with pytest.raises(ValueError, match="lumina size"):
        lumina_split(size)


def test_regions_own_slices_partition_the_permutation():
    owned = sorted(i for region in REGIONS.values() for i in region.own)
    assert owned == list(range(len(permutation())))


def test_harbor_and_meridian_overlap_lumina_on_purpose():
    lumina = {film.source_id for film in lumina_split(250).catalogue}
    harbor = {film.source_id for film in region_films("harbor")}
    meridian = {film.source_id for film in region_films("meridian")}
    assert len(harbor & lumina) == 150
    assert len(meridian & lumina) == 150
    assert len(harbor & meridian & lumina) == 50
    atlas = {film.source_id for film in region_films("atlas")}
    assert atlas.isdisjoint(lumina | harbor | meridian)


def test_eidr_id_is_derived_from_the_imdb_id():
    expected = format_id(hashlib.sha256(b"tt0498329").hexdigest().upper()[:20])
    assert eidr_id("tt0498329") == expected
    assert is_valid(expected)
    assert eidr_id("tt0498330") != expected


def test_updated_at_spread_covers_every_day_of_the_window():
    films = lumina_split().catalogue
    stamps = spread_updated_at(films, "lumina-updated")
    assert stamps == spread_updated_at(films, "lumina-updated")  # deterministic
    assert set(stamps) == {film.source_id for film in films}
    assert min(stamps.values()) >= WINDOW_START
    assert max(stamps.values()) <= WINDOW_END
    days = {stamp.date() for stamp in stamps.values()}
    first = datetime(2026, 1, 1, tzinfo=UTC).date()
    assert days == {first + timedelta(days=n) for n in range(304)}
    assert all(stamp.microsecond == 0 for stamp in stamps.values())
